package nodelifecycle

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	clocktesting "k8s.io/utils/clock/testing"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/controllertest"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// env drives the controller's passes by hand (monitor), on a fake clock,
// against a real apiserver.
type env struct {
	*controllertest.Env
	ctl *Controller
	clk *clocktesting.FakeClock
}

func start(t *testing.T) *env {
	e := &env{clk: clocktesting.NewFakeClock(t0)}
	e.Env = controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		e.ctl = New(c, f, Config{Clock: e.clk})
		return func(ctx context.Context) { <-ctx.Done() }
	})
	e.Eventually("caches synced", func() error {
		if !e.ctl.nodes.HasSynced() || !e.ctl.leases.HasSynced() || !e.ctl.pods.HasSynced() {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	return e
}

// heartbeat posts the node's Ready status with a new heartbeat, as its
// kubelet does, and waits until the controller's cache shows it.
func (e *env) heartbeat(name, status string) {
	e.T.Helper()
	n, err := e.Client.Nodes().Get(e.Ctx, name)
	if apierrors.IsNotFound(err) {
		n = &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name}}
	} else if err != nil {
		e.T.Fatal(err)
	}
	hb := timestamppb.New(e.clk.Now())
	n.Status = &corev1.NodeStatus{Conditions: []*corev1.NodeCondition{{Type: api.NodeReady, Status: status, LastHeartbeatTime: hb}}}
	var got *corev1.Node
	if n.GetMetadata().GetUid() == "" {
		got, err = e.Client.Nodes().Create(e.Ctx, n, client.CreateOptions{})
	} else {
		got, err = e.Client.Nodes().UpdateStatus(e.Ctx, n, client.UpdateOptions{})
	}
	if err != nil {
		e.T.Fatal(err)
	}
	e.cached(name, got.GetMetadata().GetResourceVersion())
}

// cached waits until the controller's node cache holds resourceVersion rv
// (or later) of the node.
func (e *env) cached(name, rv string) {
	e.T.Helper()
	e.Eventually("the node cache at "+rv, func() error {
		n, ok := e.ctl.nodes.Store().GetByName("", name)
		if !ok || len(n.GetMetadata().GetResourceVersion()) < len(rv) || n.GetMetadata().GetResourceVersion() < rv {
			return fmt.Errorf("node %s not cached at %s", name, rv)
		}
		return nil
	})
}

// pass runs one monitoring pass and waits for the node caches to show
// its writes.
func (e *env) pass(nodes ...string) {
	e.T.Helper()
	if err := e.ctl.monitor(e.Ctx); err != nil {
		e.T.Fatal(err)
	}
	for _, name := range nodes {
		n, err := e.Client.Nodes().Get(e.Ctx, name)
		if err != nil {
			e.T.Fatal(err)
		}
		e.cached(name, n.GetMetadata().GetResourceVersion())
	}
}

func (e *env) pod(name, node string, tolerations ...*corev1.Toleration) {
	e.T.Helper()
	p, err := e.Client.Pods("default").Create(e.Ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name},
		Spec: &corev1.PodSpec{NodeName: node, Tolerations: tolerations, Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}},
		client.CreateOptions{})
	if err != nil {
		e.T.Fatal(err)
	}
	e.Eventually("pod cached", func() error {
		if _, ok := e.ctl.pods.Store().GetByName("default", p.GetMetadata().GetName()); !ok {
			return fmt.Errorf("pod %s not cached", name)
		}
		return nil
	})
}

// evicted reports which of the pods are being deleted.
func (e *env) evicted(names ...string) map[string]bool {
	e.T.Helper()
	out := map[string]bool{}
	for _, name := range names {
		p, err := e.Client.Pods("default").Get(e.Ctx, name)
		if err != nil {
			e.T.Fatal(err)
		}
		out[name] = p.GetMetadata().GetDeletionTimestamp() != nil
	}
	return out
}

func (e *env) node(name string) *corev1.Node {
	e.T.Helper()
	n, err := e.Client.Nodes().Get(e.Ctx, name)
	if err != nil {
		e.T.Fatal(err)
	}
	return n
}

func taintKeys(n *corev1.Node) []string {
	var out []string
	for _, t := range n.GetSpec().GetTaints() {
		out = append(out, t.GetKey()+":"+t.GetEffect())
	}
	return out
}

func TestUnreachableNodeIsTaintedAndItsPodsEvicted(t *testing.T) {
	e := start(t)
	e.heartbeat("n1", api.ConditionTrue)
	e.heartbeat("n2", api.ConditionTrue)
	ten := int64(10)
	e.pod("default-toleration", "n1")
	e.pod("ten-seconds", "n1", &corev1.Toleration{Key: api.TaintNodeUnreachable, Operator: "Exists", Effect: api.TaintEffectNoExecute, TolerationSeconds: &ten})
	e.pod("forever", "n1", &corev1.Toleration{Operator: "Exists"})
	e.pod("elsewhere", "n2")
	e.pass("n1", "n2")

	// n1 goes silent; n2 keeps reporting.
	e.clk.Step(41 * time.Second)
	e.heartbeat("n2", api.ConditionTrue)
	e.pass("n1", "n2")
	n1 := e.node("n1")
	if ready(n1).GetStatus() != api.ConditionUnknown || fmt.Sprint(taintKeys(n1)) != "["+api.TaintNodeUnreachable+":NoSchedule "+api.TaintNodeUnreachable+":NoExecute]" {
		t.Fatalf("silent node: Ready %s, taints %v", ready(n1).GetStatus(), taintKeys(n1))
	}
	if n2 := e.node("n2"); ready(n2).GetStatus() != api.ConditionTrue || len(taintKeys(n2)) != 0 {
		t.Fatalf("reporting node: Ready %s, taints %v", ready(n2).GetStatus(), taintKeys(n2))
	}
	pods := []string{"default-toleration", "ten-seconds", "forever", "elsewhere"}
	if got := e.evicted(pods...); got["default-toleration"] || got["ten-seconds"] || got["forever"] || got["elsewhere"] {
		t.Fatalf("evicted at once: %v", got)
	}

	e.clk.Step(11 * time.Second)
	e.heartbeat("n2", api.ConditionTrue)
	e.pass("n1", "n2")
	if got := e.evicted(pods...); !got["ten-seconds"] || got["default-toleration"] || got["forever"] || got["elsewhere"] {
		t.Fatalf("after 11s under the taint: %v, want only ten-seconds evicted", got)
	}

	e.clk.Step(300 * time.Second)
	e.heartbeat("n2", api.ConditionTrue)
	e.pass("n1", "n2")
	if got := e.evicted(pods...); !got["default-toleration"] || got["forever"] || got["elsewhere"] {
		t.Fatalf("after 311s under the taint: %v, want default-toleration evicted too", got)
	}

	// n1 comes back: the taints go.
	e.heartbeat("n1", api.ConditionTrue)
	e.pass("n1")
	if keys := taintKeys(e.node("n1")); len(keys) != 0 {
		t.Fatalf("taints after the node came back: %v", keys)
	}
}

func TestNoEvictionWhenEveryNodeIsUnhealthy(t *testing.T) {
	e := start(t)
	e.heartbeat("only", api.ConditionTrue)
	e.pod("p", "only")
	e.pass("only")
	e.clk.Step(400 * time.Second)
	e.pass("only")
	e.pass("only")
	if ready(e.node("only")).GetStatus() != api.ConditionUnknown {
		t.Fatal("the silent node is not Unknown")
	}
	if got := e.evicted("p"); got["p"] {
		t.Fatal("a pod was evicted while every node was unhealthy")
	}
}

func TestNotReadyNodeIsTaintedNotReady(t *testing.T) {
	e := start(t)
	e.heartbeat("sick", api.ConditionFalse)
	e.heartbeat("well", api.ConditionTrue)
	e.pass("sick", "well")
	if keys := fmt.Sprint(taintKeys(e.node("sick"))); keys != "["+api.TaintNodeNotReady+":NoSchedule "+api.TaintNodeNotReady+":NoExecute]" {
		t.Fatalf("taints of a NotReady node: %s", keys)
	}
}

// readyPod creates a pod on node with its Ready condition True, as its
// kubelet reports it, and waits until the controller's cache shows it.
func (e *env) readyPod(name, node string) {
	e.T.Helper()
	p, err := e.Client.Pods("default").Create(e.Ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name},
		Spec: &corev1.PodSpec{NodeName: node, Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}, client.CreateOptions{})
	if err != nil {
		e.T.Fatal(err)
	}
	p.Status = &corev1.PodStatus{Phase: api.PodRunning, PodIp: "10.244.0.9",
		Conditions: []*corev1.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue, LastTransitionTime: timestamppb.New(e.clk.Now())}}}
	if p, err = e.Client.Pods("default").UpdateStatus(e.Ctx, p, client.UpdateOptions{}); err != nil {
		e.T.Fatal(err)
	}
	e.Eventually("pod cached ready", func() error {
		if c, ok := e.ctl.pods.Store().GetByName("default", name); !ok || !api.IsPodReady(c) {
			return fmt.Errorf("pod %s not cached ready", name)
		}
		return nil
	})
}

// TestPodsOfNotReadyNodeTurnNotReady: once the controller marks a silent
// node Unknown, its pods' Ready condition turns False (so they leave
// their Services' endpoints); the pods of a healthy node keep theirs.
func TestPodsOfNotReadyNodeTurnNotReady(t *testing.T) {
	e := start(t)
	e.heartbeat("n1", api.ConditionTrue)
	e.heartbeat("n2", api.ConditionTrue)
	e.readyPod("on-silent", "n1")
	e.readyPod("on-healthy", "n2")
	e.pass("n1", "n2")

	e.clk.Step(41 * time.Second)
	e.heartbeat("n2", api.ConditionTrue)
	e.pass("n1", "n2")
	if ready(e.node("n1")).GetStatus() != api.ConditionUnknown {
		t.Fatal("the silent node is not Unknown")
	}
	for name, want := range map[string]bool{"on-silent": false, "on-healthy": true} {
		p, err := e.Client.Pods("default").Get(e.Ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if api.IsPodReady(p) != want {
			t.Errorf("pod %s ready %v, want %v", name, api.IsPodReady(p), want)
		}
		if c := api.GetPodCondition(p.GetStatus(), api.PodReady); !want && !c.GetLastTransitionTime().AsTime().Equal(e.clk.Now()) {
			t.Errorf("pod %s Ready turned False at %v, want %v", name, c.GetLastTransitionTime().AsTime(), e.clk.Now())
		}
	}
}
