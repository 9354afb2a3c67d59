// Package daemontest holds what the daemons' binary tests share: building
// the binary (Main), starting and stopping it (Start), collecting its
// output, free loopback ports, expecting a refused start, and checking a
// shipped systemd unit against the built binary.
package daemontest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"keel.dev/keel/pkg/daemon"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// Output collects a process's stdout and stderr for failure messages; safe
// for concurrent use.
type Output struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// FreePorts returns n distinct loopback addresses whose ports were free a
// moment ago: all are held open together, so no two are the same.
func FreePorts(t testing.TB, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out[i] = l.Addr().String()
	}
	return out
}

// ExitsWith runs binary with args and fails the test unless it exits with
// an error whose output contains want.
func ExitsWith(t testing.TB, binary, want string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
	if err == nil {
		t.Fatalf("%v: succeeded, want failure with %q", args, want)
	}
	if !strings.Contains(string(out), want) {
		t.Fatalf("%v: output %q lacks %q", args, out, want)
	}
}

// VerifyUnit checks a shipped systemd unit with systemd-analyze verify,
// with its ExecStart pointed at the binary just built (systemd-analyze
// checks that it exists). The unit must start /usr/local/bin/<name of
// binary>; any warning fails the test.
func VerifyUnit(t testing.TB, unitFile, binary string) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testutil.Missing(t, "systemd-analyze is not installed (Debian package systemd); the unit is not verified")
	}
	unit, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), filepath.Base(unitFile))
	text := strings.Replace(string(unit), "/usr/local/bin/"+filepath.Base(binary), binary, 1)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// Kubeconfig writes a client configuration reaching the apiservers at
// servers (host:port) in plain text, and returns its path (in a temporary
// directory removed with the test).
func Kubeconfig(t testing.TB, servers ...string) string {
	t.Helper()
	quoted := make([]string, len(servers))
	for i, s := range servers {
		quoted[i] = fmt.Sprintf("%q", "http://"+s)
	}
	conf := "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    servers: [" + strings.Join(quoted, ", ") +
		"]\ncontexts:\n- name: test\n  context: {cluster: test}\ncurrent-context: test\n"
	path := filepath.Join(t.TempDir(), "client.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// KubeconfigTLS writes a client configuration reaching the apiservers at
// servers (host:port) over TLS as the key pair keyPair of the PKI in
// pkiDir (see pki.Init: pki.SchedulerName, pki.AdminName…), trusting its
// CA, and returns its path (in a temporary directory removed with the
// test). kubectl reads it too.
func KubeconfigTLS(t testing.TB, pkiDir, keyPair string, servers ...string) string {
	t.Helper()
	quoted := make([]string, len(servers))
	for i, s := range servers {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	conf := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q, servers: [%s], certificate-authority: %q}
users:
- name: %s
  user: {client-certificate: %q, client-key: %q}
contexts:
- name: test
  context: {cluster: test, user: %s}
current-context: test
`, "https://"+servers[0], strings.Join(quoted, ", "), pki.CertPath(pkiDir, pki.CAName), keyPair, pki.CertPath(pkiDir, keyPair), pki.KeyPath(pkiDir, keyPair), keyPair)
	path := filepath.Join(t.TempDir(), keyPair+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ShippedConfig applies a shipped example config file to fs with the
// daemon's own parser and checks that every flag in want ends up with its
// value there.
func ShippedConfig(t testing.TB, fs *pflag.FlagSet, path string, want map[string]string) {
	t.Helper()
	if err := daemon.ApplyConfigFile(fs, path); err != nil {
		t.Fatalf("the example config %s is not accepted: %v", path, err)
	}
	for flag, v := range want {
		if got := fs.Lookup(flag).Value.String(); got != v {
			t.Errorf("%s = %q after the example config %s, want %q", flag, got, path, v)
		}
	}
}
