package apiserver_test

// Logs and Exec through the apiserver to a real kubelet server
// (pkg/kubelet/server) over TLS with certificates from pki.Init, the
// kubelet's containers being a cri.Fake and a fixed PodLookup.

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/kubelet/cri"
	kubeletserver "keel.dev/keel/pkg/kubelet/server"
	"keel.dev/keel/pkg/pki"
)

// fakePods is the kubelet's PodLookup: "ns/pod/container" → log files and
// container ID.
type fakePods struct {
	mu        sync.Mutex
	current   map[string]string
	previous  map[string]string
	ids       map[string]string
	sandboxes map[string]string // "ns/pod" → sandbox ID
}

func (p *fakePods) ContainerLogPath(ns, pod, container string, previous bool) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.current
	if previous {
		m = p.previous
	}
	if path, ok := m[ns+"/"+pod+"/"+container]; ok {
		return path, nil
	}
	if previous {
		return "", &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf("previous terminated container %q in pod %q not found", container, pod)}
	}
	return "", &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf("container %q in pod %q is not known to the kubelet", container, pod)}
}

func (p *fakePods) ContainerID(ns, pod, container string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id, ok := p.ids[ns+"/"+pod+"/"+container]; ok {
		return id, nil
	}
	return "", &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf("container %q in pod %q is not running", container, pod)}
}

func (p *fakePods) SandboxID(ns, pod string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id, ok := p.sandboxes[ns+"/"+pod]; ok {
		return id, nil
	}
	return "", &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf("pod %s/%s has no sandbox", ns, pod)}
}

// proxyEnv is a cluster of one apiserver and one kubelet server (node-1).
type proxyEnv struct {
	c        *client
	pkiDir   string
	rt       *cri.Fake
	pods     *fakePods
	logDir   string
	port     int
	denyExec atomic.Bool
}

func writeCRILog(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := fmt.Fprintf(f, "2025-01-01T00:00:00.5Z stdout F %s\n", l); err != nil {
			t.Fatal(err)
		}
	}
}

func kubeletClientTLS(t *testing.T, dir, name string) *tls.Config {
	t.Helper()
	tc, err := pki.ClientTLSConfig(pki.CertPath(dir, pki.CAName), pki.CertPath(dir, name), pki.KeyPath(dir, name), "")
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

func startProxyEnv(t *testing.T) *proxyEnv {
	t.Helper()
	e := &proxyEnv{pkiDir: t.TempDir(), rt: cri.NewFake(), logDir: t.TempDir()}
	if _, err := pki.Init(pki.InitOptions{Dir: e.pkiDir, Hostname: "localhost", Nodes: []pki.Node{{Name: "node-1"}}}); err != nil {
		t.Fatal(err)
	}

	// The kubelet: containers app (running) and side of pod ns/web.
	ctx := context.Background()
	sbCfg := &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "ns", Uid: "u"}}
	sb, err := e.rt.RunPodSandbox(ctx, sbCfg, "")
	if err != nil {
		t.Fatal(err)
	}
	e.rt.AddImage("busybox")
	ids := map[string]string{}
	for _, name := range []string{"app", "side"} {
		id, err := e.rt.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: name}, Image: &runtimeapi.ImageSpec{Image: "busybox"}}, sbCfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.rt.StartContainer(ctx, id); err != nil {
			t.Fatal(err)
		}
		ids["ns/web/"+name] = id
	}
	ids["ns/web-default/side"] = ids["ns/web/side"] // another pod, for the default container
	e.pods = &fakePods{
		current: map[string]string{"ns/web/app": filepath.Join(e.logDir, "app-1.log"), "ns/web/side": filepath.Join(e.logDir, "side-0.log"),
			"ns/web-default/side": filepath.Join(e.logDir, "side-0.log")},
		previous:  map[string]string{"ns/web/app": filepath.Join(e.logDir, "app-0.log")},
		ids:       ids,
		sandboxes: map[string]string{"ns/web": sb},
	}
	writeCRILog(t, filepath.Join(e.logDir, "app-0.log"), "previous life")
	writeCRILog(t, filepath.Join(e.logDir, "app-1.log"), "hello", "world")
	writeCRILog(t, filepath.Join(e.logDir, "side-0.log"), "sidecar")

	serving := pki.KubeletServingName("node-1")
	stc, err := pki.ServerTLSConfig(pki.CertPath(e.pkiDir, serving), pki.KeyPath(e.pkiDir, serving), pki.CertPath(e.pkiDir, pki.CAName))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.port = l.Addr().(*net.TCPAddr).Port
	kctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- kubeletserver.NewServer(kubeletserver.Config{TLS: stc, Pods: e.pods, Runtime: e.rt}).Serve(kctx, l)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	e.c = start(t, func(cfg *apiserver.Config) {
		cfg.KubeletClientTLS = kubeletClientTLS(t, e.pkiDir, pki.APIServerKubeletClientName)
		cfg.Authorizer = auth.AuthorizerFunc(func(_ context.Context, a auth.Attributes) (bool, string, error) {
			if a.Resource == "pods/exec" && e.denyExec.Load() {
				return false, "exec is switched off", nil
			}
			return true, "", nil
		})
	})
	e.objects(t)
	return e
}

func node(name, ip string, port int32) *corev1.Node {
	n := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name}, Status: &corev1.NodeStatus{
		Addresses: []*corev1.NodeAddress{{Type: "Hostname", Address: name}},
	}}
	if ip != "" {
		n.Status.Addresses = append(n.Status.Addresses, &corev1.NodeAddress{Type: "InternalIP", Address: ip})
	}
	if port != 0 {
		n.Status.DaemonEndpoints = &corev1.NodeDaemonEndpoints{KubeletEndpoint: &corev1.DaemonEndpoint{Port: port}}
	}
	return n
}

func podOn(ns, name, nodeName string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: &corev1.PodSpec{NodeName: nodeName}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: c, Image: "busybox"})
	}
	return p
}

func (e *proxyEnv) objects(t *testing.T) {
	mustNamespace(e.c, "ns")
	mustCreate(e.c, node("node-1", "127.0.0.1", int32(e.port)))
	// node-2's kubelet port is closed.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	mustCreate(e.c, node("node-2", "127.0.0.1", int32(closedPort)))
	// node-3's address is node-1's kubelet, whose certificate is not node-3's.
	mustCreate(e.c, node("node-3", "127.0.0.1", int32(e.port)))
	mustCreate(e.c, podOn("ns", "misdirected", "node-3", "app"))
	web := podOn("ns", "web", "node-1", "app", "side")
	web.Spec.InitContainers = []*corev1.Container{{Name: "init", Image: "busybox"}}
	mustCreate(e.c, web)
	withDefault := podOn("ns", "web-default", "node-1", "app", "side")
	withDefault.Metadata.Annotations = map[string]string{api.DefaultContainerAnnotation: "side"}
	mustCreate(e.c, withDefault)
	mustCreate(e.c, podOn("ns", "pending", "", "app"))
	mustCreate(e.c, podOn("ns", "lost", "node-9", "app"))
	mustCreate(e.c, podOn("ns", "far", "node-2", "app"))
}

// logs reads a whole log stream through the API.
func logs(c *client, req *apiv1.LogsRequest) (string, error) {
	s, err := c.api.Logs(c.ctx, req)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for {
		chunk, err := s.Recv()
		if err == io.EOF {
			return b.String(), nil
		}
		if err != nil {
			return b.String(), err
		}
		b.Write(chunk.GetData())
	}
}

func wantErr(t *testing.T, what string, err error, code codes.Code, msg string) {
	t.Helper()
	t.Logf("%s: %v", what, err)
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), msg) {
		t.Errorf("%s: %v, want %s with %q", what, err, code, msg)
	}
}

func TestLogsThroughAPI(t *testing.T) {
	e := startProxyEnv(t)
	c := e.c
	one := int64(1)
	for _, tt := range []struct {
		name string
		req  *apiv1.LogsRequest
		want string
	}{
		{"whole", &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "app"}, "hello\nworld\n"},
		{"tail", &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "app", TailLines: &one}, "world\n"},
		{"timestamps", &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "app", TailLines: &one, Timestamps: true}, "2025-01-01T00:00:00.500000000Z world\n"},
		{"limit", &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "app", LimitBytes: 3}, "hel"},
		{"previous", &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "app", Previous: true}, "previous life\n"},
		{"other container", &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "side"}, "sidecar\n"},
		{"default container annotation", &apiv1.LogsRequest{Namespace: "ns", Name: "web-default"}, "sidecar\n"},
	} {
		got, err := logs(c, tt.req)
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	_, err := logs(c, &apiv1.LogsRequest{Namespace: "ns", Name: "web"})
	wantErr(t, "no container named", err, codes.InvalidArgument, "a container name must be specified for pod web, choose one of: [app side] or one of the init containers: [init]")
	_, err = logs(c, &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "nope"})
	wantErr(t, "unknown container", err, codes.InvalidArgument, "container nope is not valid for pod web")
	_, err = logs(c, &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "init"})
	wantErr(t, "init container unknown to the kubelet", err, codes.NotFound, `container "init" in pod "web" is not known to the kubelet`)
	_, err = logs(c, &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "side", Previous: true})
	wantErr(t, "no previous instance", err, codes.NotFound, `previous terminated container "side" in pod "web" not found`)
	_, err = logs(c, &apiv1.LogsRequest{Namespace: "ns", Name: "nope"})
	wantErr(t, "no pod", err, codes.NotFound, `pods "nope" not found`)
	_, err = logs(c, &apiv1.LogsRequest{Namespace: "ns", Name: "pending"})
	wantErr(t, "not scheduled", err, codes.Unavailable, "pod ns/pending is not scheduled to a node yet")
	_, err = logs(c, &apiv1.LogsRequest{Namespace: "ns", Name: "lost"})
	wantErr(t, "node missing", err, codes.Unavailable, `node "node-9" of pod ns/lost is not registered`)
	_, err = logs(c, &apiv1.LogsRequest{Namespace: "ns", Name: "far"})
	wantErr(t, "kubelet down", err, codes.Unavailable, `cannot reach the kubelet of node "node-2" at 127.0.0.1:`)
	neg := int64(-2)
	_, err = logs(c, &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "app", TailLines: &neg})
	wantErr(t, "negative tail", err, codes.InvalidArgument, "tail_lines")

	// Follow: lines appended to the file arrive; the stream ends when the
	// container exits.
	s, err := c.api.Logs(c.ctx, &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "app", Follow: true, TailLines: &one})
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	recvUntil := func(want string) {
		t.Helper()
		for !strings.Contains(got.String(), want) {
			chunk, err := s.Recv()
			if err != nil {
				t.Fatalf("waiting for %q after %q: %v", want, got.String(), err)
			}
			got.Write(chunk.GetData())
		}
	}
	recvUntil("world\n")
	writeCRILog(t, filepath.Join(e.logDir, "app-1.log"), "appended 1")
	recvUntil("appended 1\n")
	writeCRILog(t, filepath.Join(e.logDir, "app-1.log"), "appended 2", "appended 3")
	recvUntil("appended 3\n")
	if got.String() != "world\nappended 1\nappended 2\nappended 3\n" {
		t.Errorf("followed %q", got.String())
	}
	id, _ := e.pods.ContainerID("ns", "web", "app")
	if err := e.rt.ExitContainer(id, 1, ""); err != nil {
		t.Fatal(err)
	}
	for {
		chunk, err := s.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("follow ended with %v", err)
		}
		got.Write(chunk.GetData())
	}

	// A follow the caller cancels ends on the kubelet too.
	ctx, cancel := context.WithCancel(c.ctx)
	s, err = c.api.Logs(ctx, &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "side", Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if chunk, err := s.Recv(); err != nil || string(chunk.GetData()) != "sidecar\n" {
		t.Fatalf("follow side: %v, %v", chunk, err)
	}
	cancel()
	if _, err := s.Recv(); status.Code(err) != codes.Canceled {
		t.Errorf("after cancel: %v", err)
	}
}

func TestExecThroughAPI(t *testing.T) {
	e := startProxyEnv(t)
	c := e.c
	e.rt.OnExec = func(id string, cmd []string) (*runtimeapi.ExecSyncResponse, error) {
		if cmd[0] == "sh" {
			return &runtimeapi.ExecSyncResponse{Stdout: []byte(strings.Join(cmd, " ")), Stderr: []byte("oops\n"), ExitCode: 7}, nil
		}
		return &runtimeapi.ExecSyncResponse{Stdout: []byte(id[:8])}, nil
	}
	resp, err := c.api.Exec(c.ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "web", Container: "app", Command: []string{"sh", "-c", "exit 7"}})
	if err != nil || string(resp.GetStdout()) != "sh -c exit 7" || string(resp.GetStderr()) != "oops\n" || resp.GetExitCode() != 7 {
		t.Fatalf("exec: %v, %v", resp, err)
	}
	// The default container, and the right one.
	sideID, _ := e.pods.ContainerID("ns", "web", "side")
	resp, err = c.api.Exec(c.ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "web-default", Command: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.GetStdout()) != sideID[:8] {
		t.Errorf("exec ran in %q, want the side container %s", resp.GetStdout(), sideID[:8])
	}

	_, err = c.api.Exec(c.ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "web", Command: []string{"true"}})
	wantErr(t, "no container", err, codes.InvalidArgument, "a container name must be specified")
	_, err = c.api.Exec(c.ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "web", Container: "app"})
	wantErr(t, "no command", err, codes.InvalidArgument, "a command is required")
	_, err = c.api.Exec(c.ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "nope", Container: "app", Command: []string{"true"}})
	wantErr(t, "no pod", err, codes.NotFound, `pods "nope" not found`)
	_, err = c.api.Exec(c.ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "far", Command: []string{"true"}})
	wantErr(t, "kubelet down", err, codes.Unavailable, `cannot reach the kubelet of node "node-2"`)
	_, err = c.api.Exec(c.ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "misdirected", Command: []string{"true"}})
	wantErr(t, "another node's kubelet", err, codes.Unavailable, `cannot reach the kubelet of node "node-3"`)
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("the error does not say the certificate is wrong: %v", err)
	}

	// Not running any more: the runtime's FailedPrecondition comes through.
	id, _ := e.pods.ContainerID("ns", "web", "app")
	if err := e.rt.ExitContainer(id, 0, ""); err != nil {
		t.Fatal(err)
	}
	_, err = c.api.Exec(c.ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "web", Container: "app", Command: []string{"true"}})
	wantErr(t, "exited container", err, codes.FailedPrecondition, `container "app" of pod ns/web is not running`)

	// Authorization: create pods/exec.
	e.denyExec.Store(true)
	_, err = c.api.Exec(c.ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "web", Container: "side", Command: []string{"true"}})
	wantErr(t, "denied", err, codes.PermissionDenied, `cannot create resource "pods/exec" in API group "" in the namespace "ns": exec is switched off`)
}

// TestKubeletRefusesWrongIdentity: an apiserver presenting a certificate
// the kubelet does not accept, or none at all, gets a clear Unavailable.
func TestKubeletRefusesWrongIdentity(t *testing.T) {
	e := startProxyEnv(t)
	for _, tt := range []struct {
		name string
		tls  *tls.Config
		msg  string
	}{
		{"scheduler certificate", kubeletClientTLS(t, e.pkiDir, pki.SchedulerName), `the kubelet of node "node-1" at 127.0.0.1:`},
		{"no certificate", nil, "the apiserver has no kubelet client certificate (--kubelet-client-certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := start(t, func(cfg *apiserver.Config) { cfg.KubeletClientTLS = tt.tls })
			mustNamespace(c, "ns")
			mustCreate(c, node("node-1", "127.0.0.1", int32(e.port)))
			mustCreate(c, podOn("ns", "web", "node-1", "app"))
			_, err := c.api.Exec(c.ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "web", Command: []string{"true"}})
			wantErr(t, "exec", err, codes.Unavailable, tt.msg)
			_, err = logs(c, &apiv1.LogsRequest{Namespace: "ns", Name: "web"})
			wantErr(t, "logs", err, codes.Unavailable, tt.msg)
		})
	}
}
