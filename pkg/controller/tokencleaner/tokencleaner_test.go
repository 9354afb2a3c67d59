package tokencleaner_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/auth/bootstraptoken"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/tokencleaner"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

func tokenSecret(name, typ, expiration string) *corev1.Secret {
	s := &corev1.Secret{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: bootstraptoken.Namespace},
		Type:     typ,
		Data:     map[string][]byte{},
	}
	if expiration != "" {
		s.Data[bootstraptoken.KeyExpiration] = []byte(expiration)
	}
	return s
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	deleting := tokenSecret("t", bootstraptoken.SecretType, at(-time.Hour))
	deleting.Metadata.DeletionTimestamp = timestamppb.New(now)
	for _, tc := range []struct {
		name   string
		s      *corev1.Secret
		remove bool
		after  time.Duration
	}{
		{"expired", tokenSecret("t", bootstraptoken.SecretType, at(-time.Second)), true, 0},
		{"expiring now", tokenSecret("t", bootstraptoken.SecretType, at(0)), true, 0},
		{"expires later", tokenSecret("t", bootstraptoken.SecretType, at(time.Hour)), false, time.Hour},
		{"never expires", tokenSecret("t", bootstraptoken.SecretType, ""), false, 0},
		{"unreadable expiration is kept", tokenSecret("t", bootstraptoken.SecretType, "soon"), false, 0},
		{"not a token", tokenSecret("t", "Opaque", at(-time.Hour)), false, 0},
		{"already being deleted", deleting, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			remove, after := tokencleaner.Decide(tc.s, now)
			if remove != tc.remove || after != tc.after {
				t.Fatalf("Decide = %v, %v; want %v, %v", remove, after, tc.remove, tc.after)
			}
		})
	}
}

// TestTokenCleaner runs the cleaner as the controller-manager (its
// certificate, its bootstrap role) against an RBAC apiserver: an expired
// token is deleted at once, one expiring soon when it expires; tokens that
// never expire and other Secrets stay.
func TestTokenCleaner(t *testing.T) {
	s := testserver.StartSecure(t, nil, nil)
	s.FailOnForbidden()
	cm := s.Client(pki.ControllerManagerName)
	admin := s.Client(pki.AdminName)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := informer.NewFactory(cm, 0)
	ctl := tokencleaner.New(cm, f, nil, nil)
	f.Start(ctx)
	done := make(chan struct{})
	go func() { ctl.Run(ctx, 1); close(done) }()
	t.Cleanup(func() { cancel(); <-done; f.Shutdown() })

	secrets := client.For[*corev1.Secret](admin, bootstraptoken.Namespace)
	now := time.Now()
	for _, sec := range []*corev1.Secret{
		tokenSecret("bootstrap-token-expird", bootstraptoken.SecretType, now.Add(-time.Minute).UTC().Format(time.RFC3339)),
		tokenSecret("bootstrap-token-soonxx", bootstraptoken.SecretType, now.Add(2*time.Second).UTC().Format(time.RFC3339)),
		tokenSecret("bootstrap-token-foreva", bootstraptoken.SecretType, ""),
		tokenSecret("not-a-token", "Opaque", now.Add(-time.Minute).UTC().Format(time.RFC3339)),
	} {
		if _, err := secrets.Create(ctx, sec, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(name string) func() error {
		return func() error {
			if _, err := secrets.Get(ctx, name); !apierrors.IsNotFound(err) {
				return errors.New(name + " still there")
			}
			return nil
		}
	}
	testutil.Eventually(t, 30*time.Second, "the expired token is deleted", gone("bootstrap-token-expird"))
	testutil.Eventually(t, 30*time.Second, "the token expiring soon is deleted when it expires", gone("bootstrap-token-soonxx"))
	for _, name := range []string{"bootstrap-token-foreva", "not-a-token"} {
		if _, err := secrets.Get(ctx, name); err != nil {
			t.Errorf("%s: %v, want it kept", name, err)
		}
	}
}
