package cmdutil_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/auth/serviceaccount"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
	"keel.dev/keel/pkg/pki"
)

// TestTokenFlag: --token authenticates keelctl as the token's
// ServiceAccount, replacing the context's client certificate (here the
// admin's), so RBAC refuses what the ServiceAccount may not do.
func TestTokenFlag(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := testserver.StartSecure(t, nil, func(cfg *apiserver.Config) { cfg.ServiceAccountKeys = []crypto.PublicKey{key.Public()} })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := s.Client(pki.AdminName)
	sa, err := client.For[*corev1.ServiceAccount](admin, "default").Create(ctx, &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "builder"}}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := serviceaccount.NewSigner(serviceaccount.DefaultIssuer, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := signer.Issue(serviceaccount.Request{Namespace: "default", ServiceAccountName: "builder",
		ServiceAccountUID: sa.GetMetadata().GetUid(), Audiences: []string{serviceaccount.DefaultIssuer}, Expiration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	conf := s.Kubeconfig(pki.AdminName)
	keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, "--config", conf, "get", "pods").OK(t)
	keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, "--config", conf, "--token", tok, "get", "pods").Fails(t,
		`User "system:serviceaccount:default:builder" cannot list resource "pods" in API group "" in the namespace "default"`)
}
