package etcdserver_test

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"keel.dev/keel/pkg/etcdserver"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/storage"
)

// By default the member serves etcdctl on a socket inside its data
// directory, which only the directory's owner can traverse, and on no TCP
// port; it starts again over the socket a crashed member left behind.
func TestDefaultClientSocket(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etcd")
	start := func() *etcdserver.Server {
		t.Helper()
		s, err := etcdserver.Start(etcdserver.Options{DataDir: dir, UnsafeNoFsync: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := start()
	sock := etcdserver.DefaultSocket(dir)
	if want := "unix://" + sock; s.Endpoint != want {
		t.Fatalf("Endpoint = %q, want %q", s.Endpoint, want)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode %v, want 0700 (the socket is inside it)", perm)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Put(ctx, "/k", "v"); err != nil {
		t.Fatalf("put over the socket: %v", err)
	}
	c.Close()
	s.Close()

	// A socket file left behind (a member killed before it could remove
	// it) does not stop the next start.
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s = start()
	defer s.Close()
	c, err = clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Get(ctx, "/k")
	if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "v" {
		t.Fatalf("get after restart: %v %v", r, err)
	}
}

func TestClientURLRelativeSocketRefused(t *testing.T) {
	_, err := etcdserver.Start(etcdserver.Options{DataDir: t.TempDir(), ClientURL: "unix://etcd.sock"})
	if err == nil {
		t.Fatal("a relative socket path was accepted")
	}
}

// tlsMember starts a member serving clients on https:// with the
// certificates of `keelctl pki init` in dir.
func tlsMember(t *testing.T, pkiDir string) *etcdserver.Server {
	t.Helper()
	s, err := etcdserver.Start(etcdserver.Options{
		DataDir:       filepath.Join(t.TempDir(), "etcd"),
		ClientURL:     "https://127.0.0.1:0",
		ClientTLS:     etcdserver.ServingFiles(pkiDir),
		UnsafeNoFsync: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// An https:// member admits only clients with a certificate of etcd's CA:
// the apiserver's etcd client certificate works; no certificate, or one of
// the cluster CA (an admin's), fails the TLS handshake.
func TestTLSMemberRequiresEtcdClientCertificate(t *testing.T) {
	pkiDir := t.TempDir()
	if _, err := pki.Init(pki.InitOptions{Dir: pkiDir, Hostname: "localhost"}); err != nil {
		t.Fatal(err)
	}
	s := tlsMember(t, pkiDir)
	if !strings.HasPrefix(s.Endpoint, "https://127.0.0.1:") {
		t.Fatalf("Endpoint = %q, want https://127.0.0.1:PORT", s.Endpoint)
	}
	etcdCA := etcdserver.ServingFiles(pkiDir).TrustedCAFile

	tc, err := pki.ClientTLSConfig(etcdCA, pki.CertPath(pkiDir, pki.APIServerEtcdClientName), pki.KeyPath(pkiDir, pki.APIServerEtcdClientName), "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := storage.Dial([]string{s.Endpoint}, tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Put(ctx, "/k", "v"); err != nil {
		t.Fatalf("put with the apiserver-etcd-client certificate: %v", err)
	}

	addr := strings.TrimPrefix(s.Endpoint, "https://")
	for _, tt := range []struct{ name, cert, key string }{
		{"no certificate", "", ""},
		{"a cluster CA certificate", pki.CertPath(pkiDir, pki.AdminName), pki.KeyPath(pkiDir, pki.AdminName)},
	} {
		tc, err := pki.ClientTLSConfig(etcdCA, tt.cert, tt.key, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if err := handshake(addr, tc); err == nil {
			t.Errorf("%s: the member accepted the connection", tt.name)
		} else if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: error %v, want a TLS certificate error", tt.name, err)
		}
	}
}

// handshake connects and reads, so that the server's verdict on the client
// certificate (sent after the client's side of a TLS 1.3 handshake) arrives.
func handshake(addr string, tc *tls.Config) error {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, tc)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	_, err = conn.Read(make([]byte, 1))
	return err
}

// Plain http:// is refused, and so are TLS files that are missing or do not
// belong together; the refusal writes nothing.
func TestBadClientURLsAndTLSFilesRefused(t *testing.T) {
	pkiDir := t.TempDir()
	if _, err := pki.Init(pki.InitOptions{Dir: pkiDir, Hostname: "localhost"}); err != nil {
		t.Fatal(err)
	}
	etcdDir := filepath.Join(pkiDir, pki.EtcdDir)
	good := etcdserver.ServingFiles(pkiDir)
	wrongKey, noCA, missing := good, good, good
	wrongKey.KeyFile = pki.KeyPath(etcdDir, pki.EtcdPeerName)
	noCA.TrustedCAFile = ""
	missing.CertFile = filepath.Join(pkiDir, "nope.crt")
	for _, tt := range []struct {
		name string
		url  string
		tls  etcdserver.TLSFiles
		msg  string
	}{
		{"http", "http://127.0.0.1:0", etcdserver.TLSFiles{}, "plain http://"},
		{"http with TLS files", "http://127.0.0.1:0", good, "plain http://"},
		{"https without TLS files", "https://127.0.0.1:0", etcdserver.TLSFiles{}, "no serving certificate file"},
		{"https without a CA", "https://127.0.0.1:0", noCA, "no trusted CA file"},
		{"https with a missing certificate", "https://127.0.0.1:0", missing, "nope.crt"},
		{"https with another certificate's key", "https://127.0.0.1:0", wrongKey, "key"},
		{"unix socket with TLS files", "", good, "TLS files are for an https:// URL"},
	} {
		dataDir := filepath.Join(t.TempDir(), "etcd")
		_, err := etcdserver.Start(etcdserver.Options{DataDir: dataDir, ClientURL: tt.url, ClientTLS: tt.tls})
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.msg)
		}
		if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
			t.Errorf("%s: the data directory was created (%v)", tt.name, err)
		}
	}
}

// A single member opens no peer listener: two members run side by side,
// though both advertise the same peer URL (a listener on it would make the
// second fail to bind).
func TestNoPeerListener(t *testing.T) {
	for range 2 {
		s, err := etcdserver.Start(etcdserver.Options{DataDir: filepath.Join(t.TempDir(), "etcd"), UnsafeNoFsync: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
	}
}
