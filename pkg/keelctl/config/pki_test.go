package config_test

import (
	"bytes"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"keel.dev/keel/pkg/keelctl/cmd"
	"keel.dev/keel/pkg/pki"
)

// keelctl runs the command tree in-process.
func keelctl(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cmd.Run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestPKIInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	code, out, errOut := keelctl(t, "pki", "init", "--dir", dir, "--hostname", "cp1",
		"--apiserver-san", "api.example.com,10.0.0.10", "--etcd-san", "etcd1,10.0.0.11", "--node", "worker1=10.0.0.21,fd00::21", "--node", "worker2")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	etcdDir := filepath.Join(dir, pki.EtcdDir)
	for _, p := range []string{pki.CertPath(etcdDir, pki.EtcdCAName), pki.CertPath(etcdDir, pki.EtcdServerName), pki.CertPath(etcdDir, pki.EtcdPeerName), pki.CertPath(dir, pki.APIServerEtcdClientName)} {
		if !strings.Contains(out, "created "+p+"\n") {
			t.Errorf("output lacks %q:\n%s", "created "+p, out)
		}
	}
	etcdCA, err := pki.LoadKeyPair(etcdDir, pki.EtcdCAName)
	if err != nil {
		t.Fatal(err)
	}
	etcdRoots := x509.NewCertPool()
	etcdRoots.AddCert(etcdCA.Cert)
	etcdServer, err := pki.LoadKeyPair(etcdDir, pki.EtcdServerName)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"localhost", "127.0.0.1", "cp1", "etcd1", "10.0.0.11"} {
		if _, err := etcdServer.Cert.Verify(x509.VerifyOptions{Roots: etcdRoots, DNSName: host}); err != nil {
			t.Errorf("etcd server certificate for %s: %v", host, err)
		}
	}
	for _, name := range []string{"ca", "apiserver", "admin", "scheduler", "controller-manager", "proxy",
		"apiserver-kubelet-client", "kubelet-worker1-client", "kubelet-worker1-serving", "kubelet-worker2-client", "kubelet-worker2-serving"} {
		for _, p := range []string{pki.CertPath(dir, name), pki.KeyPath(dir, name)} {
			if !strings.Contains(out, "created "+p+"\n") {
				t.Errorf("output lacks %q:\n%s", "created "+p, out)
			}
		}
	}
	if strings.Contains(out, "kept") || errOut != "" {
		t.Errorf("first run: stdout %q, stderr %q", out, errOut)
	}

	ca, err := pki.LoadKeyPair(dir, pki.CAName)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	api, err := pki.LoadKeyPair(dir, pki.APIServerName)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"localhost", "cp1", "api.example.com", "10.0.0.10", "127.0.0.1", "::1"} {
		if _, err := api.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("apiserver certificate for %s: %v", host, err)
		}
	}
	serving, err := pki.LoadKeyPair(dir, pki.KubeletServingName("worker1"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(serving.Cert.DNSNames, []string{"worker1"}) || len(serving.Cert.IPAddresses) != 2 ||
		!serving.Cert.IPAddresses[1].Equal(net.ParseIP("fd00::21")) {
		t.Errorf("worker1 serving SANs %q %v", serving.Cert.DNSNames, serving.Cert.IPAddresses)
	}

	// Re-running keeps everything and says so.
	before, _ := os.ReadFile(pki.CertPath(dir, pki.CAName))
	code, out, errOut = keelctl(t, "pki", "init", "--dir", dir, "--hostname", "cp1",
		"--apiserver-san", "api.example.com,10.0.0.10", "--node", "worker1=10.0.0.21,fd00::21", "--node", "worker2")
	if code != 0 || strings.Contains(out, "created") || !strings.Contains(out, "kept    "+pki.CertPath(dir, pki.CAName)+"\n") || errOut != "" {
		t.Errorf("second run: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if after, _ := os.ReadFile(pki.CertPath(dir, pki.CAName)); !bytes.Equal(before, after) {
		t.Error("second run changed ca.crt")
	}

	// A SAN the kept apiserver certificate lacks is a warning, not an error.
	code, _, errOut = keelctl(t, "pki", "init", "--dir", dir, "--hostname", "cp1", "--apiserver-san", "lb.example.com")
	if code != 0 || !strings.Contains(errOut, "warning: ") || !strings.Contains(errOut, "lb.example.com") {
		t.Errorf("new SAN: exit %d, stderr %q", code, errOut)
	}
}

func TestPKIIssue(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := keelctl(t, "pki", "init", "--dir", dir, "--hostname", "cp1"); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	code, out, errOut := keelctl(t, "pki", "issue", "--dir", dir, "--name", "alice", "--cn", "alice", "--group", "dev", "--group", "ops")
	if code != 0 {
		t.Fatalf("issue: exit %d, stderr %q", code, errOut)
	}
	if want := "created " + pki.CertPath(dir, "alice") + "\ncreated " + pki.KeyPath(dir, "alice") + "\n"; out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	alice, err := pki.LoadKeyPair(dir, "alice")
	if err != nil {
		t.Fatal(err)
	}
	c := alice.Cert
	if c.Subject.CommonName != "alice" || !slices.Equal(c.Subject.Organization, []string{"dev", "ops"}) ||
		!slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("alice: subject %v, usages %v", c.Subject, c.ExtKeyUsage)
	}

	code, _, errOut = keelctl(t, "pki", "issue", "--dir", dir, "--name", "web", "--cn", "web", "--server", "--client", "--san", "web.example,10.1.1.1")
	if code != 0 {
		t.Fatalf("issue --server: exit %d, stderr %q", code, errOut)
	}
	web, err := pki.LoadKeyPair(dir, "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(web.Cert.ExtKeyUsage) != 2 || !slices.Equal(web.Cert.DNSNames, []string{"web.example"}) || len(web.Cert.IPAddresses) != 1 {
		t.Errorf("web: usages %v, SANs %v %v", web.Cert.ExtKeyUsage, web.Cert.DNSNames, web.Cert.IPAddresses)
	}
}

func TestPKIErrors(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := keelctl(t, "pki", "init", "--dir", dir, "--hostname", "cp1"); code != 0 {
		t.Fatalf("init: %s", errOut)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"init without dir", []string{"pki", "init"}, `"dir" not set`},
		{"bad node", []string{"pki", "init", "--dir", dir, "--node", "Bad_Name"}, "--node: invalid node name"},
		{"bad node IP", []string{"pki", "init", "--dir", dir, "--node", "n1=nope"}, "is not an IP address"},
		{"bad SAN", []string{"pki", "init", "--dir", dir, "--apiserver-san", "a b"}, "invalid subject alternative name"},
		{"issue existing", []string{"pki", "issue", "--dir", dir, "--name", "admin", "--cn", "x"}, "already exists"},
		{"issue without CA", []string{"pki", "issue", "--dir", t.TempDir(), "--name", "x", "--cn", "x"}, "loading the CA"},
		{"server without SAN", []string{"pki", "issue", "--dir", dir, "--name", "s", "--cn", "s", "--server"}, "--server needs at least one --san"},
		{"bad name", []string{"pki", "issue", "--dir", dir, "--name", "../x", "--cn", "x"}, "invalid certificate name"},
		{"unknown flag", []string{"pki", "init", "--bogus"}, "unknown flag: --bogus"},
		{"unknown command", []string{"bogus"}, `unknown command "bogus"`},
		{"stray argument", []string{"pki", "init", "--dir", dir, "extra"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := keelctl(t, tt.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.HasPrefix(errOut, "error: ") || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr %q, want an \"error: \" line containing %q", errOut, tt.wantErr)
			}
			if strings.Contains(errOut, "Usage:") {
				t.Errorf("usage printed on error: %q", errOut)
			}
		})
	}
	if _, err := os.Stat(pki.CertPath(dir, "s")); err == nil {
		t.Error("a failed issue wrote a file")
	}
}
