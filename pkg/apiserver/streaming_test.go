package apiserver_test

// Streaming sessions through the REST surface: the apiserver's Connect
// to a real kubelet server (pkg/kubelet/server, own PKI) whose runtime
// is a cri.Fake pointing at an echoing stand-in for the runtime's
// streaming server. The WebSocket v5 exec path to a real containerd is
// hack/e2e TestKubectlStreaming.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/audit"
	"keel.dev/keel/pkg/apiserver/testserver"
	keelclient "keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/kubelet/cri"
	kubeletserver "keel.dev/keel/pkg/kubelet/server"
	"keel.dev/keel/pkg/kubelet/server/streamtest"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

func TestStreamingSessions(t *testing.T) {
	kdir := t.TempDir() // the kubelet's PKI
	if _, err := pki.Init(pki.InitOptions{Dir: kdir, Hostname: "localhost", Nodes: []pki.Node{{Name: "node-1"}}}); err != nil {
		t.Fatal(err)
	}
	rt := cri.NewFake()
	up, _ := streamtest.EchoServer(t)
	rt.StreamURL = up.URL + "/session"
	ctx := context.Background()
	sbCfg := &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "ns", Uid: "u"}}
	sb, err := rt.RunPodSandbox(ctx, sbCfg, "")
	if err != nil {
		t.Fatal(err)
	}
	rt.AddImage("busybox")
	id, err := rt.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "app"}, Image: &runtimeapi.ImageSpec{Image: "busybox"}}, sbCfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	pods := &fakePods{ids: map[string]string{"default/web/app": id}, sandboxes: map[string]string{"default/web": sb}}
	serving := pki.KubeletServingName("node-1")
	stc, err := pki.ServerTLSConfig(pki.CertPath(kdir, serving), pki.KeyPath(kdir, serving), pki.CertPath(kdir, pki.CAName))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	kctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- kubeletserver.NewServer(kubeletserver.Config{TLS: stc, Pods: pods, Runtime: rt}).Serve(kctx, l)
	}()
	t.Cleanup(func() { stop(); <-done })

	policy, err := audit.ParsePolicy("policy.yaml", []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"))
	if err != nil {
		t.Fatal(err)
	}
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	out, err := audit.LogOptions{Path: auditLog}.Open()
	if err != nil {
		t.Fatal(err)
	}
	s := testserver.StartSecure(t, nil, func(cfg *apiserver.Config) {
		cfg.KubeletClientTLS = kubeletClientTLS(t, kdir, pki.APIServerKubeletClientName)
		cfg.Auditor = audit.NewAuditor(policy, audit.NewWriter(out, 0, nil), nil)
	})
	admin := s.Client(pki.AdminName)
	if _, err := keelclient.For[*corev1.Node](admin, "").Create(ctx, node("node-1", "127.0.0.1", int32(l.Addr().(*net.TCPAddr).Port)), keelclient.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := keelclient.For[*corev1.Pod](admin, "default").Create(ctx, podOn("default", "web", "node-1", "app"), keelclient.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// SPDY (kubectl before 1.31) reaches the runtime through the kubelet.
	for _, path := range []string{
		"/api/v1/namespaces/default/pods/web/exec?command=cat&stdin=true&stdout=true",
		"/api/v1/namespaces/default/pods/web/attach?container=app&stdout=true",
		"/api/v1/namespaces/default/pods/web/portforward",
	} {
		resp, conn, br := streamtest.Upgrade(t, s.Addr, s.TLS(pki.AdminName), path)
		if resp.StatusCode != http.StatusSwitchingProtocols {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s: %s %s", path, resp.Status, b)
		}
		streamtest.Echoes(t, path, conn, br)
	}

	// Port-forward as kubectl 1.31+ asks for it: SPDY tunnelled in
	// WebSocket.
	d := gwebsocket.Dialer{TLSClientConfig: s.TLS(pki.AdminName), Subprotocols: []string{"SPDY/3.1+portforward.k8s.io"}, HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.Dial("wss://"+s.Addr+"/api/v1/namespaces/default/pods/web/portforward", nil)
	if err != nil {
		t.Fatalf("WebSocket port-forward: %v (%v)", err, resp)
	}
	defer ws.Close()
	if err := ws.WriteMessage(gwebsocket.BinaryMessage, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, b, err := ws.ReadMessage(); err != nil || string(b) != "ping" {
		t.Errorf("tunnelled port-forward echoed %q, %v", b, err)
	}

	// Refusals: no rights (403, Kubernetes' verb create on pods/exec),
	// an unknown container, no streams, no command; the kubelet is not
	// asked.
	before := rt.CallCount("Exec")
	for _, c := range []struct {
		user, path string
		code       int
	}{
		{pki.SchedulerName, "/api/v1/namespaces/default/pods/web/exec?command=cat&stdout=true", http.StatusForbidden},
		{pki.SchedulerName, "/api/v1/namespaces/default/pods/web/portforward", http.StatusForbidden},
		{pki.AdminName, "/api/v1/namespaces/default/pods/web/exec?command=cat&stdout=true&container=nope", http.StatusBadRequest},
		{pki.AdminName, "/api/v1/namespaces/default/pods/web/exec?command=cat", http.StatusBadRequest},
		{pki.AdminName, "/api/v1/namespaces/default/pods/web/exec?stdout=true", http.StatusBadRequest},
		{pki.AdminName, "/api/v1/namespaces/default/pods/nope/exec?command=cat&stdout=true", http.StatusNotFound},
	} {
		resp, _, _ := streamtest.Upgrade(t, s.Addr, s.TLS(c.user), c.path)
		if resp.StatusCode != c.code {
			b, _ := io.ReadAll(resp.Body)
			t.Errorf("%s %s: %s %s, want %d", c.user, c.path, resp.Status, b, c.code)
		}
	}
	if n := rt.CallCount("Exec"); n != before {
		t.Errorf("refused sessions reached the runtime (%d Exec calls)", n-before)
	}

	// Each session is audited with its user and outcome.
	testutil.Eventually(t, 20*time.Second, "the sessions audited", func() error {
		b, err := os.ReadFile(auditLog)
		if err != nil {
			return err
		}
		for _, want := range []string{`"subresource":"exec"`, `"subresource":"attach"`, `"subresource":"portforward"`, `"code":403`} {
			if !strings.Contains(string(b), want) {
				return fmt.Errorf("no %s in the audit log:\n%s", want, b)
			}
		}
		return nil
	})
}
