package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	kubeletv1 "keel.dev/keel/pkg/apis/kubelet/v1"
	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/kubelet/server"
	"keel.dev/keel/pkg/kubelet/stats"
	"keel.dev/keel/pkg/pki"
)

// pods is a PodLookup over fixed containers: "ns/pod/container" → log
// paths and ID.
type pods struct {
	mu        sync.Mutex
	logs      map[string]string // key, or key + "#previous"
	ids       map[string]string
	sandboxes map[string]string // "ns/pod" → sandbox ID
}

func (p *pods) ContainerLogPath(ns, pod, container string, previous bool) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := ns + "/" + pod + "/" + container
	if previous {
		key += "#previous"
	}
	if l, ok := p.logs[key]; ok {
		return l, nil
	}
	if previous {
		return "", &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf("previous terminated container %q in pod %q not found", container, pod)}
	}
	return "", &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf("container %q in pod %s/%s not found", container, ns, pod)}
}

func (p *pods) ContainerID(ns, pod, container string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id, ok := p.ids[ns+"/"+pod+"/"+container]; ok {
		return id, nil
	}
	return "", &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf("container %q in pod %s/%s not found", container, ns, pod)}
}

func (p *pods) SandboxID(ns, pod string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if id, ok := p.sandboxes[ns+"/"+pod]; ok {
		return id, nil
	}
	return "", &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf("pod %s/%s not found", ns, pod)}
}

func startContainer(t *testing.T, rt *cri.Fake, name string) string {
	t.Helper()
	ctx := context.Background()
	sbCfg := &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "ns", Uid: "uid-" + name}}
	sb, err := rt.RunPodSandbox(ctx, sbCfg, "")
	if err != nil {
		t.Fatal(err)
	}
	rt.AddImage("img")
	id, err := rt.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: name}, Image: &runtimeapi.ImageSpec{Image: "img"}}, sbCfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

type kubelet struct {
	addr   string
	pkiDir string
	rt     *cri.Fake
	pods   *pods
	log    string
}

func startKubelet(t *testing.T) *kubelet {
	t.Helper()
	dir := t.TempDir()
	if _, err := pki.Init(pki.InitOptions{Dir: dir, Hostname: "localhost", Nodes: []pki.Node{{Name: "node-1", IPs: []net.IP{net.ParseIP("127.0.0.1")}}}}); err != nil {
		t.Fatal(err)
	}
	serving := pki.KubeletServingName("node-1")
	tc, err := pki.ServerTLSConfig(pki.CertPath(dir, serving), pki.KeyPath(dir, serving), pki.CertPath(dir, pki.CAName))
	if err != nil {
		t.Fatal(err)
	}
	rt := cri.NewFake()
	id := startContainer(t, rt, "app")
	logPath := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(logPath, []byte("2025-01-01T00:00:00Z stdout F hello\n2025-01-01T00:00:01Z stderr F world\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &pods{logs: map[string]string{"ns/web/app": logPath}, ids: map[string]string{"ns/web/app": id, "ns/web/gone": "deadbeef"}}
	col := &stats.Collector{NodeName: "node-1", Runtime: rt, MinWindow: time.Nanosecond}
	srv := server.NewServer(server.Config{TLS: tc, Pods: p, Runtime: rt, Stats: col})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return &kubelet{addr: l.Addr().String(), pkiDir: dir, rt: rt, pods: p, log: logPath}
}

// dial connects as the key pair name ("" for no client certificate).
func (k *kubelet) dial(t *testing.T, name string) kubeletv1.KubeletClient {
	t.Helper()
	var certFile, keyFile string
	if name != "" {
		certFile, keyFile = pki.CertPath(k.pkiDir, name), pki.KeyPath(k.pkiDir, name)
	}
	tc, err := pki.ClientTLSConfig(pki.CertPath(k.pkiDir, pki.CAName), certFile, keyFile, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient("passthrough:///"+k.addr, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return kubeletv1.NewKubeletClient(conn)
}

func readAll(t *testing.T, c kubeletv1.KubeletClient, req *apiv1.LogsRequest) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := c.Logs(ctx, req)
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

func TestAuthorization(t *testing.T) {
	k := startKubelet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := &apiv1.ExecRequest{Namespace: "ns", Name: "web", Container: "app", Command: []string{"echo", "hi"}}

	resp, err := k.dial(t, pki.APIServerKubeletClientName).Exec(ctx, req)
	if err != nil || string(resp.GetStdout()) != "hi\n" {
		t.Fatalf("the apiserver's exec: %v, %v", resp, err)
	}
	if _, err := k.dial(t, pki.AdminName).Exec(ctx, req); err != nil {
		t.Errorf("a system:masters user was refused: %v", err)
	}
	for _, who := range []string{pki.SchedulerName, pki.KubeletClientName("node-1")} {
		_, err := k.dial(t, who).Exec(ctx, req)
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s: %v, want PermissionDenied", who, err)
		}
		if _, err := readAll(t, k.dial(t, who), &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "app"}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("%s logs: %v, want PermissionDenied", who, err)
		}
	}
	if _, err := k.dial(t, "").Exec(ctx, req); err == nil {
		t.Error("a client without a certificate was served")
	}
	// A client that does not trust the cluster CA does not get through either.
	conn, err := grpc.NewClient("passthrough:///"+k.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{ServerName: "node-1"})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := kubeletv1.NewKubeletClient(conn).Exec(ctx, req); err == nil {
		t.Error("served a client that does not trust the CA")
	}
}

// TestStats: the apiserver reads the node's stats (here the fake
// runtime's usage: a CPU rate from the second sample on); no one else may.
func TestStats(t *testing.T) {
	k := startKubelet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id := k.pods.ids["ns/web/app"]
	k.rt.SetContainerUsage(id, cri.FakeUsage{CPUNanos: 1e9, WorkingSetBytes: 5 << 20})
	c := k.dial(t, pki.APIServerKubeletClientName)
	first, err := c.Stats(ctx, &kubeletv1.StatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.GetPods()) != 1 || first.GetPods()[0].GetContainers()[0].GetCpu().UsageNanoCores != nil {
		t.Fatalf("first summary: %v, want one pod without a rate yet", first)
	}
	k.rt.SetContainerUsage(id, cri.FakeUsage{CPUNanos: 2e9, WorkingSetBytes: 5 << 20})
	sum, err := c.Stats(ctx, &kubeletv1.StatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ct := sum.GetPods()[0].GetContainers()[0]
	if sum.GetNode().GetNodeName() != "node-1" || ct.GetName() != "app" || ct.GetCpu().UsageNanoCores == nil ||
		ct.GetCpu().GetUsageCoreNanoSeconds() != 2e9 || ct.GetMemory().GetWorkingSetBytes() != 5<<20 {
		t.Errorf("second summary: %v", sum)
	}
	if _, err := k.dial(t, pki.KubeletClientName("node-1")).Stats(ctx, &kubeletv1.StatsRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("a kubelet's Stats: %v, want PermissionDenied", err)
	}
}

func TestExecAndLogs(t *testing.T) {
	k := startKubelet(t)
	c := k.dial(t, pki.APIServerKubeletClientName)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	k.rt.OnExec = func(id string, cmd []string) (*runtimeapi.ExecSyncResponse, error) {
		switch cmd[0] {
		case "sh":
			return &runtimeapi.ExecSyncResponse{Stdout: []byte("out"), Stderr: []byte("err"), ExitCode: 3}, nil
		case "sleep":
			return nil, status.Error(codes.DeadlineExceeded, "timeout 1s exceeded")
		}
		return &runtimeapi.ExecSyncResponse{}, nil
	}
	resp, err := c.Exec(ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "web", Container: "app", Command: []string{"sh", "-c", "x"}})
	if err != nil || string(resp.GetStdout()) != "out" || string(resp.GetStderr()) != "err" || resp.GetExitCode() != 3 {
		t.Errorf("exec: %v, %v", resp, err)
	}
	_, err = c.Exec(ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "web", Container: "app", Command: []string{"sleep", "9"}, TimeoutSeconds: 1})
	if status.Code(err) != codes.DeadlineExceeded || !strings.Contains(err.Error(), "timed out after 1s") {
		t.Errorf("exec timeout: %v", err)
	}
	_, err = c.Exec(ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "web", Container: "nope", Command: []string{"true"}})
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), `container "nope"`) {
		t.Errorf("exec in an unknown container: %v", err)
	}
	_, err = c.Exec(ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "web", Container: "gone", Command: []string{"true"}})
	if status.Code(err) != codes.NotFound {
		t.Errorf("exec in a container the runtime lost: %v", err)
	}
	_, err = c.Exec(ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "web", Container: "app"})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("exec without a command: %v", err)
	}

	out, err := readAll(t, c, &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "app", Timestamps: true})
	if err != nil || out != "2025-01-01T00:00:00.000000000Z hello\n2025-01-01T00:00:01.000000000Z world\n" {
		t.Errorf("logs: %q, %v", out, err)
	}
	one := int64(1)
	if out, err := readAll(t, c, &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "app", TailLines: &one}); err != nil || out != "world\n" {
		t.Errorf("logs tail 1: %q, %v", out, err)
	}
	if _, err := readAll(t, c, &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "app", Previous: true}); status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "previous terminated container") {
		t.Errorf("logs previous without one: %v", err)
	}
	k.pods.mu.Lock()
	k.pods.logs["ns/web/app#previous"] = filepath.Join(t.TempDir(), "missing.log")
	k.pods.mu.Unlock()
	if _, err := readAll(t, c, &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "app", Previous: true}); status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "previous instance") {
		t.Errorf("logs previous, file gone: %v", err)
	}
	if _, err := readAll(t, c, &apiv1.LogsRequest{Namespace: "ns", Name: "web"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("logs without a container: %v", err)
	}
	neg := int64(-1)
	if _, err := readAll(t, c, &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "app", TailLines: &neg}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("logs with a negative tail: %v", err)
	}

	// Follow ends when the container exits.
	s, err := c.Logs(ctx, &apiv1.LogsRequest{Namespace: "ns", Name: "web", Container: "app", Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for !strings.Contains(got.String(), "world\n") {
		chunk, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got.Write(chunk.GetData())
	}
	f, err := os.OpenFile(k.log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "2025-01-01T00:00:02Z stdout F more\n")
	f.Close()
	for !strings.Contains(got.String(), "more\n") {
		chunk, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got.Write(chunk.GetData())
	}
	id, _ := k.pods.ContainerID("ns", "web", "app")
	if err := k.rt.ExitContainer(id, 0, ""); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("follow ended with %v", err)
		}
	}
	// Exec in the exited container: the runtime's FailedPrecondition.
	if _, err := c.Exec(ctx, &apiv1.ExecRequest{Namespace: "ns", Name: "web", Container: "app", Command: []string{"true"}}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("exec in an exited container: %v", err)
	}
}
