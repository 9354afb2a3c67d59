package token_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/auth/bootstraptoken"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// TestToken: token create prints a join command pinning the cluster CA
// and a token the apiserver then authenticates as system:bootstrap:ID;
// token list shows it; token delete removes it; bad input changes nothing.
func TestToken(t *testing.T) {
	s := testserver.StartSecure(t, nil, func(cfg *apiserver.Config) { cfg.EnableBootstrapTokenAuth = true })
	conf := s.Kubeconfig(pki.AdminName)
	run := func(args ...string) keelctltest.Result {
		return keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, append([]string{"--config", conf}, args...)...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := s.Client(pki.AdminName)
	secrets := client.For[*corev1.Secret](admin, bootstraptoken.Namespace)
	count := func() int {
		l, err := secrets.List(ctx, client.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	before := count()

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"token", "create", "--ttl", "-1h"}, "--ttl must not be negative"},
		{[]string{"token", "create", "--groups", "system:masters"}, "must start with"},
		{[]string{"token", "delete", "NOPE!"}, "is not a bootstrap token ID"},
	} {
		run(bad.args...).Fails(t, bad.want)
	}
	if n := count(); n != before {
		t.Fatalf("bad input changed the Secrets: %d, had %d", n, before)
	}

	out := run("token", "create", "--ttl", "1h", "--description", "worker-1", "--print-join-command").OK(t)
	m := regexp.MustCompile(`^keel-kubelet --server (\S+) --token ([a-z0-9]{6})\.([a-z0-9]{16}) --ca-cert-hash (sha256:[0-9a-f]{64})\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("join command = %q", out)
	}
	if m[1] != s.Addr {
		t.Errorf("join server = %s, want %s", m[1], s.Addr)
	}
	caPEM, err := os.ReadFile(pki.CertPath(s.PKIDir, pki.CAName))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(caPEM)
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if want := pki.SPKIHash(ca); m[4] != want {
		t.Errorf("ca-cert-hash = %s, want the CA's %s", m[4], want)
	}
	id, tok := m[2], m[2]+"."+m[3]

	caOnly, err := pki.ClientTLSConfig(pki.CertPath(s.PKIDir, pki.CAName), "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	boot, err := client.New(client.Options{Servers: []string{s.Addr}, TLS: caOnly, BearerToken: tok})
	if err != nil {
		t.Fatal(err)
	}
	defer boot.Close()
	testutil.Eventually(t, 30*time.Second, "the new token authenticates", func() error {
		_, err := boot.Nodes().List(ctx, client.ListOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "system:bootstrap:"+id) {
			return errors.New("want Forbidden for system:bootstrap:" + id + ", got " + errText(err))
		}
		return nil
	})

	list := run("token", "list").OK(t)
	keelctltest.MustHaveLines(t, list, "TOKEN ", tok+" ")
	if !strings.Contains(list, "worker-1") || !strings.Contains(list, "authentication") {
		t.Errorf("token list lacks the description or usage:\n%s", list)
	}

	if out := run("token", "delete", tok).OK(t); !strings.Contains(out, id) {
		t.Errorf("token delete printed %q", out)
	}
	if _, err := secrets.Get(ctx, bootstraptoken.SecretName(id)); !apierrors.IsNotFound(err) {
		t.Errorf("after delete: %v, want NotFound", err)
	}
	run("token", "delete", id).Fails(t, "not found")
}

func errText(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
