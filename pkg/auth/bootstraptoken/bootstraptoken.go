// Package bootstraptoken authenticates bootstrap tokens, as Kubernetes
// does: short-lived bearer tokens "ID.SECRET" kept in Secrets of type
// bootstrap.kubernetes.io/token named bootstrap-token-ID in kube-system,
// with which a new node's kubelet asks for its certificate.
package bootstraptoken

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/auth"
)

// Names and Secret keys of bootstrap tokens, with Kubernetes' values.
const (
	// SecretType is the type of a bootstrap token Secret.
	SecretType = "bootstrap.kubernetes.io/token"
	// Namespace holds the bootstrap token Secrets.
	Namespace = "kube-system"
	// SecretNamePrefix prefixes the token ID to name its Secret.
	SecretNamePrefix = "bootstrap-token-"

	KeyTokenID     = "token-id"
	KeyTokenSecret = "token-secret"
	// KeyExpiration is an RFC 3339 time after which the token is refused
	// (and the token cleaner deletes it); absent: it never expires.
	KeyExpiration = "expiration"
	// KeyUsageAuthentication must be "true" for the token to authenticate.
	KeyUsageAuthentication = "usage-bootstrap-authentication"
	// KeyExtraGroups is a comma-separated list of further groups, each
	// starting with GroupPrefix.
	KeyExtraGroups = "auth-extra-groups"

	// UserPrefix prefixes the token ID to form the user name.
	UserPrefix = "system:bootstrap:"
	// GroupPrefix starts every group a token may carry.
	GroupPrefix = "system:bootstrappers:"
	// Group is the group of every bootstrap token user.
	Group = "system:bootstrappers"
)

var (
	tokenRE = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)
	groupRE = regexp.MustCompile(`^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$`)
	idRE    = regexp.MustCompile(`^[a-z0-9]{6}$`)
)

// SecretName returns the name of the Secret of token id.
func SecretName(id string) string { return SecretNamePrefix + id }

// ParseToken splits a token "ID.SECRET" (ID 6 and SECRET 16 characters of
// [a-z0-9]); ok is false when token is not of that form.
func ParseToken(token string) (id, secret string, ok bool) {
	m := tokenRE.FindStringSubmatch(token)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// ValidID tells whether id is a token ID: 6 characters of [a-z0-9].
func ValidID(id string) bool { return idRE.MatchString(id) }

// Authenticator is an auth.TokenAuthenticator for bootstrap tokens. It
// claims every token of the form ID.SECRET and refuses one whose Secret is
// missing, of another type, holds another secret or ID, is expired or not
// marked for authentication. A valid token is user system:bootstrap:ID in
// system:bootstrappers and the Secret's auth-extra-groups.
type Authenticator struct {
	// Secret returns the Secret kube-system/name, or nil when there is none.
	// It must be safe for concurrent use.
	Secret func(name string) *corev1.Secret
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// AuthenticateToken implements auth.TokenAuthenticator.
func (a Authenticator) AuthenticateToken(_ context.Context, token string) (auth.User, bool, error) {
	id, secret, ok := ParseToken(token)
	if !ok {
		return auth.User{}, false, nil
	}
	// One error for every refusal of a well-formed token: which part was
	// wrong is not told to a caller that may be guessing.
	refused := errors.New("bootstrap token " + id + " is not valid")
	s := a.Secret(SecretName(id))
	if s == nil || s.GetType() != SecretType || s.GetMetadata().GetDeletionTimestamp() != nil {
		return auth.User{}, true, refused
	}
	data := s.GetData()
	if subtle.ConstantTimeCompare(data[KeyTokenSecret], []byte(secret)) != 1 || string(data[KeyTokenID]) != id {
		return auth.User{}, true, refused
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	if expired, err := Expired(s, now()); err != nil || expired {
		return auth.User{}, true, refused
	}
	if string(data[KeyUsageAuthentication]) != "true" {
		return auth.User{}, true, refused
	}
	extra, err := ExtraGroups(s)
	if err != nil {
		return auth.User{}, true, refused
	}
	return auth.User{Name: UserPrefix + id, Groups: append([]string{Group}, extra...)}, true, nil
}

// Expired tells whether the token Secret s has an expiration at or before
// now; an error when its expiration is not an RFC 3339 time.
func Expired(s *corev1.Secret, now time.Time) (bool, error) {
	v, ok := s.GetData()[KeyExpiration]
	if !ok {
		return false, nil
	}
	t, err := time.Parse(time.RFC3339, string(v))
	if err != nil {
		return false, fmt.Errorf("%s %q is not an RFC 3339 time", KeyExpiration, v)
	}
	return !now.Before(t), nil
}

// ExtraGroups returns the groups of s's auth-extra-groups; an error names
// one that does not start with system:bootstrappers: or is malformed.
func ExtraGroups(s *corev1.Secret) ([]string, error) {
	v := strings.TrimSpace(string(s.GetData()[KeyExtraGroups]))
	if v == "" {
		return nil, nil
	}
	var out []string
	for _, g := range strings.Split(v, ",") {
		g = strings.TrimSpace(g)
		if !groupRE.MatchString(g) {
			return nil, fmt.Errorf("%s: group %q must start with %q and hold only [a-z0-9:-]", KeyExtraGroups, g, GroupPrefix)
		}
		out = append(out, g)
	}
	return out, nil
}
