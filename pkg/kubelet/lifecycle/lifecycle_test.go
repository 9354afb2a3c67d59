package lifecycle

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/testutil"
)

// fakeRuntime records ExecSync and StopContainer calls in order; exec
// decides how a command ends.
type fakeRuntime struct {
	mu    sync.Mutex
	calls []string
	exec  func(ctx context.Context, cmd []string) (*runtimeapi.ExecSyncResponse, error)
}

func (f *fakeRuntime) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeRuntime) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (*runtimeapi.ExecSyncResponse, error) {
	f.record("exec " + strings.Join(cmd, " "))
	if f.exec != nil {
		return f.exec(ctx, cmd)
	}
	return &runtimeapi.ExecSyncResponse{}, nil
}

func (f *fakeRuntime) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	f.record("stop " + timeout.String())
	return nil
}

func (f *fakeRuntime) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func withPreStop(h *corev1.LifecycleHandler) *corev1.Container {
	return &corev1.Container{Name: "c", Lifecycle: &corev1.Lifecycle{PreStop: h}}
}

func execHandler(cmd ...string) *corev1.LifecycleHandler {
	return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: cmd}}
}

func TestStopGraceAndRunsPreStop(t *testing.T) {
	for _, tc := range []struct {
		grace, took, want time.Duration
	}{
		{30 * time.Second, 5 * time.Second, 25 * time.Second},
		{30 * time.Second, 0, 30 * time.Second},
		{10 * time.Second, 9 * time.Second, MinStopGrace},  // the minimum window
		{10 * time.Second, 12 * time.Second, MinStopGrace}, // the hook outlived the grace period
	} {
		if got := StopGrace(tc.grace, tc.took); got != tc.want {
			t.Errorf("StopGrace(%v, %v) = %v, want %v", tc.grace, tc.took, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name  string
		c     *corev1.Container
		grace time.Duration
		want  bool
	}{
		{"no spec", nil, time.Second, false},
		{"no lifecycle", &corev1.Container{}, time.Second, false},
		{"postStart only", &corev1.Container{Lifecycle: &corev1.Lifecycle{PostStart: execHandler("true")}}, time.Second, false},
		{"preStop", withPreStop(execHandler("true")), time.Second, true},
		{"preStop, grace 0 (forced)", withPreStop(execHandler("true")), 0, false},
	} {
		if got := RunsPreStop(tc.c, tc.grace); got != tc.want {
			t.Errorf("%s: RunsPreStop = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestStopRunsPreStopThenStops: the hook runs first, the stop gets the
// grace left, and a failing hook is reported but does not stop the stop.
func TestStopRunsPreStopThenStops(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	rt := &fakeRuntime{exec: func(ctx context.Context, cmd []string) (*runtimeapi.ExecSyncResponse, error) {
		clk.Step(3 * time.Second) // the hook takes 3s
		if cmd[0] == "false" {
			return &runtimeapi.ExecSyncResponse{ExitCode: 1, Stderr: []byte("nope")}, nil
		}
		return &runtimeapi.ExecSyncResponse{}, nil
	}}
	r := &Runner{Runtime: rt, Clock: clk}
	var failed []error
	report := func(err error) { failed = append(failed, err) }

	if err := r.Stop(context.Background(), context.Background(), withPreStop(execHandler("drain")), "id", "", 30*time.Second, report); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rt.got(), "; "), "exec drain; stop 27s"; got != want {
		t.Errorf("calls = %q, want %q", got, want)
	}
	if len(failed) != 0 {
		t.Errorf("failures reported: %v", failed)
	}

	rt.calls = nil
	if err := r.Stop(context.Background(), context.Background(), withPreStop(execHandler("false")), "id", "", 30*time.Second, report); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rt.got(), "; "), "exec false; stop 27s"; got != want {
		t.Errorf("calls = %q, want %q", got, want)
	}
	if len(failed) != 1 || !strings.Contains(failed[0].Error(), "exited with 1: nope") {
		t.Errorf("failures reported: %v", failed)
	}

	// No hook, or grace 0: straight to the stop.
	rt.calls = nil
	if err := r.Stop(context.Background(), context.Background(), &corev1.Container{}, "id", "", 5*time.Second, report); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(context.Background(), context.Background(), withPreStop(execHandler("drain")), "id", "", 0, report); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rt.got(), "; "), "stop 5s; stop 0s"; got != want {
		t.Errorf("calls = %q, want %q", got, want)
	}
}

// TestStopBoundsAHangingPreStop: a preStop hook that does not return is
// cancelled when the grace period runs out, and the container still gets
// the minimum window before SIGKILL.
func TestStopBoundsAHangingPreStop(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	rt := &fakeRuntime{}
	r := &Runner{Runtime: rt, Clock: clk}
	var failed []error
	done := make(chan error, 1)
	go func() {
		done <- r.Stop(context.Background(), context.Background(), withPreStop(&corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 3600}}),
			"id", "", 10*time.Second, func(err error) { failed = append(failed, err) })
	}()
	// Wait for the hook's sleep and the grace timer, then let 10s pass.
	testutil.Eventually(t, 10*time.Second, "the hook waiting on the clock", testutil.Condition(func() bool {
		return clk.HasWaiters() && len(rt.got()) == 0
	}, "not waiting yet"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		clk.Step(10 * time.Second)
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(rt.got(), "; "), "stop 2s"; got != want {
				t.Errorf("calls = %q, want %q", got, want)
			}
			if len(failed) != 1 || !strings.Contains(failed[0].Error(), "grace period") {
				t.Errorf("failures reported: %v", failed)
			}
			return
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("Stop did not return after the grace period")
		}
	}
}

func TestRunHandlers(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Hook")+" "+r.UserAgent())
		mu.Unlock()
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	host, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	c := &corev1.Container{Name: "c", Ports: []*corev1.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}
	httpGet := func(path string, p *metav1.IntOrString) *corev1.LifecycleHandler {
		return &corev1.LifecycleHandler{HttpGet: &corev1.HTTPGetAction{Path: path, Port: p,
			HttpHeaders: []*corev1.HTTPHeader{{Name: "X-Hook", Value: "yes"}}}}
	}
	named := api.IntOrStringFromString("web")
	numbered := api.IntOrStringFromInt(int32(port))
	rt := &fakeRuntime{exec: func(ctx context.Context, cmd []string) (*runtimeapi.ExecSyncResponse, error) {
		if cmd[0] == "broken" {
			return nil, errors.New("no such container")
		}
		return &runtimeapi.ExecSyncResponse{}, nil
	}}
	r := &Runner{Runtime: rt, Clock: clock.RealClock{}}
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		h       *corev1.LifecycleHandler
		wantErr string
	}{
		{"exec", execHandler("touch", "/started"), ""},
		{"exec fails to run", execHandler("broken"), "no such container"},
		{"exec empty", execHandler(), "empty command"},
		{"httpGet by port name, host = pod IP", httpGet("/hook", named), ""},
		{"httpGet by number", httpGet("hook2", numbered), ""},
		{"httpGet: any status counts, as in Kubernetes", httpGet("/fail", numbered), ""},
		{"httpGet unknown port name", httpGet("/", api.IntOrStringFromString("nope")), "nope"},
		{"sleep 0", &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{}}, ""},
		{"tcpSocket", &corev1.LifecycleHandler{TcpSocket: &corev1.TCPSocketAction{Port: numbered}}, "not supported"},
		{"none", &corev1.LifecycleHandler{}, "no handler"},
	} {
		err := r.Run(ctx, c, "id", host, tc.h)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
		}
	}
	want := []string{"GET /hook yes " + UserAgent, "GET /hook2 yes " + UserAgent, "GET /fail yes " + UserAgent}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// An httpGet hook with nothing listening fails.
	srv.Close()
	if err := r.Run(ctx, c, "id", host, httpGet("/", numbered)); err == nil {
		t.Error("httpGet to a closed port succeeded")
	}
}

// TestStopHookCutShort: a preStop hook cancelled through hookCtx (the pod's
// deletion became more urgent) is no failure, and the container is then
// stopped with the least grace.
func TestStopHookCutShort(t *testing.T) {
	rt := &fakeRuntime{}
	r := &Runner{Runtime: rt, Clock: clocktesting.NewFakeClock(time.Unix(1000, 0))}
	hookCtx, cancel := context.WithCancel(context.Background())
	cancel()
	var failed []error
	err := r.Stop(context.Background(), hookCtx, withPreStop(&corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 3600}}),
		"id", "", time.Minute, func(err error) { failed = append(failed, err) })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(rt.got(), "; "), "stop 2s"; got != want {
		t.Errorf("calls = %q, want %q", got, want)
	}
	if len(failed) != 0 {
		t.Errorf("failures reported: %v", failed)
	}
}
