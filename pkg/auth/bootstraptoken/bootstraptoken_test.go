package bootstraptoken_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/auth/bootstraptoken"
)

// TestAuthenticateToken: a token ID.SECRET matching a live Secret marked
// for authentication is system:bootstrap:ID in system:bootstrappers and
// its extra groups; a well-formed token that does not match is refused
// (an error, no other authenticator asked); other tokens are not claimed.
func TestAuthenticateToken(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	secret := func(edit func(s *corev1.Secret)) *corev1.Secret {
		s := &corev1.Secret{
			Metadata: &metav1.ObjectMeta{Namespace: "kube-system", Name: "bootstrap-token-abcdef"},
			Type:     bootstraptoken.SecretType,
			Data: map[string][]byte{
				"token-id":                       []byte("abcdef"),
				"token-secret":                   []byte("0123456789abcdef"),
				"expiration":                     []byte(now.Add(time.Hour).Format(time.RFC3339)),
				"usage-bootstrap-authentication": []byte("true"),
			},
		}
		if edit != nil {
			edit(s)
		}
		return s
	}
	const token = "abcdef.0123456789abcdef"
	for _, tc := range []struct {
		name    string
		secret  *corev1.Secret
		token   string
		claimed bool
		user    string
		groups  []string
	}{
		{name: "valid", secret: secret(nil), token: token, claimed: true, user: "system:bootstrap:abcdef", groups: []string{"system:bootstrappers"}},
		{name: "extra groups", secret: secret(func(s *corev1.Secret) {
			s.Data["auth-extra-groups"] = []byte("system:bootstrappers:keel:default-node-token, system:bootstrappers:workers")
		}), token: token, claimed: true, user: "system:bootstrap:abcdef", groups: []string{"system:bootstrappers", "system:bootstrappers:keel:default-node-token", "system:bootstrappers:workers"}},
		{name: "no expiration never expires", secret: secret(func(s *corev1.Secret) { delete(s.Data, "expiration") }), token: token, claimed: true, user: "system:bootstrap:abcdef", groups: []string{"system:bootstrappers"}},
		{name: "expired", secret: secret(func(s *corev1.Secret) { s.Data["expiration"] = []byte(now.Add(-time.Second).Format(time.RFC3339)) }), token: token, claimed: true},
		{name: "expiring now", secret: secret(func(s *corev1.Secret) { s.Data["expiration"] = []byte(now.Format(time.RFC3339)) }), token: token, claimed: true},
		{name: "unparsable expiration", secret: secret(func(s *corev1.Secret) { s.Data["expiration"] = []byte("tomorrow") }), token: token, claimed: true},
		{name: "wrong secret", secret: secret(nil), token: "abcdef.0123456789abcdee", claimed: true},
		{name: "no secret for the ID", secret: secret(nil), token: "zzzzzz.0123456789abcdef", claimed: true},
		{name: "token-id disagrees with the name", secret: secret(func(s *corev1.Secret) { s.Data["token-id"] = []byte("ghijkl") }), token: token, claimed: true},
		{name: "not for authentication", secret: secret(func(s *corev1.Secret) { delete(s.Data, "usage-bootstrap-authentication") }), token: token, claimed: true},
		{name: "another Secret type", secret: secret(func(s *corev1.Secret) { s.Type = "Opaque" }), token: token, claimed: true},
		{name: "being deleted", secret: secret(func(s *corev1.Secret) { s.Metadata.DeletionTimestamp = timestamppb.New(now) }), token: token, claimed: true},
		{name: "extra group outside system:bootstrappers:", secret: secret(func(s *corev1.Secret) { s.Data["auth-extra-groups"] = []byte("system:masters") }), token: token, claimed: true},
		{name: "malformed: a JWT", secret: secret(nil), token: "eyJhbGciOi.eyJzdWIiOi.c2ln"},
		{name: "malformed: short secret", secret: secret(nil), token: "abcdef.0123"},
		{name: "malformed: upper case", secret: secret(nil), token: "ABCDEF.0123456789ABCDEF"},
		{name: "malformed: no dot", secret: secret(nil), token: "abcdef0123456789abcdef"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := bootstraptoken.Authenticator{
				Now: func() time.Time { return now },
				Secret: func(name string) *corev1.Secret {
					if name == tc.secret.Metadata.Name {
						return tc.secret
					}
					return nil
				},
			}
			u, claimed, err := a.AuthenticateToken(context.Background(), tc.token)
			if claimed != tc.claimed {
				t.Fatalf("claimed = %v, want %v", claimed, tc.claimed)
			}
			if tc.user == "" {
				if claimed && err == nil {
					t.Fatalf("token accepted as %+v, want refused", u)
				}
				if !claimed && err != nil {
					t.Fatalf("unclaimed token gave error %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if u.Name != tc.user || !slices.Equal(u.Groups, tc.groups) {
				t.Fatalf("user = %q %v, want %q %v", u.Name, u.Groups, tc.user, tc.groups)
			}
		})
	}
}
