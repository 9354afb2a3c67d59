package serviceaccount

import (
	"context"
	"crypto"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/auth"
)

// Getter reads the objects a token names, from the apiserver's caches.
// found is false when the object does not exist. Implementations must be
// safe for concurrent use.
type Getter interface {
	ServiceAccount(ctx context.Context, ns, name string) (sa *corev1.ServiceAccount, found bool, err error)
	Pod(ctx context.Context, ns, name string) (pod *corev1.Pod, found bool, err error)
	Secret(ctx context.Context, ns, name string) (secret *corev1.Secret, found bool, err error)
}

// Authenticator is the auth.TokenAuthenticator of ServiceAccount tokens.
// It claims a token (ok=true) when the token is a JWT whose iss is Issuer;
// it then refuses it unless the signature verifies with one of Keys, one
// of its audiences is in Audiences, it has not expired (and is not before
// its nbf), and the service account (and the pod or secret it is bound
// to) still exists with the uid the token names. It is safe for
// concurrent use.
type Authenticator struct {
	Issuer    string
	Audiences []string
	Keys      []crypto.PublicKey
	Objects   Getter
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ auth.TokenAuthenticator = (*Authenticator)(nil)

var validMethods = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}

// AuthenticateToken implements auth.TokenAuthenticator.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (auth.User, bool, error) {
	var peek Claims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &peek); err != nil || peek.Issuer != a.Issuer {
		return auth.User{}, false, nil
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	keys := make([]jwt.VerificationKey, len(a.Keys))
	for i, k := range a.Keys {
		keys[i] = k
	}
	var c Claims
	_, err := jwt.NewParser(
		jwt.WithValidMethods(validMethods),
		jwt.WithIssuer(a.Issuer),
		jwt.WithAudience(a.Audiences...),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(now),
	).ParseWithClaims(token, &c, func(*jwt.Token) (any, error) {
		return jwt.VerificationKeySet{Keys: keys}, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return auth.User{}, true, errors.New("service account token has expired")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return auth.User{}, true, errors.New("service account token is not for this audience")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return auth.User{}, true, errors.New("service account token is not valid yet")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return auth.User{}, true, errors.New("service account token signature is invalid")
	case err != nil:
		return auth.User{}, true, errors.New("service account token is invalid")
	}
	k := c.Kubernetes
	if ns, name, ok := auth.SplitServiceAccountUser(c.Subject); !ok || ns != k.Namespace || name != k.ServiceAccount.Name || k.ServiceAccount.UID == "" {
		return auth.User{}, true, errors.New("service account token claims are inconsistent")
	}
	if err := a.checkBound(ctx, k); err != nil {
		return auth.User{}, true, err
	}
	u := auth.User{
		Name:   c.Subject,
		UID:    k.ServiceAccount.UID,
		Groups: auth.ServiceAccountGroups(k.Namespace),
	}
	if k.Pod != nil {
		u.Extra = map[string][]string{PodNameExtra: {k.Pod.Name}, PodUIDExtra: {k.Pod.UID}}
	}
	return u, true, nil
}

// checkBound refuses a token whose service account, or bound pod or secret, was
// deleted (or deleted and made again: another uid).
func (a *Authenticator) checkBound(ctx context.Context, k KubernetesClaim) error {
	sa, found, err := a.Objects.ServiceAccount(ctx, k.Namespace, k.ServiceAccount.Name)
	if err != nil {
		return fmt.Errorf("looking up service account %s/%s: %w", k.Namespace, k.ServiceAccount.Name, err)
	}
	if !found || !sameUID(sa.GetMetadata().GetUid(), k.ServiceAccount.UID) {
		return fmt.Errorf("service account %s/%s has been deleted", k.Namespace, k.ServiceAccount.Name)
	}
	if k.Pod != nil {
		pod, found, err := a.Objects.Pod(ctx, k.Namespace, k.Pod.Name)
		if err != nil {
			return fmt.Errorf("looking up pod %s/%s: %w", k.Namespace, k.Pod.Name, err)
		}
		if !found || !sameUID(pod.GetMetadata().GetUid(), k.Pod.UID) {
			return fmt.Errorf("pod %s/%s the token is bound to has been deleted", k.Namespace, k.Pod.Name)
		}
	}
	if k.Secret != nil {
		sec, found, err := a.Objects.Secret(ctx, k.Namespace, k.Secret.Name)
		if err != nil {
			return fmt.Errorf("looking up secret %s/%s: %w", k.Namespace, k.Secret.Name, err)
		}
		if !found || !sameUID(sec.GetMetadata().GetUid(), k.Secret.UID) {
			return fmt.Errorf("secret %s/%s the token is bound to has been deleted", k.Namespace, k.Secret.Name)
		}
	}
	return nil
}

func sameUID(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
