package apiserver_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/auth/bootstraptoken"
	keelclient "keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// TestBootstrapTokenAuth: with --enable-bootstrap-token-auth a caller
// presenting the bearer token of a bootstrap token Secret is
// system:bootstrap:ID (RBAC then decides, and names that user); a wrong
// secret, an expired token, or one whose Secret is deleted is
// Unauthorized.
func TestBootstrapTokenAuth(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, func(cfg *apiserver.Config) { cfg.EnableBootstrapTokenAuth = true })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := keelclient.New(keelclient.Options{Servers: []string{s.Addr}, TLS: s.TLS(pki.AdminName), UserAgent: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	secrets := keelclient.For[*corev1.Secret](admin, bootstraptoken.Namespace)
	create := func(id, secret string, expires time.Time) {
		t.Helper()
		if _, err := secrets.Create(ctx, &corev1.Secret{
			Metadata: &metav1.ObjectMeta{Name: bootstraptoken.SecretName(id)},
			Type:     bootstraptoken.SecretType,
			Data: map[string][]byte{
				bootstraptoken.KeyTokenID:             []byte(id),
				bootstraptoken.KeyTokenSecret:         []byte(secret),
				bootstraptoken.KeyExpiration:          []byte(expires.UTC().Format(time.RFC3339)),
				bootstraptoken.KeyUsageAuthentication: []byte("true"),
			},
		}, keelclient.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create("abcdef", "0123456789abcdef", time.Now().Add(time.Hour))
	create("expird", "0123456789abcdef", time.Now().Add(-time.Minute))

	// as lists nodes with token and returns the error.
	caOnly, err := pki.ClientTLSConfig(pki.CertPath(s.PKIDir, pki.CAName), "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	as := func(token string) error {
		c, err := keelclient.New(keelclient.Options{Servers: []string{s.Addr}, TLS: caOnly, BearerToken: token, UserAgent: t.Name()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = c.Nodes().List(ctx, keelclient.ListOptions{})
		return err
	}
	testutil.Eventually(t, 30*time.Second, "the bootstrap token authenticates", func() error {
		err := as("abcdef.0123456789abcdef")
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "system:bootstrap:abcdef") {
			return errors.New("want Forbidden naming system:bootstrap:abcdef, got " + errString(err))
		}
		return nil
	})
	for _, token := range []string{"abcdef.0123456789abcdee", "expird.0123456789abcdef", "zzzzzz.0123456789abcdef", "not-a-token"} {
		if err := as(token); apierrors.ReasonOf(err) != apierrors.ReasonUnauthorized {
			t.Errorf("token %s: got %s, want Unauthorized", token, errString(err))
		}
	}
	if _, _, err := secrets.Delete(ctx, bootstraptoken.SecretName("abcdef"), keelclient.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "a deleted token is refused", func() error {
		if err := as("abcdef.0123456789abcdef"); apierrors.ReasonOf(err) != apierrors.ReasonUnauthorized {
			return errors.New("got " + errString(err))
		}
		return nil
	})
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
