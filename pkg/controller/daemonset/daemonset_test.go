package daemonset_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/controller/daemonset"
	"keel.dev/keel/pkg/controller/history"
)

// env is a real apiserver (Node,RBAC authorization) with the DaemonSet
// controller running against it as daemon-set-controller; no scheduler
// or kubelet: the test plays the kubelet (readiness) and reads a pod's
// node from its node affinity.
type env struct {
	*controllertest.Env
}

func start(t *testing.T) *env {
	e := &env{controllertest.StartAs(t, "daemon-set-controller", func(c *client.Client, f *informer.Factory) func(context.Context) {
		rec, err := record.New(record.Config{Sink: record.ClientSink(c), Component: "daemonset-controller"})
		if err != nil {
			t.Fatal(err)
		}
		ctl := daemonset.New(c, f, rec, nil)
		return func(ctx context.Context) {
			ctl.Run(ctx, 2)
			_ = rec.Shutdown(context.Background())
		}
	})}
	e.Namespace("ops")
	return e
}

func (e *env) addNode(name string, labels map[string]string, taints ...*corev1.Taint) {
	e.T.Helper()
	n := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name, Labels: labels}, Spec: &corev1.NodeSpec{Taints: taints}}
	if _, err := e.Client.Nodes().Create(e.Ctx, n, client.CreateOptions{}); err != nil {
		e.T.Fatal(err)
	}
}

func (e *env) get(name string) *appsv1.DaemonSet {
	e.T.Helper()
	ds, err := client.For[*appsv1.DaemonSet](e.Client, "ops").Get(e.Ctx, name)
	if err != nil {
		e.T.Fatal(err)
	}
	return ds
}

func (e *env) update(name string, f func(*appsv1.DaemonSet)) {
	e.T.Helper()
	e.Eventually("DaemonSet "+name+" updated", func() error {
		ds := e.get(name)
		f(ds)
		_, err := client.For[*appsv1.DaemonSet](e.Client, "ops").Update(e.Ctx, ds, client.UpdateOptions{})
		return err
	})
}

// pods returns the live daemon pods by node.
func (e *env) pods() map[string][]*corev1.Pod {
	e.T.Helper()
	l, err := e.Client.Pods("ops").List(e.Ctx, client.ListOptions{LabelSelector: "app=agent"})
	if err != nil {
		e.T.Fatal(err)
	}
	out := map[string][]*corev1.Pod{}
	for _, p := range l.Items {
		if p.GetMetadata().GetDeletionTimestamp() == nil {
			out[daemonset.PodNodeName(p)] = append(out[daemonset.PodNodeName(p)], p)
		}
	}
	return out
}

// readyAll plays the kubelet: every live daemon pod runs and is ready.
func (e *env) readyAll() {
	e.T.Helper()
	for _, ps := range e.pods() {
		for _, p := range ps {
			if api.IsPodReady(p) {
				continue
			}
			p.Status = &corev1.PodStatus{Phase: api.PodRunning, Conditions: []*corev1.PodCondition{
				{Type: api.PodReady, Status: api.ConditionTrue, LastTransitionTime: timestamppb.Now()}}}
			if _, err := e.Client.Pods("ops").UpdateStatus(e.Ctx, p, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				e.T.Fatal(err)
			}
		}
	}
}

// placement is "node:hash-suffix,…" sorted, for the nodes with pods.
func (e *env) placement() string {
	var out []string
	for n, ps := range e.pods() {
		for range ps {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func (e *env) waitPlacement(want string) {
	e.T.Helper()
	e.Eventually("pods on "+want, func() error {
		if got := e.placement(); got != want {
			return fmt.Errorf("pods on %q", got)
		}
		return nil
	})
}

func (e *env) waitStatus(name, want string) {
	e.T.Helper()
	e.Eventually("status "+want, func() error {
		e.readyAll()
		ds := e.get(name)
		st := ds.GetStatus()
		got := fmt.Sprintf("desired=%d current=%d ready=%d updated=%d available=%d misscheduled=%d",
			st.GetDesiredNumberScheduled(), st.GetCurrentNumberScheduled(), st.GetNumberReady(),
			st.GetUpdatedNumberScheduled(), st.GetNumberAvailable(), st.GetNumberMisscheduled())
		if got != want || st.GetObservedGeneration() != ds.GetMetadata().GetGeneration() {
			return fmt.Errorf("status %s (observed generation %d of %d)", got, st.GetObservedGeneration(), ds.GetMetadata().GetGeneration())
		}
		return nil
	})
}

func agent(image string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		Metadata: &metav1.ObjectMeta{Name: "agent", Namespace: "ops"},
		Spec: &appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: &corev1.PodTemplateSpec{
				Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "a", Image: image}}},
			},
		},
	}
}

func TestNodesTaintsAndSelector(t *testing.T) {
	e := start(t)
	e.addNode("n1", nil)
	e.addNode("n2", nil, &corev1.Taint{Key: "dedicated", Value: "db", Effect: api.TaintEffectNoSchedule})
	e.addNode("n3", nil, &corev1.Taint{Key: api.TaintNodeNotReady, Effect: api.TaintEffectNoExecute})
	if _, err := client.For[*appsv1.DaemonSet](e.Client, "ops").Create(e.Ctx, agent("agent:1"), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The tainted node gets none; the not-ready one gets its pod (the
	// daemon tolerations).
	e.waitPlacement("n1,n3")
	e.waitStatus("agent", "desired=2 current=2 ready=2 updated=2 available=2 misscheduled=0")

	e.addNode("n4", map[string]string{"role": "edge"})
	e.waitPlacement("n1,n3,n4")

	if _, _, err := e.Client.Nodes().Delete(e.Ctx, "n3", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitPlacement("n1,n4")

	e.update("agent", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{"role": "edge"} })
	e.waitPlacement("n4")
	e.waitStatus("agent", "desired=1 current=1 ready=1 updated=1 available=1 misscheduled=0")

	// Revisions: one per template, owned by the DaemonSet.
	revs, err := client.For[*appsv1.ControllerRevision](e.Client, "ops").List(e.Ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owned := history.Owned(revs.Items, e.get("agent").GetMetadata().GetUid())
	if len(owned) != 2 || owned[1].GetRevision() != 2 {
		t.Errorf("%d revisions owned, want 2 numbered 1 and 2", len(owned))
	}
}

func TestRollingUpdateAndOnDelete(t *testing.T) {
	e := start(t)
	for _, n := range []string{"n1", "n2", "n3", "n4"} {
		e.addNode(n, nil)
	}
	if _, err := client.For[*appsv1.DaemonSet](e.Client, "ops").Create(e.Ctx, agent("agent:1"), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("agent", "desired=4 current=4 ready=4 updated=4 available=4 misscheduled=0")

	// maxUnavailable 1 (the default): with no pod made ready, the update
	// stops after replacing one node's pod.
	e.update("agent", func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:2" })
	e.Eventually("one node updated", func() error {
		if st := e.get("agent").GetStatus(); st.GetUpdatedNumberScheduled() != 1 || st.GetObservedGeneration() != 2 {
			return fmt.Errorf("status %v", st)
		}
		return nil
	})
	if n := len(e.pods()); n < 3 {
		t.Fatalf("pods on %d nodes during the update; maxUnavailable 1 allows no fewer than 3", n)
	}
	old := 0
	for _, ps := range e.pods() {
		for _, p := range ps {
			if p.GetSpec().GetContainers()[0].GetImage() == "agent:1" {
				old++
			}
		}
	}
	if old != 3 {
		var seen []string
		for n, ps := range e.pods() {
			for _, p := range ps {
				seen = append(seen, fmt.Sprintf("%s:%s:%s:%v", n, p.GetMetadata().GetName(), p.GetSpec().GetContainers()[0].GetImage(), api.IsPodReady(p)))
			}
		}
		t.Errorf("%d old pods while the new one is not ready, want 3: %v", old, seen)
	}
	e.waitStatus("agent", "desired=4 current=4 ready=4 updated=4 available=4 misscheduled=0")

	// OnDelete: a template change replaces nothing until a pod is deleted.
	e.update("agent", func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy = &appsv1.DaemonSetUpdateStrategy{Type: api.OnDeleteDaemonSetStrategyType}
		ds.Spec.Template.Spec.Containers[0].Image = "agent:3"
	})
	e.waitStatus("agent", "desired=4 current=4 ready=4 updated=0 available=4 misscheduled=0")
	victim := e.pods()["n2"][0]
	if _, _, err := e.Client.Pods("ops").Delete(e.Ctx, victim.GetMetadata().GetName(), client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("agent", "desired=4 current=4 ready=4 updated=1 available=4 misscheduled=0")
	if img := e.pods()["n2"][0].GetSpec().GetContainers()[0].GetImage(); img != "agent:3" {
		t.Errorf("the replacement on n2 runs %s, want agent:3", img)
	}
}

// TestBadInput: a selector that does not match the template is refused
// with its field path, and nothing is stored.
func TestBadInput(t *testing.T) {
	e := start(t)
	bad := agent("agent:1")
	bad.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
	_, err := client.For[*appsv1.DaemonSet](e.Client, "ops").Create(e.Ctx, proto.Clone(bad).(*appsv1.DaemonSet), client.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.template.metadata.labels") {
		t.Fatalf("create: %v; want Invalid naming spec.template.metadata.labels", err)
	}
	if _, err := client.For[*appsv1.DaemonSet](e.Client, "ops").Get(e.Ctx, "agent"); !apierrors.IsNotFound(err) {
		t.Errorf("after a refused create: %v, want NotFound", err)
	}
}

// TestAdoptReleaseAndFailedPods: an orphan the selector matches is adopted
// (no second pod on its node), a pod relabelled out of the selector is
// released and replaced, and a failed daemon pod is deleted with a
// FailedDaemonPod event and recreated, again after the node's back-off
// when the new one fails too.
func TestAdoptReleaseAndFailedPods(t *testing.T) {
	e := start(t)
	e.addNode("n1", nil)
	e.addNode("n2", nil)
	stray := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "a-stray", Namespace: "ops", Labels: map[string]string{"app": "agent"}},
		Spec: &corev1.PodSpec{NodeName: "n1", Containers: []*corev1.Container{{Name: "a", Image: "agent:1"}}}}
	stray, err := e.Client.Pods("ops").Create(e.Ctx, stray, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// OnDelete: the adopted stray, without the template's hash, is not
	// rolled.
	ds := agent("agent:1")
	ds.Spec.UpdateStrategy = &appsv1.DaemonSetUpdateStrategy{Type: api.OnDeleteDaemonSetStrategyType}
	ds, err = client.For[*appsv1.DaemonSet](e.Client, "ops").Create(e.Ctx, ds, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.Eventually("the orphan adopted", func() error {
		p, err := e.Client.Pods("ops").Get(e.Ctx, "a-stray")
		if err != nil {
			return err
		}
		if ref := api.ControllerRef(p.GetMetadata()); ref.GetUid() != ds.GetMetadata().GetUid() || ref.GetKind() != "DaemonSet" {
			return fmt.Errorf("controller %v", ref)
		}
		return nil
	})
	// (A sync that saw the DaemonSet before the stray pod may have made
	// a pod on n1 too: the older is kept, by name when both were created
	// in the same second, so the stray's name sorts before agent-….)
	e.Eventually("the stray the only pod on n1", func() error {
		pods := e.pods() // one list: the pods may change between two
		if len(pods["n1"]) != 1 || len(pods["n2"]) != 1 {
			return fmt.Errorf("%d pods on n1, %d on n2", len(pods["n1"]), len(pods["n2"]))
		}
		if got := pods["n1"][0].GetMetadata().GetName(); got != "a-stray" {
			return fmt.Errorf("the pod on n1 is %s", got)
		}
		return nil
	})

	e.Eventually("stray relabelled", func() error {
		p, err := e.Client.Pods("ops").Get(e.Ctx, "a-stray")
		if err != nil {
			return err
		}
		p.Metadata.Labels = map[string]string{"app": "other"}
		_, err = e.Client.Pods("ops").Update(e.Ctx, p, client.UpdateOptions{})
		return err
	})
	e.Eventually("stray released and replaced", func() error {
		p, err := e.Client.Pods("ops").Get(e.Ctx, "a-stray")
		if err != nil {
			return err
		}
		if ref := api.ControllerRef(p.GetMetadata()); ref != nil {
			return fmt.Errorf("still controlled by %s", ref.GetName())
		}
		if got := e.placement(); got != "n1,n2" {
			return fmt.Errorf("pods on %q", got)
		}
		return nil
	})

	fail := func() string {
		t.Helper()
		p := e.pods()["n2"][0]
		p.Status = &corev1.PodStatus{Phase: api.PodFailed}
		if _, err := e.Client.Pods("ops").UpdateStatus(e.Ctx, p, client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		return p.GetMetadata().GetName()
	}
	replaced := func(name string) {
		t.Helper()
		e.Eventually(name+" deleted and replaced", func() error {
			if _, err := e.Client.Pods("ops").Get(e.Ctx, name); !apierrors.IsNotFound(err) {
				return fmt.Errorf("failed pod %s still there (%v)", name, err)
			}
			if ps := e.pods()["n2"]; len(ps) != 1 || ps[0].GetMetadata().GetName() == name {
				return fmt.Errorf("%d pods on n2", len(ps))
			}
			return nil
		})
	}
	first := fail()
	replaced(first)
	e.Eventually("the FailedDaemonPod event", func() error {
		l, err := e.Client.Events("ops").List(e.Ctx, client.ListOptions{})
		if err != nil {
			return err
		}
		want := "Found failed daemon pod ops/" + first + " on node n2, will try to kill it"
		for _, ev := range l.Items {
			if ev.GetReason() == daemonset.FailedDaemonPodReason && ev.GetMessage() == want && ev.GetType() == "Warning" &&
				ev.GetInvolvedObject().GetName() == "agent" {
				return nil
			}
		}
		return fmt.Errorf("no Warning %s event %q among %d", daemonset.FailedDaemonPodReason, want, len(l.Items))
	})
	replaced(fail()) // within the 1 s back-off: deleted once it has passed
}
