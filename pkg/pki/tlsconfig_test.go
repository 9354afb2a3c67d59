package pki

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// handshakeServer accepts TLS connections with cfg on a loopback port and
// reports each server-side handshake result on the returned channel; after a
// successful handshake it writes "ok" and closes the connection.
func handshakeServer(t *testing.T, cfg *tls.Config) (addr string, results <-chan error) {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan error, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				err := c.(*tls.Conn).Handshake()
				if err == nil {
					_, err = c.Write([]byte("ok"))
				}
				ch <- err
			}()
		}
	}()
	return l.Addr().String(), ch
}

// exchange dials addr with cfg and reads the server's "ok". With TLS 1.3 a
// client learns that the server refused its certificate only when it reads.
func exchange(addr string, cfg *tls.Config) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	return nil
}

func TestTLSHandshake(t *testing.T) {
	dir := t.TempDir()
	mustInit(t, InitOptions{Dir: dir, Hostname: "cp1", Nodes: []Node{{Name: "node1"}}})
	otherDir := t.TempDir()
	mustInit(t, InitOptions{Dir: otherDir, Hostname: "cp1"})

	serverCfg, err := ServerTLSConfig(CertPath(dir, APIServerName), KeyPath(dir, APIServerName), CertPath(dir, CAName))
	if err != nil {
		t.Fatal(err)
	}
	if serverCfg.MinVersion != tls.VersionTLS12 || serverCfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("server config MinVersion=%x ClientAuth=%v", serverCfg.MinVersion, serverCfg.ClientAuth)
	}
	addr, results := handshakeServer(t, serverCfg)

	client := func(t *testing.T, caDir, pairDir, pair, serverName string) *tls.Config {
		t.Helper()
		certFile, keyFile := "", ""
		if pair != "" {
			certFile, keyFile = CertPath(pairDir, pair), KeyPath(pairDir, pair)
		}
		cfg, err := ClientTLSConfig(CertPath(caDir, CAName), certFile, keyFile, serverName)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	tests := []struct {
		name         string
		cfg          func(t *testing.T) *tls.Config
		ok           bool
		serverSeesIt bool // the server's handshake runs (the client trusted it)
	}{
		{"admin cert", func(t *testing.T) *tls.Config { return client(t, dir, dir, AdminName, "localhost") }, true, true},
		{"kubelet client cert by IP", func(t *testing.T) *tls.Config { return client(t, dir, dir, KubeletClientName("node1"), "127.0.0.1") }, true, true},
		{"no client cert", func(t *testing.T) *tls.Config { return client(t, dir, "", "", "localhost") }, false, true},
		{"cert from another CA", func(t *testing.T) *tls.Config { return client(t, dir, otherDir, AdminName, "localhost") }, false, true},
		{"server-only cert as client", func(t *testing.T) *tls.Config { return client(t, dir, dir, KubeletServingName("node1"), "localhost") }, false, true},
		{"server not trusted", func(t *testing.T) *tls.Config { return client(t, otherDir, dir, AdminName, "localhost") }, false, false},
		{"wrong server name", func(t *testing.T) *tls.Config { return client(t, dir, dir, AdminName, "elsewhere.example") }, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := exchange(addr, tt.cfg(t))
			if (err == nil) != tt.ok {
				t.Errorf("client: err=%v, want ok=%v", err, tt.ok)
			}
			// The server's own verdict (when the client did not give up first).
			serverErr := <-results
			if tt.serverSeesIt && (serverErr == nil) != tt.ok {
				t.Errorf("server: err=%v, want ok=%v", serverErr, tt.ok)
			}
		})
	}
}

func TestTLSConfigFromPEM(t *testing.T) {
	dir := t.TempDir()
	mustInit(t, InitOptions{Dir: dir, Hostname: "cp1"})
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	caPEM := read(CertPath(dir, CAName))
	srvCfg, err := ServerTLSConfigFromPEM(read(CertPath(dir, APIServerName)), read(KeyPath(dir, APIServerName)), caPEM)
	if err != nil {
		t.Fatal(err)
	}
	addr, results := handshakeServer(t, srvCfg)
	cliCfg, err := ClientTLSConfigFromPEM(caPEM, read(CertPath(dir, AdminName)), read(KeyPath(dir, AdminName)), "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := exchange(addr, cliCfg); err != nil {
		t.Errorf("handshake with PEM configs: %v", err)
	}
	if err := <-results; err != nil {
		t.Errorf("server: %v", err)
	}

	if _, err := ClientTLSConfigFromPEM(caPEM, read(CertPath(dir, AdminName)), nil, ""); err == nil {
		t.Error("client config with a certificate but no key succeeded")
	}
	if _, err := ClientTLSConfigFromPEM([]byte("nope"), nil, nil, ""); err == nil {
		t.Error("client config without CA succeeded")
	}
	if _, err := ServerTLSConfigFromPEM(read(CertPath(dir, APIServerName)), read(KeyPath(dir, AdminName)), caPEM); err == nil {
		t.Error("server config with a mismatched key succeeded")
	}
	if _, err := ServerTLSConfig(CertPath(dir, APIServerName), KeyPath(dir, APIServerName), CertPath(dir, "missing")); err == nil {
		t.Error("server config without client CA file succeeded")
	}
}
