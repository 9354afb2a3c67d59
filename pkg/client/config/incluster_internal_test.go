package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"keel.dev/keel/pkg/pki"
)

func TestInCluster(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	if _, err := inCluster(dir); !errors.Is(err, ErrNotInCluster) {
		t.Fatalf("outside a pod: %v, want ErrNotInCluster", err)
	}
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
	t.Setenv("KUBERNETES_SERVICE_PORT", "443")
	if _, err := inCluster(dir); err == nil {
		t.Fatal("no token file: no error")
	}
	pkiDir := t.TempDir()
	if _, err := pki.Init(pki.InitOptions{Dir: pkiDir, Hostname: "localhost"}); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(pki.CertPath(pkiDir, pki.CAName))
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"token": "tok", "ca.crt": string(ca), "namespace": "team"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := inCluster(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Namespace != "team" || len(r.Servers) != 1 || r.Servers[0] != "10.96.0.1:443" || r.BearerTokenFile != filepath.Join(dir, "token") ||
		r.TLS == nil || r.TLS.RootCAs == nil || r.Insecure {
		t.Errorf("resolved %+v", r)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := inCluster(dir); err == nil {
		t.Error("a CA file without a certificate: no error")
	}
}
