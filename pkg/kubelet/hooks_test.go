package kubelet_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/kubelet"
)

// events records the kubelet's events as "Type Reason: message".
type events struct {
	mu  sync.Mutex
	all []string
}

func (r *events) Eventf(obj proto.Message, eventType, reason, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, eventType+" "+reason+": "+fmt.Sprintf(format, args...))
}

// has tells whether an event starts with prefix and contains text.
func (r *events) has(prefix, text string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.all {
		if strings.HasPrefix(e, prefix) && strings.Contains(e, text) {
			return true
		}
	}
	return false
}

// deleteAndWait deletes the pod gracefully and waits until the kubelet
// has removed it.
func (e *env) deleteAndWait(t *testing.T, name string) {
	t.Helper()
	if _, _, err := e.client.Pods("default").Delete(ctx(t), name, client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "pod "+name+" deleted by the kubelet", func() (bool, string) {
		_, err := e.get(t, name)
		return apierrors.IsNotFound(err), "still there"
	})
}

// hookPod is a pod whose container has the given exec hooks (nil: none)
// and a grace period of 20s.
func hookPod(name string, postStart, preStop []string) *corev1.Pod {
	p := testPod(name, "Always", "app")
	lc := &corev1.Lifecycle{}
	if postStart != nil {
		lc.PostStart = &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: postStart}}
	}
	if preStop != nil {
		lc.PreStop = &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: preStop}}
	}
	p.Spec.Containers[0].Lifecycle = lc
	p.Spec.TerminationGracePeriodSeconds = proto.Int64(20)
	return p
}

// TestLifecycleHooksOrder: postStart runs after the start and the pod is
// not Running until it returns; on deletion preStop runs before the stop,
// which gets the grace period left.
func TestLifecycleHooksOrder(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	var mu sync.Mutex
	var seq []string
	e.fake.OnExec = func(id string, cmd []string) (*runtimeapi.ExecSyncResponse, error) {
		mu.Lock()
		seq = append(seq, strings.Join(cmd, " "))
		mu.Unlock()
		if cmd[0] == "post" {
			<-release
		}
		return &runtimeapi.ExecSyncResponse{}, nil
	}
	e.startKubelet(t, nil)
	e.create(t, hookPod("hooked", []string{"post"}, []string{"pre"}))

	waitFor(t, 20*time.Second, "the postStart hook runs", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(seq, "post"), fmt.Sprint(seq)
	})
	// The hook holds the start: the container is not reported running.
	if p, err := e.get(t, "hooked"); err != nil || p.GetStatus().GetPhase() == "Running" {
		t.Fatalf("pod during postStart: %v %v", describe(p), err)
	}
	close(release)
	e.waitPod(t, "hooked", "Running", phase("Running"))

	e.fake.ResetCalls()
	e.deleteAndWait(t, "hooked")
	var calls []string
	for _, c := range e.fake.Calls() {
		if c.Method == "ExecSync" || c.Method == "StopContainer" {
			calls = append(calls, c.Method)
		}
	}
	if len(calls) < 2 || calls[0] != "ExecSync" || calls[1] != "StopContainer" {
		t.Errorf("CRI calls during deletion: %v, want ExecSync (preStop) then StopContainer", calls)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seq, []string{"post", "pre"}) {
		t.Errorf("hooks run: %v, want [post pre]", seq)
	}
}

// TestFailedHooks: a failing postStart kills the container (event
// FailedPostStartHook) and the restart policy restarts it; a failing
// preStop is reported (FailedPreStopHook) and the deletion goes on.
func TestFailedHooks(t *testing.T) {
	e := newEnv(t)
	rec := &events{}
	var mu sync.Mutex
	postFails := true
	e.fake.OnExec = func(id string, cmd []string) (*runtimeapi.ExecSyncResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		if cmd[0] == "post" && postFails {
			postFails = false
			return &runtimeapi.ExecSyncResponse{ExitCode: 3, Stderr: []byte("not yet")}, nil
		}
		if cmd[0] == "pre" {
			return &runtimeapi.ExecSyncResponse{ExitCode: 1}, nil
		}
		return &runtimeapi.ExecSyncResponse{}, nil
	}
	e.startKubelet(t, func(c *kubelet.Config) { c.Events = rec })
	e.create(t, hookPod("failing", []string{"post"}, []string{"pre"}))
	e.waitPod(t, "failing", "Running after a restart", func(p *corev1.Pod) bool {
		cs := p.GetStatus().GetContainerStatuses()
		return p.GetStatus().GetPhase() == "Running" && len(cs) == 1 && cs[0].GetRestartCount() >= 1 && cs[0].GetState().GetRunning() != nil
	})
	if !rec.has("Warning FailedPostStartHook", "exited with 3: not yet") {
		t.Errorf("no FailedPostStartHook event; all: %v", rec.all)
	}
	e.deleteAndWait(t, "failing")
	if !rec.has("Warning FailedPreStopHook", `command ["pre"] exited with 1`) {
		t.Errorf("no FailedPreStopHook event; all: %v", rec.all)
	}
}

// TestDeletionInterruptsPostStart: a postStart hook that does not return
// does not hold the pod's deletion up.
func TestDeletionInterruptsPostStart(t *testing.T) {
	e := newEnv(t)
	e.startKubelet(t, nil)
	p := testPod("stuck", "Always", "app")
	p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 3600}}}
	e.create(t, p)
	waitFor(t, 20*time.Second, "the container started", func() (bool, string) {
		return e.fake.CallCount("StartContainer") > 0, "not yet"
	})
	e.deleteAndWait(t, "stuck")
}

// TestForceDeletionCutsPreStopShort: a pod whose preStop hook runs is
// deleted again with grace 0: the hook is cut short and its container
// stopped at once, not after the first grace period.
func TestForceDeletionCutsPreStopShort(t *testing.T) {
	e := newEnv(t)
	e.startKubelet(t, nil)
	p := testPod("slow", "Always", "app")
	p.Spec.TerminationGracePeriodSeconds = proto.Int64(300)
	p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 3600}}}
	e.create(t, p)
	e.waitPod(t, "slow", "Running", phase("Running"))
	if _, _, err := e.client.Pods("default").Delete(ctx(t), "slow", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the pod terminating", func() (bool, string) {
		p, err := e.get(t, "slow")
		return err == nil && p.GetMetadata().GetDeletionTimestamp() != nil, fmt.Sprint(err)
	})
	zero := int64(0)
	if _, _, err := e.client.Pods("default").Delete(ctx(t), "slow", client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the container stopped", func() (bool, string) {
		cs, err := e.fake.ListContainers(ctx(t), nil)
		if err != nil {
			return false, err.Error()
		}
		for _, c := range cs {
			if c.GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING {
				return false, "still running: " + c.GetId()
			}
		}
		return true, ""
	})
}
