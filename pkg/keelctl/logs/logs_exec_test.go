package logs_test

// keelctl logs and exec against a real apiserver (testserver) that proxies
// to a real kubelet server (pkg/kubelet/server) over TLS; the kubelet's
// containers are a cri.Fake and fixed log files.

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmd"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
	"keel.dev/keel/pkg/kubelet/cri"
	kubeletserver "keel.dev/keel/pkg/kubelet/server"
	"keel.dev/keel/pkg/pki"
)

// logsExecPods is the kubelet's PodLookup: pod default/web, container app.
type logsExecPods struct {
	log, id string
}

func (p *logsExecPods) ContainerLogPath(ns, pod, container string, previous bool) (string, error) {
	if ns == "default" && pod == "web" && container == "app" && !previous {
		return p.log, nil
	}
	return "", &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf("no log for container %q of pod %s/%s (previous %v)", container, ns, pod, previous)}
}

func (p *logsExecPods) ContainerID(ns, pod, container string) (string, error) {
	if ns == "default" && pod == "web" && container == "app" {
		return p.id, nil
	}
	return "", &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: "no such container"}
}

// SandboxID: keelctl's logs and exec go through no streaming session.
func (p *logsExecPods) SandboxID(ns, pod string) (string, error) {
	return "", &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: "no sandbox in this test"}
}

type logsExecEnv struct {
	addr string
	log  string
	rt   *cri.Fake
	id   string
}

func startLogsExecEnv(t *testing.T) *logsExecEnv {
	t.Helper()
	dir := t.TempDir()
	if _, err := pki.Init(pki.InitOptions{Dir: dir, Hostname: "localhost", Nodes: []pki.Node{{Name: "node-1"}}}); err != nil {
		t.Fatal(err)
	}
	e := &logsExecEnv{rt: cri.NewFake(), log: filepath.Join(dir, "app.log")}
	ctx := context.Background()
	sbCfg := &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "default", Uid: "u"}}
	sb, err := e.rt.RunPodSandbox(ctx, sbCfg, "")
	if err != nil {
		t.Fatal(err)
	}
	e.rt.AddImage("busybox")
	if e.id, err = e.rt.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "app"}, Image: &runtimeapi.ImageSpec{Image: "busybox"}}, sbCfg); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.StartContainer(ctx, e.id); err != nil {
		t.Fatal(err)
	}
	e.rt.OnExec = func(_ string, cmd []string) (*runtimeapi.ExecSyncResponse, error) {
		if cmd[0] == "fail" {
			return &runtimeapi.ExecSyncResponse{Stdout: []byte("some output\n"), Stderr: []byte("bad things\n"), ExitCode: 3}, nil
		}
		return &runtimeapi.ExecSyncResponse{Stdout: []byte(strings.Join(cmd, " ") + "\n")}, nil
	}
	e.appendLog(t, "hello", "world")

	serving := pki.KubeletServingName("node-1")
	stc, err := pki.ServerTLSConfig(pki.CertPath(dir, serving), pki.KeyPath(dir, serving), pki.CertPath(dir, pki.CAName))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	kctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- kubeletserver.NewServer(kubeletserver.Config{TLS: stc, Pods: &logsExecPods{log: e.log, id: e.id}, Runtime: e.rt}).Serve(kctx, l)
	}()
	t.Cleanup(func() { cancel(); <-done })

	ctc, err := pki.ClientTLSConfig(pki.CertPath(dir, pki.CAName), pki.CertPath(dir, pki.APIServerKubeletClientName), pki.KeyPath(dir, pki.APIServerKubeletClientName), "")
	if err != nil {
		t.Fatal(err)
	}
	_, a := testserver.StartAll(t, func(cfg *apiserver.Config) { cfg.KubeletClientTLS = ctc })
	e.addr = a.Addr
	cl := client.NewForConn(a.Conn, "default")
	if _, err := cl.Nodes().Create(ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "node-1"}, Status: &corev1.NodeStatus{
		Addresses:       []*corev1.NodeAddress{{Type: "InternalIP", Address: "127.0.0.1"}},
		DaemonEndpoints: &corev1.NodeDaemonEndpoints{KubeletEndpoint: &corev1.DaemonEndpoint{Port: int32(l.Addr().(*net.TCPAddr).Port)}},
	}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*corev1.Pod{
		{Metadata: &metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}}, Spec: &corev1.PodSpec{NodeName: "node-1", Containers: []*corev1.Container{{Name: "app", Image: "busybox"}}}},
		{Metadata: &metav1.ObjectMeta{Name: "two"}, Spec: &corev1.PodSpec{NodeName: "node-1", Containers: []*corev1.Container{{Name: "a", Image: "busybox"}, {Name: "b", Image: "busybox"}}}},
	} {
		if _, err := cl.Pods("default").Create(ctx, p, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// A Deployment selecting pod web (no controller runs: web is its
	// only pod).
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	if _, err := cl.Deployments("default").Create(ctx, &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Name: "web"}, Spec: &appsv1.DeploymentSpec{
		Selector: sel, Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: sel.MatchLabels},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "busybox"}}}}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *logsExecEnv) appendLog(t *testing.T, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(e.log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		fmt.Fprintf(f, "2025-03-04T05:06:07.123Z stdout F %s\n", l)
	}
}

// keelctl runs one invocation against the environment's apiserver.
func (e *logsExecEnv) keelctl(ctx context.Context, t *testing.T, stdout, stderr *keelctltest.SyncBuffer, args ...string) int {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "no-config")
	c := &cmdutil.CLI{In: strings.NewReader(""), Out: stdout, ErrOut: stderr, Getenv: func(string) string { return "" }, Now: time.Now}
	return cmd.Execute(ctx, c, append([]string{"--config", cfg, "--server", e.addr, "--insecure"}, args...))
}

func TestLogsAndExecCommands(t *testing.T) {
	e := startLogsExecEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tt := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"logs", "web"}, 0, "hello\nworld\n", ""},
		{[]string{"logs", "pod/web", "--tail", "1", "--timestamps"}, 0, "2025-03-04T05:06:07.123000000Z world\n", ""},
		{[]string{"logs", "web", "-c", "app", "--limit-bytes", "4"}, 0, "hell", ""},
		{[]string{"logs", "web", "--previous"}, 1, "", "Error from server (NotFound): no log for container \"app\" of pod default/web (previous true)\n"},
		{[]string{"logs", "two"}, 1, "", "Defaulted container \"a\" out of: a, b\nError from server (NotFound): no log for container \"a\" of pod default/two"},
		{[]string{"logs", "nope"}, 1, "", "Error from server (NotFound): pods \"nope\" not found\n"},
		{[]string{"logs", "deploy/web"}, 0, "hello\nworld\n", ""},
		{[]string{"logs", "deployment.apps/nope"}, 1, "", "Error from server (NotFound): deployments.apps \"nope\" not found\n"},
		{[]string{"logs", "-l", "app=web", "--prefix"}, 0, "[pod/web/app] hello\n[pod/web/app] world\n", ""},
		{[]string{"logs", "-l", "app=none"}, 0, "", "No resources found in default namespace.\n"},
		{[]string{"logs", "-l", "app=web", "web"}, 1, "", "error: only one of -l or a pod (TYPE/NAME) may be given"},
		{[]string{"logs", "web", "--all-containers", "--tail", "1"}, 0, "world\n", ""},
		{[]string{"logs", "web", "-c", "app", "--all-containers"}, 1, "", "error: --container and --all-containers cannot be used together"},
		{[]string{"logs", "cm/web"}, 1, "", "Error from server (NotFound): configmaps \"web\" not found"},
		{[]string{"exec", "deploy/web", "--", "echo", "hi"}, 0, "echo hi\n", ""},
		{[]string{"exec", "two", "--", "echo", "hi"}, 1, "", "Defaulted container \"a\" out of: a, b\nError from server (NotFound)"},
		{[]string{"exec", "web", "--", "echo", "-n", "hi"}, 0, "echo -n hi\n", ""},
		{[]string{"exec", "web", "-c", "app", "--timeout", "5s", "--", "fail"}, 3, "some output\n", "bad things\nerror: command terminated with exit code 3\n"},
		{[]string{"exec", "-it", "web", "--", "sh"}, 1, "", "error: interactive exec (-i, -t) is not supported"},
		{[]string{"exec", "web"}, 1, "", "error: a command is required"},
		{[]string{"exec", "web", "extra", "--", "ls"}, 1, "", "error: one pod name before \"--\""},
	} {
		var stdout, stderr keelctltest.SyncBuffer
		code := e.keelctl(ctx, t, &stdout, &stderr, tt.args...)
		if code != tt.code || stdout.String() != tt.stdout || !strings.HasPrefix(stderr.String(), tt.stderr) {
			t.Errorf("keelctl %s: exit %d, stdout %q, stderr %q; want %d, %q, %q", strings.Join(tt.args, " "),
				code, stdout.String(), stderr.String(), tt.code, tt.stdout, tt.stderr)
		}
	}

	// logs -f prints what is appended, and ends quietly on ^C.
	fctx, stop := context.WithCancel(ctx)
	var stdout, stderr keelctltest.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- e.keelctl(fctx, t, &stdout, &stderr, "logs", "-f", "--tail", "1", "web") }()
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(stdout.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("logs -f: no %q in %q (stderr %q)", want, stdout.String(), stderr.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("world\n") // the stream is open: what is appended now arrives
	e.appendLog(t, "first new line")
	waitFor("first new line\n")
	e.appendLog(t, "second new line")
	waitFor("second new line\n")
	stop()
	select {
	case code := <-done:
		if code != 0 || stderr.String() != "" || stdout.String() != "world\nfirst new line\nsecond new line\n" {
			t.Errorf("logs -f: exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("logs -f did not end on cancel")
	}
}
