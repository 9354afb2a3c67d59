package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/kubelet/cri"
)

func intPort(n int) *metav1.IntOrString { return api.IntOrStringFromInt(int32(n)) }

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p := hostPort(t, l.Addr().String())
	l.Close()
	return p
}

func TestHTTPProbe(t *testing.T) {
	var mu sync.Mutex
	var lastHeaders http.Header
	var lastHost string
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lastHeaders, lastHost = r.Header.Clone(), r.Host
		mu.Unlock()
		fmt.Fprint(w, "fine")
	})
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("x") != "1" {
			http.Error(w, "no query", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, "query ok")
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "broken", http.StatusInternalServerError) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/fail", http.StatusFound) })
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://other.invalid/", http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tlsSrv := httptest.NewTLSServer(mux)
	defer tlsSrv.Close()
	ip, port := hostPort(t, srv.Listener.Addr().String())
	_, tlsPort := hostPort(t, tlsSrv.Listener.Addr().String())
	c := &corev1.Container{Name: "web", Ports: []*corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	p := &Prober{}

	for _, tt := range []struct {
		name    string
		action  *corev1.HTTPGetAction
		timeout int32
		want    Result
		msg     string
		wantErr string
	}{
		{name: "ok", action: &corev1.HTTPGetAction{Path: "/ok", Port: intPort(port)}, want: Success, msg: "fine"},
		{name: "named port", action: &corev1.HTTPGetAction{Path: "/ok", Port: api.IntOrStringFromString("http")}, want: Success},
		{name: "numeric string port", action: &corev1.HTTPGetAction{Path: "/ok", Port: api.IntOrStringFromString(strconv.Itoa(port))}, want: Success},
		{name: "query in path", action: &corev1.HTTPGetAction{Path: "/query?x=1", Port: intPort(port)}, want: Success, msg: "query ok"},
		{name: "500", action: &corev1.HTTPGetAction{Path: "/fail", Port: intPort(port)}, want: Failure, msg: "statuscode: 500"},
		{name: "same-host redirect followed", action: &corev1.HTTPGetAction{Path: "/redirect", Port: intPort(port)}, want: Failure, msg: "statuscode: 500"},
		{name: "other-host redirect is success", action: &corev1.HTTPGetAction{Path: "/elsewhere", Port: intPort(port)}, want: Success},
		{name: "https unverified", action: &corev1.HTTPGetAction{Path: "/ok", Port: intPort(tlsPort), Scheme: "HTTPS"}, want: Success, msg: "fine"},
		{name: "refused", action: &corev1.HTTPGetAction{Path: "/", Port: intPort(closedPort(t))}, want: Failure, msg: "refused"},
		{name: "timeout", action: &corev1.HTTPGetAction{Path: "/slow", Port: intPort(port)}, timeout: 1, want: Failure},
		{name: "missing named port", action: &corev1.HTTPGetAction{Path: "/", Port: api.IntOrStringFromString("metrics")}, want: Unknown, wantErr: `no port named "metrics"`},
		{name: "bad scheme", action: &corev1.HTTPGetAction{Path: "/", Port: intPort(port), Scheme: "FTP"}, want: Unknown, wantErr: "scheme"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			probe := &corev1.Probe{HttpGet: tt.action, TimeoutSeconds: tt.timeout}
			got, msg, err := p.Probe(context.Background(), &corev1.Pod{}, c, probe, "", ip)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || !strings.Contains(msg, tt.msg) {
				t.Errorf("got %v %q, want %v with %q", got, msg, tt.want, tt.msg)
			}
		})
	}

	// Headers, Host, User-Agent.
	probe := &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Path: "/ok", Port: intPort(port), HttpHeaders: []*corev1.HTTPHeader{
		{Name: "X-Custom", Value: "a"}, {Name: "Host", Value: "example.test"},
	}}}
	if got, _, err := p.Probe(context.Background(), &corev1.Pod{}, c, probe, "", ip); err != nil || got != Success {
		t.Fatalf("probe with headers: %v %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if lastHeaders.Get("X-Custom") != "a" || lastHost != "example.test" || lastHeaders.Get("User-Agent") != UserAgent || lastHeaders.Get("Accept") != "*/*" {
		t.Errorf("headers %v host %q", lastHeaders, lastHost)
	}
}

func TestTCPProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ip, port := hostPort(t, l.Addr().String())
	c := &corev1.Container{Name: "db", Ports: []*corev1.ContainerPort{{Name: "sql", ContainerPort: int32(port)}}}
	p := &Prober{}
	for _, tt := range []struct {
		name string
		port *metav1.IntOrString
		want Result
	}{
		{"open", intPort(port), Success},
		{"named", api.IntOrStringFromString("sql"), Success},
		{"closed", intPort(closedPort(t)), Failure},
	} {
		got, msg, err := p.Probe(context.Background(), &corev1.Pod{}, c, &corev1.Probe{TcpSocket: &corev1.TCPSocketAction{Port: tt.port}}, "", ip)
		if err != nil || got != tt.want {
			t.Errorf("%s: %v %q %v, want %v", tt.name, got, msg, err, tt.want)
		}
	}
	if _, _, err := p.Probe(context.Background(), &corev1.Pod{}, c, &corev1.Probe{TcpSocket: &corev1.TCPSocketAction{Port: intPort(port)}}, "", ""); err == nil {
		t.Error("tcp probe without a pod IP: no error")
	}
}

func TestGRPCProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("sick", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(g, hs)
	go func() { _ = g.Serve(l) }()
	defer g.Stop()
	ip, port := hostPort(t, l.Addr().String())
	p := &Prober{}
	sick := "sick"
	for _, tt := range []struct {
		name    string
		action  *corev1.GRPCAction
		want    Result
		timeout int32
	}{
		{"serving", &corev1.GRPCAction{Port: int32(port)}, Success, 5},
		{"not serving", &corev1.GRPCAction{Port: int32(port), Service: &sick}, Failure, 5},
		{"refused", &corev1.GRPCAction{Port: int32(closedPort(t))}, Failure, 1},
	} {
		got, msg, err := p.Probe(context.Background(), &corev1.Pod{}, &corev1.Container{}, &corev1.Probe{Grpc: tt.action, TimeoutSeconds: tt.timeout}, "", ip)
		if err != nil || got != tt.want {
			t.Errorf("%s: %v %q %v, want %v", tt.name, got, msg, err, tt.want)
		}
	}
}

// runningContainer creates and starts a container in a Fake and returns its ID.
func runningContainer(t *testing.T, rt *cri.Fake, name string) string {
	t.Helper()
	ctx := context.Background()
	sbCfg := &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "p-" + name, Namespace: "ns", Uid: "uid-" + name}}
	sb, err := rt.RunPodSandbox(ctx, sbCfg, "")
	if err != nil {
		t.Fatal(err)
	}
	rt.AddImage("busybox")
	id, err := rt.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name}, Image: &runtimeapi.ImageSpec{Image: "busybox"},
	}, sbCfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestExecProbe(t *testing.T) {
	rt := cri.NewFake()
	rt.OnExec = func(id string, cmd []string) (*runtimeapi.ExecSyncResponse, error) {
		switch cmd[0] {
		case "ok":
			return &runtimeapi.ExecSyncResponse{Stdout: []byte("all good")}, nil
		case "bad":
			return &runtimeapi.ExecSyncResponse{ExitCode: 2, Stderr: []byte("nope")}, nil
		case "slow":
			return nil, status.Error(codes.DeadlineExceeded, "timeout 1s exceeded: context deadline exceeded")
		case "broken":
			return nil, status.Error(codes.Unavailable, "runtime down")
		}
		return nil, errors.New("unexpected")
	}
	id := runningContainer(t, rt, "app")
	p := &Prober{Runtime: rt}
	for _, tt := range []struct {
		cmd     string
		want    Result
		msg     string
		wantErr bool
	}{
		{"ok", Success, "all good", false},
		{"bad", Failure, "exited with 2: nope", false},
		{"slow", Failure, "timed out", false},
		{"broken", Unknown, "", true},
	} {
		got, msg, err := p.Probe(context.Background(), &corev1.Pod{}, &corev1.Container{}, &corev1.Probe{Exec: &corev1.ExecAction{Command: []string{tt.cmd}}}, id, "")
		if (err != nil) != tt.wantErr || got != tt.want || !strings.Contains(msg, tt.msg) {
			t.Errorf("%s: %v %q %v, want %v %q (error %v)", tt.cmd, got, msg, err, tt.want, tt.msg, tt.wantErr)
		}
	}
	// A container that does not exist: the probe cannot run.
	if got, _, err := p.Probe(context.Background(), &corev1.Pod{}, &corev1.Container{}, &corev1.Probe{Exec: &corev1.ExecAction{Command: []string{"ok"}}}, "nonexistent", ""); err == nil || got != Unknown {
		t.Errorf("exec in a missing container: %v, %v", got, err)
	}
	// The timeout reaches the runtime.
	var gotTimeout time.Duration
	rec := &timeoutRecorder{Fake: rt, got: &gotTimeout}
	p2 := &Prober{Runtime: rec}
	if _, _, err := p2.Probe(context.Background(), &corev1.Pod{}, &corev1.Container{}, &corev1.Probe{Exec: &corev1.ExecAction{Command: []string{"ok"}}, TimeoutSeconds: 7}, id, ""); err != nil {
		t.Fatal(err)
	}
	if gotTimeout != 7*time.Second {
		t.Errorf("ExecSync timeout = %v, want 7s", gotTimeout)
	}
}

type timeoutRecorder struct {
	*cri.Fake
	got *time.Duration
}

func (r *timeoutRecorder) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (*runtimeapi.ExecSyncResponse, error) {
	*r.got = timeout
	return r.Fake.ExecSync(ctx, id, cmd, timeout)
}
