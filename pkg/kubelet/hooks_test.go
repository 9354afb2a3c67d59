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

// find returns the first event starting with prefix, or "".
func (r *events) find(prefix string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.all {
		if strings.HasPrefix(e, prefix) {
			return e
		}
	}
	return ""
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
	if _, _, err := e.client.Pods("default").Delete(ctx(t), "hooked", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "pod deleted by the kubelet", func() (bool, string) {
		_, err := e.get(t, "hooked")
		return apierrors.IsNotFound(err), "still there"
	})
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
	if ev := rec.find("Warning FailedPostStartHook"); !strings.Contains(ev, "exited with 3: not yet") {
		t.Errorf("FailedPostStartHook event: %q; all: %v", ev, rec.all)
	}
	if _, _, err := e.client.Pods("default").Delete(ctx(t), "failing", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "pod deleted by the kubelet", func() (bool, string) {
		_, err := e.get(t, "failing")
		return apierrors.IsNotFound(err), "still there"
	})
	if ev := rec.find("Warning FailedPreStopHook"); !strings.Contains(ev, `command ["pre"] exited with 1`) {
		t.Errorf("FailedPreStopHook event: %q", ev)
	}
}
