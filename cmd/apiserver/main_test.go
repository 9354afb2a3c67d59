package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/app"
	"keel.dev/keel/pkg/daemon"
	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/etcdserver"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/scheme"
)

// These tests run the real keel-apiserver binary, built once.
var binary string

func TestMain(m *testing.M) { daemontest.Main(m, "keel-apiserver", &binary) }

type proc struct{ *daemontest.Proc }

// start runs the binary; the process is stopped at cleanup.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return &proc{daemontest.Start(t, binary, args...)}
}

// waitReady polls /readyz until it answers 200, the process exits, or 60s pass.
func (p *proc) waitReady(t *testing.T, httpAddr string) {
	t.Helper()
	p.WaitReady(t, "http://"+httpAddr+"/readyz", 60*time.Second)
}

type cluster struct {
	dir, pkiDir, secure, insecure, httpAddr string
	etcdClient                              string
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{dir: t.TempDir()}
	c.pkiDir = filepath.Join(c.dir, "pki")
	if _, err := pki.Init(pki.InitOptions{Dir: c.pkiDir}); err != nil {
		t.Fatal(err)
	}
	p := daemontest.FreePorts(t, 4)
	c.secure, c.insecure, c.httpAddr, c.etcdClient = p[0], p[1], p[2], p[3]
	return c
}

func (c *cluster) args(extra ...string) []string {
	return append([]string{
		"--data-dir", filepath.Join(c.dir, "etcd"),
		"--embedded-etcd-client-url", "https://" + c.etcdClient,
		"--embedded-etcd-cert-file", etcdserver.ServingFiles(c.pkiDir).CertFile,
		"--embedded-etcd-key-file", etcdserver.ServingFiles(c.pkiDir).KeyFile,
		"--embedded-etcd-trusted-ca-file", etcdserver.ServingFiles(c.pkiDir).TrustedCAFile,
		"--secure-address", c.secure, "--insecure-address", c.insecure, "--http-address", c.httpAddr,
		"--tls-cert-file", pki.CertPath(c.pkiDir, pki.APIServerName), "--tls-private-key-file", pki.KeyPath(c.pkiDir, pki.APIServerName),
		"--client-ca-file", pki.CertPath(c.pkiDir, pki.CAName),
	}, extra...)
}

func (c *cluster) tlsConn(t *testing.T, user string) apiv1.APIClient {
	t.Helper()
	var cfg *tls.Config
	var err error
	if user == "" {
		cfg, err = pki.ClientTLSConfig(pki.CertPath(c.pkiDir, pki.CAName), "", "", "localhost")
	} else {
		cfg, err = pki.ClientTLSConfig(pki.CertPath(c.pkiDir, pki.CAName), pki.CertPath(c.pkiDir, user), pki.KeyPath(c.pkiDir, user), "localhost")
	}
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(c.secure, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return apiv1.NewAPIClient(conn)
}

func (c *cluster) plainConn(t *testing.T) apiv1.APIClient {
	t.Helper()
	conn, err := grpc.NewClient(c.insecure, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return apiv1.NewAPIClient(conn)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestTLSClientCertificatesAndLoopback(t *testing.T) {
	c := newCluster(t)
	p := start(t, c.args()...)
	p.waitReady(t, c.httpAddr)

	admin := c.tlsConn(t, pki.AdminName)
	list, err := admin.List(ctx(t), &apiv1.ListRequest{Resource: "namespaces"})
	if err != nil {
		t.Fatalf("admin over TLS: %v", err)
	}
	var names []string
	for _, a := range list.Items {
		m, _, _ := scheme.Unpack(a)
		names = append(names, scheme.Meta(m).Name)
	}
	if strings.Join(names, ",") != "default,kube-node-lease,kube-public,kube-system" {
		t.Errorf("namespaces at start = %v", names)
	}

	anon := c.tlsConn(t, "")
	_, err = anon.List(ctx(t), &apiv1.ListRequest{Resource: "namespaces"})
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("TLS without a client certificate: %v, want Unauthenticated naming the certificate", err)
	}

	plain := c.plainConn(t)
	obj, _ := scheme.Pack(&corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "cm", Namespace: "default"}, Data: map[string]string{"k": "v"}})
	if _, err := plain.Create(ctx(t), &apiv1.CreateRequest{Resource: "configmaps", Object: obj}); err != nil {
		t.Fatalf("create over the loopback listener: %v", err)
	}
	// The apiserver calls its member in process; the member still serves
	// its client URL, for etcdctl and backups, to holders of a certificate
	// of etcd's CA.
	etcdTLS, err := pki.ClientTLSConfig(etcdserver.ServingFiles(c.pkiDir).TrustedCAFile,
		pki.CertPath(c.pkiDir, pki.APIServerEtcdClientName), pki.KeyPath(c.pkiDir, pki.APIServerEtcdClientName), "")
	if err != nil {
		t.Fatal(err)
	}
	ec, err := clientv3.New(clientv3.Config{Endpoints: []string{"https://" + c.etcdClient}, TLS: etcdTLS, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	if kv, err := ec.Get(ctx(t), "/keel/configmaps/default/cm"); err != nil || kv.Count != 1 {
		t.Errorf("embedded etcd's client URL: %v, %v", kv, err)
	}

	// The plain port serves health only; /metrics is on the secure port,
	// for the admin's certificate.
	adminTLS, err := pki.ClientTLSConfig(pki.CertPath(c.pkiDir, pki.CAName), pki.CertPath(c.pkiDir, pki.AdminName), pki.KeyPath(c.pkiDir, pki.AdminName), "localhost")
	if err != nil {
		t.Fatal(err)
	}
	https := &http.Client{Transport: &http.Transport{TLSClientConfig: adminTLS}}
	defer https.CloseIdleConnections()
	for _, tt := range []struct {
		c         *http.Client
		url, want string
		code      int
	}{
		{http.DefaultClient, "http://" + c.httpAddr + "/healthz", "ok", 200},
		{http.DefaultClient, "http://" + c.httpAddr + "/readyz?verbose", "[+]etcd ok", 200},
		{http.DefaultClient, "http://" + c.httpAddr + "/metrics", "", 404},
		{http.DefaultClient, "http://" + c.httpAddr + "/debug/pprof/", "", 404},
		{https, "https://" + c.secure + "/metrics", `keel_apiserver_request_total{code="OK",resource="configmaps",verb="create"} 1`, 200},
		{https, "https://" + c.secure + "/readyz?verbose", "[+]api-listeners ok", 200},
	} {
		resp, err := tt.c.Get(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code || !strings.Contains(string(body), tt.want) {
			t.Errorf("GET %s: %d, want %d with %q", tt.url, resp.StatusCode, tt.code, tt.want)
		}
	}

	// A restart on the same data directory keeps every object.
	p.Stop(t)
	p = start(t, c.args()...)
	p.waitReady(t, c.httpAddr)
	got, err := c.plainConn(t).Get(ctx(t), &apiv1.GetRequest{Resource: "configmaps", Namespace: "default", Name: "cm"})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	m, _, _ := scheme.Unpack(got)
	if m.(*corev1.ConfigMap).GetData()["k"] != "v" {
		t.Errorf("after restart: %v", m)
	}
}

// TestAuthorizationModes: RBAC by default, under which the scheduler's
// certificate lists pods (its bootstrap role) but not secrets; AlwaysAllow
// only when named, with a warning in the log.
func TestAuthorizationModes(t *testing.T) {
	c := newCluster(t)
	p := start(t, c.args()...)
	p.waitReady(t, c.httpAddr)
	sched := c.tlsConn(t, pki.SchedulerName)
	if _, err := sched.List(ctx(t), &apiv1.ListRequest{Resource: "pods"}); err != nil {
		t.Errorf("the scheduler listing pods: %v", err)
	}
	_, err := sched.List(ctx(t), &apiv1.ListRequest{Resource: "secrets"})
	if want := `User "system:kube-scheduler" cannot list resource "secrets"`; status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), want) {
		t.Errorf("the scheduler listing secrets: %v, want PermissionDenied with %q", err, want)
	}
	if strings.Contains(p.Out.String(), "AlwaysAllow") {
		t.Errorf("a warning about AlwaysAllow without it:\n%s", p.Out.String())
	}
	p.Stop(t)

	p = start(t, c.args("--authorization-mode", "AlwaysAllow")...)
	p.waitReady(t, c.httpAddr)
	if _, err := c.tlsConn(t, pki.SchedulerName).List(ctx(t), &apiv1.ListRequest{Resource: "secrets"}); err != nil {
		t.Errorf("the scheduler listing secrets under AlwaysAllow: %v", err)
	}
	if !strings.Contains(p.Out.String(), "--authorization-mode includes AlwaysAllow: every authenticated caller may do anything") {
		t.Errorf("no warning about AlwaysAllow in the log:\n%s", p.Out.String())
	}
}

func TestConfigFile(t *testing.T) {
	c := newCluster(t)
	cfg := filepath.Join(c.dir, "apiserver.yaml")
	// The file sets the NodePort range; the command line sets the rest.
	if err := os.WriteFile(cfg, []byte("service-node-port-range: 31000-31000\nlog-level: warn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, c.args("--config", cfg)...)
	p.waitReady(t, c.httpAddr)
	svc := &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "s", Namespace: "default"},
		Spec: &corev1.ServiceSpec{Type: "NodePort", Ports: []*corev1.ServicePort{{Port: 80}}}}
	obj, _ := scheme.Pack(svc)
	out, err := c.plainConn(t).Create(ctx(t), &apiv1.CreateRequest{Resource: "services", Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	m, _, _ := scheme.Unpack(out)
	if port := m.(*corev1.Service).GetSpec().GetPorts()[0].GetNodePort(); port != 31000 {
		t.Fatalf("nodePort %d, want 31000 from the config file's range", port)
	}

	bad := filepath.Join(c.dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("service-node-port-rang: 1-2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	daemontest.ExitsWith(t, binary, `unknown setting "service-node-port-rang"`, "--config", bad)
}

func TestRefusesUnsafeOrIncompleteSetup(t *testing.T) {
	dir := t.TempDir()
	daemontest.ExitsWith(t, binary, "--secure-address needs --tls-cert-file", "--data-dir", dir)
	p := daemontest.FreePorts(t, 4)
	daemontest.ExitsWith(t, binary, "loopback", "--data-dir", dir, "--secure-address", "", "--insecure-address", "0.0.0.0:"+strings.Split(p[0], ":")[1])
	daemontest.ExitsWith(t, binary, "--service-cluster-ip-range", "--data-dir", dir, "--secure-address", "", "--insecure-address", p[1],
		"--http-address", p[2], "--service-cluster-ip-range", "10.96.0.0/33")
	// etcd only over mutual TLS (or the embedded member's private socket).
	daemontest.ExitsWith(t, binary, "plain http://", "--data-dir", dir, "--secure-address", "", "--insecure-address", p[1],
		"--http-address", p[2], "--embedded-etcd-client-url", "http://"+p[3])
	daemontest.ExitsWith(t, binary, "https:// --etcd-servers need --etcd-cafile", "--secure-address", "", "--insecure-address", p[1],
		"--etcd-servers", "https://"+p[3])
	// Unreadable TLS files stop the start before etcd's data directory is
	// made.
	etcdDir := filepath.Join(dir, "new-etcd")
	missing := filepath.Join(dir, "missing.crt")
	daemontest.ExitsWith(t, binary, "--embedded-etcd-trusted-ca-file: open "+missing, "--data-dir", etcdDir, "--secure-address", "", "--insecure-address", p[1],
		"--embedded-etcd-client-url", "https://"+p[3], "--embedded-etcd-cert-file", missing, "--embedded-etcd-key-file", missing, "--embedded-etcd-trusted-ca-file", missing)
	if _, err := os.Stat(etcdDir); !os.IsNotExist(err) {
		t.Errorf("etcd's data directory exists after a refused start (%v)", err)
	}
}

// TestKubeletClientFlags: an incomplete set of kubelet client flags stops
// the start with the problem named (pkg/apiserver/app tests every case).
func TestKubeletClientFlags(t *testing.T) {
	daemontest.ExitsWith(t, binary, "--kubelet-client-certificate and --kubelet-client-key go together",
		"--data-dir", t.TempDir(), "--secure-address", "", "--insecure-address", daemontest.FreePorts(t, 1)[0],
		"--kubelet-client-certificate", filepath.Join(t.TempDir(), "kubelet-client.crt"))
}

func TestShippedConfigAndUnit(t *testing.T) {
	cmd := app.NewCommand()
	if err := daemon.ApplyConfigFile(cmd.Flags(), "../../manifests/systemd/apiserver.yaml"); err != nil {
		t.Fatalf("the example config is not accepted: %v", err)
	}
	if got := cmd.Flags().Lookup("client-ca-file").Value.String(); got != "/etc/keel/pki/ca.crt" {
		t.Errorf("client-ca-file = %q after the example config", got)
	}

	daemontest.VerifyUnit(t, "../../manifests/systemd/keel-apiserver.service", binary)
}
