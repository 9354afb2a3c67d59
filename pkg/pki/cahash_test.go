package pki_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/pki"
)

// TestDiscoverCA: a server whose certificate the cluster CA signed
// presents that CA, which a client finds by its hash alone; a wrong hash
// or another CA's server is refused.
func TestDiscoverCA(t *testing.T) {
	serve := func(ca *pki.KeyPair) string {
		leaf, err := pki.Issue(ca, pki.CertSpec{CommonName: "apiserver", IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
		if err != nil {
			t.Fatal(err)
		}
		keyPEM, _ := leaf.KeyPEM()
		cfg, err := pki.ServerTLSConfigFromPEM(leaf.CertPEM(), keyPEM, ca.CertPEM())
		if err != nil {
			t.Fatal(err)
		}
		cfg.ClientAuth = tls.NoClientCert
		l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() { c.(*tls.Conn).Handshake(); c.Close() }()
			}
		}()
		return l.Addr().String()
	}
	ca, _ := pki.NewCA("cluster", time.Hour)
	other, _ := pki.NewCA("other", time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := serve(ca)
	got, err := pki.DiscoverCA(ctx, addr, pki.SPKIHash(ca.Cert))
	if err != nil || !got.Equal(ca.Cert) {
		t.Fatalf("DiscoverCA = %v, %v; want the cluster CA", got, err)
	}
	if _, err := pki.DiscoverCA(ctx, addr, pki.SPKIHash(other.Cert)); err == nil || !strings.Contains(err.Error(), "no CA certificate with hash") {
		t.Errorf("a wrong hash: %v", err)
	}
	if _, err := pki.DiscoverCA(ctx, addr, "sha256:abc"); err == nil {
		t.Errorf("a malformed hash is accepted")
	}
}
