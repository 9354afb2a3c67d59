package clientbuilder

import (
	"crypto/tls"
	"strings"
	"testing"

	"keel.dev/keel/pkg/client"
)

// TestNew: the controllers' tokens are never sent in plain text, and the
// controllers' connections carry no client certificate or other token
// (either would authenticate them as the controller-manager).
func TestNew(t *testing.T) {
	if _, err := New(nil, client.Options{Servers: []string{"127.0.0.1:6443"}, Insecure: true}, nil); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("plain text: %v, want an error naming TLS", err)
	}
	own := &tls.Config{Certificates: []tls.Certificate{{}}, ServerName: "keel"}
	b, err := New(nil, client.Options{Servers: []string{"127.0.0.1:6443"}, TLS: own, BearerTokenFile: "/token", UserAgent: "keel-controller-manager"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.opts.TLS.Certificates) != 0 || b.opts.TLS.ServerName != "keel" || b.opts.BearerTokenFile != "" || len(own.Certificates) != 1 {
		t.Errorf("controllers connect with %+v (the controller-manager's TLS now %d certificates)", b.opts, len(own.Certificates))
	}
	if _, err := b.Client("replicaset-controller"); err != nil {
		t.Fatal(err)
	}
	b.Close()
}
