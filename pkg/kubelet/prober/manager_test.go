package prober

import (
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/kubelet/cri"
)

// harness drives a Manager with a fake clock and exec probes answered by a
// cri.Fake: the command names the behaviour ("live", "ready", "startup")
// and the test sets each one's exit code (or an error) and counts the runs.
type harness struct {
	t   *testing.T
	fc  *clocktesting.FakeClock
	rt  *cri.Fake
	m   *Manager
	mu  sync.Mutex
	rc  map[string]int32 // exit code by command; absent: 0
	err map[string]error
	n   map[string]int // runs by command
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, fc: clocktesting.NewFakeClock(time.Unix(1_000_000, 0)), rt: cri.NewFake(),
		rc: map[string]int32{}, err: map[string]error{}, n: map[string]int{}}
	h.rt.OnExec = func(id string, cmd []string) (*runtimeapi.ExecSyncResponse, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.n[cmd[0]]++
		if err := h.err[cmd[0]]; err != nil {
			return nil, err
		}
		return &runtimeapi.ExecSyncResponse{ExitCode: h.rc[cmd[0]], Stdout: []byte(cmd[0] + " output")}, nil
	}
	h.m = NewManager(&Prober{Runtime: h.rt}, h.fc, nil)
	t.Cleanup(h.m.Stop)
	return h
}

func (h *harness) set(cmd string, code int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rc[cmd] = code
}

func (h *harness) setErr(cmd string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.err[cmd] = err
}

func (h *harness) runs(cmd string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[cmd]
}

// settle waits until runs of each command are as given and waiters timers
// are pending: every worker has recorded its result and waits again.
func (h *harness) settle(waiters int, runs map[string]int) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := h.fc.Waiters() == waiters
		for cmd, n := range runs {
			if h.runs(cmd) != n {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			got := map[string]int{}
			for cmd := range runs {
				got[cmd] = h.runs(cmd)
			}
			h.t.Fatalf("not settled: waiters %d (want %d), runs %v (want %v)", h.fc.Waiters(), waiters, got, runs)
		}
		time.Sleep(time.Millisecond)
	}
}

// next returns the next update, failing after a deadline.
func (h *harness) next() Update {
	h.t.Helper()
	select {
	case u := <-h.m.Updates():
		return u
	case <-time.After(10 * time.Second):
		h.t.Fatal("no update")
	}
	return Update{}
}

// noUpdate checks that no update is queued or waiting in the channel.
// Updates are queued under the manager's lock before a worker waits again,
// so after settle this misses only an update the forwarder holds in hand.
func (h *harness) noUpdate() {
	h.t.Helper()
	h.m.mu.Lock()
	queued := len(h.m.queue)
	h.m.mu.Unlock()
	if queued > 0 || len(h.m.out) > 0 {
		h.t.Fatalf("unexpected update: %d queued, %d in the channel", queued, len(h.m.out))
	}
}

func execProbe(cmd string, initialDelay, period, success, failure int32) *corev1.Probe {
	return &corev1.Probe{Exec: &corev1.ExecAction{Command: []string{cmd}}, InitialDelaySeconds: initialDelay,
		PeriodSeconds: period, SuccessThreshold: success, FailureThreshold: failure, TimeoutSeconds: 1}
}

func (h *harness) pod(uid string, c *corev1.Container) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", Namespace: "ns", Uid: uid},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{c}}}
}

func TestReadinessThresholds(t *testing.T) {
	h := newHarness(t)
	id := runningContainer(t, h.rt, "app")
	c := &corev1.Container{Name: "app", ReadinessProbe: execProbe("ready", 5, 10, 2, 3)}
	h.m.AddContainer(h.pod("u1", c), "app", id, "10.0.0.1")
	h.settle(1, map[string]int{"ready": 0})
	if h.m.Ready("u1", "app") || !h.m.Started("u1", "app") {
		t.Fatal("ready before any probe, or not started without a startup probe")
	}
	h.fc.Step(4 * time.Second) // before initialDelaySeconds: nothing runs
	h.settle(1, map[string]int{"ready": 0})
	h.fc.Step(time.Second)
	h.settle(1, map[string]int{"ready": 1})
	if h.m.Ready("u1", "app") {
		t.Fatal("ready after 1 success, successThreshold is 2")
	}
	h.noUpdate()
	h.fc.Step(10 * time.Second)
	h.settle(1, map[string]int{"ready": 2})
	if !h.m.Ready("u1", "app") {
		t.Fatal("not ready after 2 successes")
	}
	if u := h.next(); u.Kind != Readiness || u.Result != Success || u.PodUID != "u1" || u.ContainerName != "app" || u.ContainerID != id {
		t.Fatalf("update %+v", u)
	}
	h.set("ready", 1)
	for i := 3; i <= 4; i++ {
		h.fc.Step(10 * time.Second)
		h.settle(1, map[string]int{"ready": i})
		if !h.m.Ready("u1", "app") {
			t.Fatalf("not ready after %d failures, failureThreshold is 3", i-2)
		}
	}
	// A success in between resets the failure count.
	h.set("ready", 0)
	h.fc.Step(10 * time.Second)
	h.settle(1, map[string]int{"ready": 5})
	h.set("ready", 1)
	for i := 6; i <= 8; i++ {
		h.fc.Step(10 * time.Second)
		h.settle(1, map[string]int{"ready": i})
	}
	if h.m.Ready("u1", "app") {
		t.Fatal("still ready after 3 consecutive failures")
	}
	if u := h.next(); u.Kind != Readiness || u.Result != Failure || u.Message == "" {
		t.Fatalf("update %+v", u)
	}
	h.noUpdate()
}

func TestLivenessFailureAndRestart(t *testing.T) {
	h := newHarness(t)
	id := runningContainer(t, h.rt, "app")
	c := &corev1.Container{Name: "app", LivenessProbe: execProbe("live", 0, 1, 1, 3)}
	pod := h.pod("u1", c)
	h.m.AddContainer(pod, "app", id, "10.0.0.1")
	// No readiness probe: ready at once.
	if u := h.next(); u.Kind != Readiness || u.Result != Success {
		t.Fatalf("update %+v", u)
	}
	if !h.m.Ready("u1", "app") {
		t.Fatal("a container without a readiness probe is not ready")
	}
	h.settle(1, map[string]int{"live": 1}) // initialDelaySeconds 0: runs at once
	h.set("live", 1)
	for i := 2; i <= 3; i++ {
		h.fc.Step(time.Second)
		h.settle(1, map[string]int{"live": i})
	}
	if failed, _ := h.m.LivenessFailed("u1", "app"); failed {
		t.Fatal("liveness failed after 2 failures, failureThreshold is 3")
	}
	// Errors running the probe are ignored.
	h.setErr("live", status.Error(codes.Unavailable, "runtime restarting"))
	h.fc.Step(time.Second)
	h.settle(1, map[string]int{"live": 4})
	if failed, _ := h.m.LivenessFailed("u1", "app"); failed {
		t.Fatal("a probe error counted as a failure")
	}
	h.setErr("live", nil)
	h.fc.Step(time.Second)
	// The worker records the failure, then emits the update, then holds
	// (no timer): wait for the update, since "no timer" is also true while
	// the worker is still recording.
	if u := h.next(); u.Kind != Liveness || u.Result != Failure {
		t.Fatalf("update %+v", u)
	}
	h.settle(0, map[string]int{"live": 5})
	failed, msg := h.m.LivenessFailed("u1", "app")
	if !failed || msg == "" {
		t.Fatalf("LivenessFailed = %v %q after 3 failures", failed, msg)
	}

	// The kubelet restarts the container: a new ID starts afresh.
	id2 := runningContainer(t, h.rt, "app2")
	h.set("live", 0)
	h.m.AddContainer(pod, "app", id2, "10.0.0.1")
	if failed, _ := h.m.LivenessFailed("u1", "app"); failed {
		t.Fatal("liveness still failed for the new container")
	}
	if u := h.next(); u.Kind != Readiness || u.Result != Success || u.ContainerID != id2 {
		t.Fatalf("update %+v", u)
	}
	h.settle(1, map[string]int{"live": 6})
	// Adding the same ID again changes nothing.
	h.m.AddContainer(pod, "app", id2, "10.0.0.2")
	h.settle(1, map[string]int{"live": 6})
	h.noUpdate()

	h.m.RemovePod("u1")
	h.settle(0, map[string]int{"live": 6})
	if h.m.Ready("u1", "app") || h.m.Started("u1", "app") {
		t.Fatal("state kept after RemovePod")
	}
}

func TestStartupGatesOthers(t *testing.T) {
	h := newHarness(t)
	id := runningContainer(t, h.rt, "app")
	c := &corev1.Container{Name: "app",
		StartupProbe:   execProbe("startup", 0, 1, 1, 10),
		LivenessProbe:  execProbe("live", 0, 10, 1, 1),
		ReadinessProbe: execProbe("ready", 0, 10, 1, 1),
	}
	h.set("startup", 1)
	h.m.AddContainer(h.pod("u1", c), "app", id, "10.0.0.1")
	h.settle(3, map[string]int{"startup": 1, "live": 0, "ready": 0})
	h.fc.Step(time.Second)
	h.settle(3, map[string]int{"startup": 2, "live": 0, "ready": 0})
	if h.m.Started("u1", "app") || h.m.Ready("u1", "app") {
		t.Fatal("started or ready while the startup probe fails")
	}
	h.set("startup", 0)
	h.fc.Step(time.Second)
	h.settle(2, map[string]int{"startup": 3, "live": 0, "ready": 0}) // the startup worker is done
	if !h.m.Started("u1", "app") || h.m.Ready("u1", "app") {
		t.Fatalf("started %v ready %v after startup passed", h.m.Started("u1", "app"), h.m.Ready("u1", "app"))
	}
	if u := h.next(); u.Kind != Startup || u.Result != Success {
		t.Fatalf("update %+v", u)
	}
	// The others were gated until now; they run at their next period.
	h.fc.Step(8 * time.Second)
	h.settle(2, map[string]int{"startup": 3, "live": 1, "ready": 1})
	if !h.m.Ready("u1", "app") {
		t.Fatal("not ready after the readiness probe passed")
	}
	if u := h.next(); u.Kind != Readiness || u.Result != Success {
		t.Fatalf("update %+v", u)
	}
}

func TestStartupFailureCountsAsLivenessFailure(t *testing.T) {
	h := newHarness(t)
	id := runningContainer(t, h.rt, "app")
	c := &corev1.Container{Name: "app", StartupProbe: execProbe("startup", 0, 1, 1, 2)}
	h.set("startup", 1)
	h.m.AddContainer(h.pod("u1", c), "app", id, "10.0.0.1")
	h.settle(1, map[string]int{"startup": 1})
	h.fc.Step(time.Second)
	// Wait for the update: the state is recorded before it is emitted.
	if u := h.next(); u.Kind != Startup || u.Result != Failure {
		t.Fatalf("update %+v", u)
	}
	h.settle(0, map[string]int{"startup": 2})
	failed, msg := h.m.LivenessFailed("u1", "app")
	if !failed || msg != "Startup probe failed: command [\"startup\"] exited with 1: startup output" {
		t.Fatalf("LivenessFailed = %v %q", failed, msg)
	}
	if h.m.Started("u1", "app") || h.m.Ready("u1", "app") {
		t.Fatal("started or ready after the startup probe failed")
	}
}

func TestUnknownContainerAndStop(t *testing.T) {
	h := newHarness(t)
	if h.m.Ready("nope", "x") || h.m.Started("nope", "x") {
		t.Fatal("unknown container ready or started")
	}
	if failed, _ := h.m.LivenessFailed("nope", "x"); failed {
		t.Fatal("unknown container failed")
	}
	// A container not in the spec is ignored.
	h.m.AddContainer(h.pod("u1", &corev1.Container{Name: "a"}), "b", "id", "")
	if h.m.Ready("u1", "b") {
		t.Fatal("container outside the spec is ready")
	}
	id := runningContainer(t, h.rt, "app")
	h.m.AddContainer(h.pod("u2", &corev1.Container{Name: "app", ReadinessProbe: execProbe("ready", 100, 10, 1, 1)}), "app", id, "")
	h.settle(1, nil)
	h.m.RemoveContainer("u2", "app")
	h.settle(0, nil)
	h.m.Stop()
	for range h.m.Updates() { // drains what was queued; ends once closed
	}
	h.m.AddContainer(h.pod("u3", &corev1.Container{Name: "app"}), "app", id, "")
	if h.m.Ready("u3", "app") {
		t.Fatal("AddContainer after Stop took effect")
	}
}
