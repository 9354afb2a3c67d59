package client_test

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/config"
	"keel.dev/keel/pkg/client/internal/clienttest"
	"keel.dev/keel/pkg/pki"
)

// TestTLSFromConfig connects through a configuration file to two TLS
// apiservers, verifying each against the SANs of its certificate.
func TestTLSFromConfig(t *testing.T) {
	ca, err := pki.NewCA("keel-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := pki.Issue(ca, pki.CertSpec{CommonName: "keel-apiserver", DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pki.Issue(ca, pki.CertSpec{CommonName: "admin", Organization: []string{"system:masters"}, Client: true})
	if err != nil {
		t.Fatal(err)
	}
	servingKey, _ := serving.KeyPEM()
	adminKey, _ := admin.KeyPEM()
	serverTLS, err := pki.ServerTLSConfigFromPEM(serving.CertPEM(), servingKey, ca.CertPEM())
	if err != nil {
		t.Fatal(err)
	}

	etcd := testserver.StartEtcd(t)
	a := testserver.StartWith(t, etcd.Endpoint, testserver.Options{TLS: serverTLS.Clone()})
	b := testserver.StartWith(t, etcd.Endpoint, testserver.Options{TLS: serverTLS.Clone()})
	_, bPort, _ := net.SplitHostPort(b.Addr)

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ca.crt"), ca.CertPEM(), 0o600)
	os.WriteFile(filepath.Join(dir, "admin.crt"), admin.CertPEM(), 0o600)
	os.WriteFile(filepath.Join(dir, "admin.key"), adminKey, 0o600)
	cfg := &config.Config{CurrentContext: "test"}
	// b is reached by name: its certificate is valid for localhost too.
	cfg.SetCluster("test", config.Cluster{Servers: []string{a.Addr, "https://localhost:" + bPort}, CertificateAuthority: "ca.crt"})
	cfg.SetCluster("wrong-name", config.Cluster{Servers: []string{a.Addr}, CertificateAuthority: "ca.crt", TLSServerName: "api.example.com"})
	cfg.SetUser("admin", config.User{ClientCertificate: "admin.crt", ClientKey: "admin.key"})
	cfg.SetContext("test", config.Context{Cluster: "test", User: "admin", Namespace: "kube-system"})
	cfg.SetContext("wrong-name", config.Context{Cluster: "wrong-name", User: "admin"})
	path := filepath.Join(dir, "config")
	if err := cfg.Save(path); err != nil {
		t.Fatal(err)
	}

	t.Setenv(config.EnvVar, path)
	c, err := client.FromConfig("", "", "tls-test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Namespace() != "kube-system" {
		t.Errorf("namespace %q", c.Namespace())
	}
	ctx := clienttest.Context(t, 30*time.Second)
	for i := 0; i < 10; i++ { // round robin: both servers answer
		if _, err := c.Namespaces().Get(ctx, "default"); err != nil {
			t.Fatalf("call %d over TLS: %v", i, err)
		}
	}
	a.Stop()
	for i := 0; i < 10; i++ {
		if _, err := c.Namespaces().Get(ctx, "default"); err != nil {
			t.Fatalf("call %d after stopping a: %v", i, err)
		}
	}

	// A name the certificate does not cover fails the handshake.
	a.Start()
	bad, err := client.FromConfig(path, "wrong-name", "tls-test")
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	_, err = bad.Namespaces().Get(ctx, "default")
	if !apierrors.IsUnavailable(err) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("wrong server name: %v", err)
	}

	// The plain-text form is refused for non-loopback servers.
	if _, err := client.New(client.Options{Servers: []string{"10.0.0.1:6080"}, Insecure: true}); err == nil {
		t.Fatal("plain text to a non-loopback address accepted")
	}
	if _, err := client.New(client.Options{Servers: []string{"127.0.0.1:6443"}, Insecure: true, TLS: &tls.Config{}}); err == nil {
		t.Fatal("both TLS and Insecure accepted")
	}
}

// TestUnhealthyServerLeavesRotation: an apiserver that is up but cut off
// from etcd reports NOT_SERVING, and the client sends everything, writes
// included (which are never retried), to the healthy one.
func TestUnhealthyServerLeavesRotation(t *testing.T) {
	fast := func(c *apiserver.Config) { c.HealthInterval = 100 * time.Millisecond }
	etcdA, etcdB := testserver.StartEtcd(t), testserver.StartEtcd(t)
	a := testserver.Start(t, etcdA.Endpoint, fast)
	b := testserver.Start(t, etcdB.Endpoint, fast)
	c := clienttest.Client(t, a.Addr, b.Addr)
	ctx := clienttest.Context(t, 60*time.Second)

	etcdA.Stop()
	health := healthpb.NewHealthClient(a.Conn)
	clienttest.Eventually(t, 30*time.Second, func() bool {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING
	}, "apiserver A never reported NOT_SERVING with its etcd stopped")

	for i := range 10 {
		cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}}
		if _, err := c.ConfigMaps("default").Create(ctx, cm, client.CreateOptions{}); err != nil {
			t.Fatalf("create %d with one apiserver unhealthy: %v", i, err)
		}
	}
}
