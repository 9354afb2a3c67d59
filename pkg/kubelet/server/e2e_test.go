package server_test

// End-to-end: logs and exec of a real container on a private containerd
// (pkg/containerdtest), through the kubelet server over TLS. Needs root,
// containerd, runc and busybox-static; skips with the reason otherwise.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/containerdtest"
	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/kubelet/server"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testimages"
)

// runtimePods looks containers up in the runtime by their CRI names.
type runtimePods struct {
	rt        cri.Runtime
	ids       map[string][]string // "ns/pod/container" → IDs, newest first
	sandboxes map[string]string   // "ns/pod" → ID
}

func (p *runtimePods) id(ns, pod, container string, previous bool) (string, error) {
	ids := p.ids[ns+"/"+pod+"/"+container]
	i := 0
	if previous {
		i = 1
	}
	if i >= len(ids) {
		return "", &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf("container %q of pod %s/%s not found (previous %v)", container, ns, pod, previous)}
	}
	return ids[i], nil
}

func (p *runtimePods) ContainerLogPath(ns, pod, container string, previous bool) (string, error) {
	id, err := p.id(ns, pod, container, previous)
	if err != nil {
		return "", err
	}
	st, err := p.rt.ContainerStatus(context.Background(), id, false)
	if err != nil {
		return "", err
	}
	return st.GetStatus().GetLogPath(), nil
}

func (p *runtimePods) ContainerID(ns, pod, container string) (string, error) {
	return p.id(ns, pod, container, false)
}

func (p *runtimePods) SandboxID(ns, pod string) (string, error) {
	if id, ok := p.sandboxes[ns+"/"+pod]; ok {
		return id, nil
	}
	return "", &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf("pod %s/%s has no sandbox", ns, pod)}
}

// execSession runs an exec session on the streaming endpoint (path with
// its query) over SPDY, as the apiserver does.
func (k *kubelet) execSession(ctx context.Context, t *testing.T, path string, stdin io.Reader, stdout, stderr io.Writer) error {
	t.Helper()
	cfg := &rest.Config{Host: "https://" + k.addr, TLSClientConfig: rest.TLSClientConfig{
		CAFile:     pki.CertPath(k.pkiDir, pki.CAName),
		CertFile:   pki.CertPath(k.pkiDir, pki.APIServerKubeletClientName),
		KeyFile:    pki.KeyPath(k.pkiDir, pki.APIServerKubeletClientName),
		ServerName: "node-1",
		NextProtos: []string{"http/1.1"},
	}}
	u, err := url.Parse(cfg.Host + path)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	return ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

func TestE2ELogsAndExec(t *testing.T) {
	c := containerdtest.New(t, containerdtest.Options{}, true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rt, err := cri.Dial(ctx, c.Socket, cri.Options{Timeout: time.Minute, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()

	// A host-network pod (no CNI needed) with two instances of one
	// container: the first ran and exited, the second counts.
	sbCfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "logs", Namespace: "e2e", Uid: fmt.Sprintf("logs-%d", time.Now().UnixNano())},
		LogDirectory: filepath.Join(c.Dir, "pods", "logs"),
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
		}},
	}
	sb, err := rt.RunPodSandbox(ctx, sbCfg, "")
	if err != nil {
		t.Fatal(err)
	}
	run := func(attempt uint32, script string) string {
		t.Helper()
		id, err := rt.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "app", Attempt: attempt},
			Image:    &runtimeapi.ImageSpec{Image: testimages.BusyboxRef},
			Command:  []string{"sh", "-c", script},
			LogPath:  fmt.Sprintf("app/%d.log", attempt),
		}, sbCfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := rt.StartContainer(ctx, id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := run(0, `echo "first life"; printf "no newline"`)
	waitExited(t, rt, first)
	second := run(1, `trap "exit 0" TERM; echo started; echo "to stderr" >&2; i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.1; done`)
	pods := &runtimePods{rt: rt, ids: map[string][]string{"e2e/logs/app": {second, first}}}

	dir := t.TempDir()
	if _, err := pki.Init(pki.InitOptions{Dir: dir, Hostname: "localhost", Nodes: []pki.Node{{Name: "node-1"}}}); err != nil {
		t.Fatal(err)
	}
	serving := pki.KubeletServingName("node-1")
	stc, err := pki.ServerTLSConfig(pki.CertPath(dir, serving), pki.KeyPath(dir, serving), pki.CertPath(dir, pki.CAName))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.NewServer(server.Config{TLS: stc, Pods: pods, Runtime: rt}).Serve(sctx, l) }()
	defer func() { stop(); <-done }()
	k := &kubelet{addr: l.Addr().String(), pkiDir: dir}
	kc := k.dial(t, pki.APIServerKubeletClientName)

	// The previous instance's log, its last line without a newline.
	out, err := readAll(t, kc, &apiv1.LogsRequest{Namespace: "e2e", Name: "logs", Container: "app", Previous: true})
	if err != nil || out != "first life\nno newline" {
		t.Errorf("previous log: %q, %v", out, err)
	}

	// Follow the running one: the ticks keep coming.
	fctx, fcancel := context.WithCancel(ctx)
	s, err := kc.Logs(fctx, &apiv1.LogsRequest{Namespace: "e2e", Name: "logs", Container: "app", Follow: true, Timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for !strings.Contains(got.String(), "tick 5\n") {
		chunk, err := s.Recv()
		if err != nil {
			t.Fatalf("follow: %v after %q", err, got.String())
		}
		got.Write(chunk.GetData())
	}
	if !strings.Contains(got.String(), " started\n") || !strings.Contains(got.String(), " to stderr\n") {
		t.Errorf("followed log lacks the first lines: %q", got.String())
	}
	fcancel()

	one := int64(1)
	out, err = readAll(t, kc, &apiv1.LogsRequest{Namespace: "e2e", Name: "logs", Container: "app", TailLines: &one})
	if err != nil || !strings.HasPrefix(out, "tick ") || strings.Count(out, "\n") != 1 {
		t.Errorf("tail 1: %q, %v", out, err)
	}

	// Exec.
	resp, err := kc.Exec(ctx, &apiv1.ExecRequest{Namespace: "e2e", Name: "logs", Container: "app", Command: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}})
	if err != nil || string(resp.GetStdout()) != "out\n" || string(resp.GetStderr()) != "err\n" || resp.GetExitCode() != 3 {
		t.Errorf("exec: %v, %v", resp, err)
	}
	// A session on the streaming endpoint, proxied to containerd's
	// streaming server: stdin in, stdout and stderr out, the exit code.
	var stdout, stderr strings.Builder
	err = k.execSession(ctx, t, "/exec/e2e/logs/app?"+url.Values{"command": {"sh", "-c", "cat; echo err >&2; exit 3"},
		"stdin": {"true"}, "stdout": {"true"}, "stderr": {"true"}}.Encode(),
		strings.NewReader("from stdin\n"), &stdout, &stderr)
	var exit utilexec.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 3 || stdout.String() != "from stdin\n" || stderr.String() != "err\n" {
		t.Errorf("exec session: %v, stdout %q, stderr %q; want exit code 3", err, stdout.String(), stderr.String())
	}

	_, err = kc.Exec(ctx, &apiv1.ExecRequest{Namespace: "e2e", Name: "logs", Container: "app", Command: []string{"sleep", "10"}, TimeoutSeconds: 1})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("exec past its timeout: %v", err)
	}
	_, err = kc.Exec(ctx, &apiv1.ExecRequest{Namespace: "e2e", Name: "logs", Container: "app", Command: []string{"/no/such/binary"}})
	t.Logf("exec of a missing binary: %v", err)
	if err == nil {
		t.Error("exec of a missing binary succeeded")
	}

	// A follow ends once the container stops.
	s, err = kc.Logs(ctx, &apiv1.LogsRequest{Namespace: "e2e", Name: "logs", Container: "app", Follow: true, TailLines: &one})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatal(err)
	}
	if err := rt.StopContainer(ctx, second, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := s.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("follow of a stopped container ended with %v", err)
		}
	}
	_, err = kc.Exec(ctx, &apiv1.ExecRequest{Namespace: "e2e", Name: "logs", Container: "app", Command: []string{"true"}})
	t.Logf("exec in a stopped container: %v", err)
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("exec in a stopped container: %v, want FailedPrecondition", err)
	}
	if err := rt.StopPodSandbox(ctx, sb); err != nil {
		t.Error(err)
	}
	if err := rt.RemovePodSandbox(ctx, sb); err != nil {
		t.Error(err)
	}
}

func waitExited(t *testing.T, rt cri.Runtime, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := rt.ContainerStatus(context.Background(), id, false)
		if err == nil && st.GetStatus().GetState() == runtimeapi.ContainerState_CONTAINER_EXITED {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s did not exit: %v, %v", id, st.GetStatus().GetState(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
