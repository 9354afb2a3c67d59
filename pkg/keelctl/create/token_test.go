package create_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
	"keel.dev/keel/pkg/pki"
)

// TestCreateToken: create token prints a token that keelctl --token then
// uses as the service account; bad flags and unknown service accounts are
// refused naming the problem.
func TestCreateToken(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := testserver.StartSecure(t, nil, func(cfg *apiserver.Config) {
		cfg.ServiceAccountKeys = []crypto.PublicKey{key.Public()}
		cfg.ServiceAccountSigningKey = key
	})
	conf := s.Kubeconfig(pki.AdminName)
	run := func(args ...string) keelctltest.Result {
		return keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, append([]string{"--config", conf}, args...)...)
	}
	run("create", "serviceaccount", "builder").OK(t)
	tok := strings.TrimSpace(run("create", "token", "builder", "--duration", "20m").OK(t))
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("create token printed %q, want a JWT", tok)
	}
	out := run("--token", tok, "auth", "whoami").OK(t)
	keelctltest.MustHaveLines(t, out, "Username system:serviceaccount:default:builder")
	run("--token", tok, "get", "pods").Fails(t, `User "system:serviceaccount:default:builder" cannot list resource "pods"`)

	out = run("create", "token", "builder", "-o", "yaml", "--audience", "vault").OK(t)
	for _, want := range []string{"kind: TokenRequest", "- vault", "expirationSeconds: 3600", "token: "} {
		if !strings.Contains(out, want) {
			t.Errorf("create token -o yaml lacks %q:\n%s", want, out)
		}
	}
	run("create", "token", "builder", "-o", "wide").Fails(t, "allowed formats are: json,yaml")
	run("create", "token", "nobody").Fails(t, `serviceaccounts "nobody" not found`)
	run("create", "token", "builder", "--duration", "1m").Fails(t, "spec.expirationSeconds")
	run("create", "token", "builder", "--duration", "1.5s").Fails(t, "--duration must be an integer number of seconds")
	run("create", "token", "builder", "--bound-object-kind", "Node", "--bound-object-name", "n1").Fails(t, "supported --bound-object-kind values are Pod, Secret")
	run("create", "token", "builder", "--bound-object-kind", "Pod").Fails(t, "--bound-object-name is required")
	run("create", "token", "builder", "--bound-object-kind", "Pod", "--bound-object-name", "web").Fails(t, `pods "web" not found`)
}
