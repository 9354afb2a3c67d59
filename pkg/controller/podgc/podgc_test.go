package podgc

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clocktesting "k8s.io/utils/clock/testing"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/testutil"
)

// These tests run the controller against a real apiserver: either Run,
// on the real clock with a short period and quarantine, or passes driven
// by hand on a fake clock.

const quarantine = 500 * time.Millisecond

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

type env struct {
	*controllertest.Env
	ctl *Controller
	clk *clocktesting.FakeClock // nil when Run drives the controller
}

// start runs the controller's Run loop every 20ms with the quarantine.
func start(t *testing.T, threshold int) *env {
	e := &env{}
	e.Env = controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		e.ctl = New(c, f, Config{Period: 20 * time.Millisecond, Quarantine: quarantine, TerminatedPodThreshold: threshold})
		return e.ctl.Run
	})
	return e
}

// startManual builds the controller on a fake clock; the test calls pass.
func startManual(t *testing.T) *env {
	e := &env{clk: clocktesting.NewFakeClock(t0)}
	e.Env = controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		e.ctl = New(c, f, Config{Quarantine: 40 * time.Second, Clock: e.clk})
		return func(ctx context.Context) { <-ctx.Done() }
	})
	return e
}

// pass runs one collection at now once the caches show every pod in pods
// and the nodes (present or not) as given.
func (e *env) pass(pods []string, nodes map[string]bool) {
	e.T.Helper()
	e.Eventually("the caches", func() error {
		for _, name := range pods {
			if _, ok := e.ctl.pods.Store().GetByName("default", name); !ok {
				return fmt.Errorf("pod %s not cached", name)
			}
		}
		for name, want := range nodes {
			if _, ok := e.ctl.nodes.Store().GetByName("", name); ok != want {
				return fmt.Errorf("node %s cached: %v, want %v", name, ok, want)
			}
		}
		return nil
	})
	if err := e.ctl.pass(e.Ctx); err != nil {
		e.T.Fatal(err)
	}
}

func (e *env) node(name, ready string, taints ...string) {
	e.T.Helper()
	if _, err := e.Client.Nodes().Create(e.Ctx, node(name, ready, taints...), client.CreateOptions{}); err != nil {
		e.T.Fatal(err)
	}
}

func (e *env) pod(name, node string) *corev1.Pod {
	e.T.Helper()
	p, err := e.Client.Pods("default").Create(e.Ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name},
		Spec: &corev1.PodSpec{NodeName: node, Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}, client.CreateOptions{})
	if err != nil {
		e.T.Fatal(err)
	}
	return p
}

// exists reports whether the pod exists (with the uid, if one is given).
func (e *env) exists(name, uid string) bool {
	e.T.Helper()
	p, err := e.Client.Pods("default").Get(e.Ctx, name)
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		e.T.Fatal(err)
	}
	return uid == "" || p.GetMetadata().GetUid() == uid
}

func (e *env) gone(name string) {
	e.T.Helper()
	e.Eventually("pod "+name+" deleted", func() error {
		if e.exists(name, "") {
			return fmt.Errorf("pod %s still exists", name)
		}
		return nil
	})
}

// collected reads keel_controller_manager_pods_gc_total{reason=r}.
func (e *env) collected(r Reason) float64 {
	e.T.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.ctl.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		e.T.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "keel_controller_manager_pods_gc_total" && len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == string(r) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestOrphanedAndOutOfService: a pod of a deleted node is force-deleted,
// though only after the quarantine; a terminating pod on a not-ready node
// tainted out-of-service is force-deleted at once (it had a 30s grace
// period); the other pods stay.
func TestOrphanedAndOutOfService(t *testing.T) {
	e := start(t, DefaultTerminatedPodThreshold)
	e.node("n1", api.ConditionTrue)
	e.node("doomed", api.ConditionTrue)
	e.node("down", api.ConditionFalse, api.TaintNodeOutOfService)
	e.pod("keep", "n1")
	e.pod("orphan", "doomed")
	e.pod("oos-running", "down")
	e.pod("oos-terminating", "down")
	// Terminating on n1 (ready, untainted): the kubelet's job, not ours.
	e.pod("n1-terminating", "n1")
	for _, name := range []string{"oos-terminating", "n1-terminating"} {
		if _, _, err := e.Client.Pods("default").Delete(e.Ctx, name, client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.gone("oos-terminating")

	if _, _, err := e.Client.Nodes().Delete(e.Ctx, "doomed", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	nodeDeleted := time.Now()
	e.gone("orphan")
	if waited := time.Since(nodeDeleted); waited < quarantine {
		t.Errorf("the orphan was deleted %v after its node, before the %v quarantine", waited, quarantine)
	}
	for _, name := range []string{"keep", "oos-running", "n1-terminating"} {
		if !e.exists(name, "") {
			t.Errorf("pod %s was deleted", name)
		}
	}
	// The counter moves just after the deletion the test saw.
	testutil.Eventually(t, 10*time.Second, "pods_gc_total counting both deletions", func() error {
		if o, s := e.collected(ReasonOrphaned), e.collected(ReasonOutOfService); o != 1 || s != 1 {
			return fmt.Errorf("pods_gc_total: orphaned %v, out-of-service %v; want 1 and 1", o, s)
		}
		return nil
	})
}

// TestQuarantine: a pod of a missing node stays until the node has been
// missing (on the controller's clock) for the quarantine; a node that
// reappears within it keeps its pods, and its quarantine starts over.
func TestQuarantine(t *testing.T) {
	e := startManual(t)
	e.node("flaky", api.ConditionTrue)
	e.node("doomed", api.ConditionTrue)
	e.pod("p", "flaky")
	e.pod("orphan", "doomed")
	for _, name := range []string{"flaky", "doomed"} {
		if _, _, err := e.Client.Nodes().Delete(e.Ctx, name, client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pods, bothGone := []string{"p", "orphan"}, map[string]bool{"flaky": false, "doomed": false}
	e.pass(pods, bothGone) // both first seen missing at t0
	e.clk.Step(40*time.Second - time.Millisecond)
	e.pass(pods, bothGone)
	if !e.exists("p", "") || !e.exists("orphan", "") {
		t.Fatal("a pod was deleted within the quarantine")
	}
	e.node("flaky", api.ConditionTrue)
	e.clk.Step(time.Millisecond)
	e.pass(pods, map[string]bool{"flaky": true, "doomed": false})
	if e.exists("orphan", "") {
		t.Error("the orphan outlived the quarantine")
	}
	if !e.exists("p", "") {
		t.Error("the pod of a node back within the quarantine was deleted")
	}
	// Gone again: a fresh quarantine.
	if _, _, err := e.Client.Nodes().Delete(e.Ctx, "flaky", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.clk.Step(time.Hour)
	e.pass([]string{"p"}, map[string]bool{"flaky": false})
	e.clk.Step(40*time.Second - time.Millisecond)
	e.pass([]string{"p"}, map[string]bool{"flaky": false})
	if !e.exists("p", "") {
		t.Fatal("deleted before a fresh quarantine was over")
	}
	e.clk.Step(time.Millisecond)
	e.pass(nil, map[string]bool{"flaky": false})
	if e.exists("p", "") {
		t.Error("the pod outlived its node's second quarantine")
	}
}

// TestTerminatedThreshold: beyond the threshold, the oldest finished pods
// go.
func TestTerminatedThreshold(t *testing.T) {
	e := start(t, 2)
	e.node("n1", api.ConditionTrue)
	for _, name := range []string{"t1", "t2", "t3", "running"} {
		p := e.pod(name, "n1")
		if name == "running" {
			continue
		}
		p.Status = &corev1.PodStatus{Phase: api.PodSucceeded}
		if _, err := e.Client.Pods("default").UpdateStatus(e.Ctx, p, client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.gone("t1")
	for _, name := range []string{"t2", "t3", "running"} {
		if !e.exists(name, "") {
			t.Errorf("pod %s was deleted", name)
		}
	}
}

// TestDeleteNeedsTheUID: a stale deletion does not delete the pod that
// has since replaced the one it named.
func TestDeleteNeedsTheUID(t *testing.T) {
	e := startManual(t)
	old := e.pod("same", "")
	zero := int64(0)
	if _, _, err := e.Client.Pods("default").Delete(e.Ctx, "same", client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	cur := e.pod("same", "")
	if err := e.ctl.delete(e.Ctx, Deletion{Namespace: "default", Name: "same", UID: old.GetMetadata().GetUid(), Reason: ReasonUnscheduledTerminating}); err != nil {
		t.Fatal(err)
	}
	if !e.exists("same", cur.GetMetadata().GetUid()) {
		t.Fatal("the recreated pod was deleted by a deletion of its predecessor")
	}
	// With the right uid, grace 0 removes a bound, running pod at once.
	p := e.pod("bound", "n1")
	if err := e.ctl.delete(e.Ctx, Deletion{Namespace: "default", Name: "bound", UID: p.GetMetadata().GetUid(), Reason: ReasonOrphaned}); err != nil {
		t.Fatal(err)
	}
	if e.exists("bound", "") {
		t.Fatal("a force-deleted pod still exists")
	}
}
