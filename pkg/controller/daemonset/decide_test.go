package daemonset

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/controller/history"
	"keel.dev/keel/pkg/taints"
)

var now = time.Unix(1_000_000, 0)

func ds(mut ...func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	d := &appsv1.DaemonSet{
		Metadata: &metav1.ObjectMeta{Name: "agent", Namespace: "kube-system", Uid: "ds1", Generation: 2},
		Spec: &appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: &corev1.PodTemplateSpec{
				Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "a", Image: "agent:1"}}},
			},
			UpdateStrategy: &appsv1.DaemonSetUpdateStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDaemonSet{
				MaxUnavailable: api.IntOrStringFromInt(1), MaxSurge: api.IntOrStringFromInt(0)}},
		},
	}
	for _, m := range mut {
		m(d)
	}
	return d
}

func node(name string, mut ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}, Spec: &corev1.NodeSpec{}}
	for _, m := range mut {
		m(n)
	}
	return n
}

func tainted(key, effect string) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, &corev1.Taint{Key: key, Effect: effect}) }
}

// pod is a daemon pod on a node: state is "pending", "ready" (ready
// long ago: available), "fresh" (ready just now), "failed"; hash "new"
// or "old"; age orders pods.
func pod(name, nodeName, hash, state string, age int) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "ops", Uid: name, Labels: map[string]string{"app": "agent", history.ControllerRevisionHashLabel: hash},
			CreationTimestamp: timestamppb.New(now.Add(-time.Duration(age) * time.Minute))},
		Spec:   &corev1.PodSpec{NodeName: nodeName},
		Status: &corev1.PodStatus{Phase: api.PodRunning},
	}
	switch state {
	case "pending":
		p.Status.Phase = api.PodPending
	case "failed":
		p.Status.Phase = api.PodFailed
	case "ready", "fresh":
		at := now.Add(-time.Hour)
		if state == "fresh" {
			at = now
		}
		p.Status.Conditions = []*corev1.PodCondition{{Type: "Ready", Status: "True", LastTransitionTime: timestamppb.New(at)}}
	}
	return p
}

func names(pods []*corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.GetMetadata().GetName())
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func TestDecide(t *testing.T) {
	surge := func(d *appsv1.DaemonSet) {
		d.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: api.IntOrStringFromInt(0), MaxSurge: api.IntOrStringFromInt(1)}
	}
	onDelete := func(d *appsv1.DaemonSet) { d.Spec.UpdateStrategy = &appsv1.DaemonSetUpdateStrategy{Type: "OnDelete"} }
	nodeSelector := func(d *appsv1.DaemonSet) { d.Spec.Template.Spec.NodeSelector = map[string]string{"role": "edge"} }
	edge := func(n *corev1.Node) { n.Metadata.Labels["role"] = "edge" }
	for _, tc := range []struct {
		name       string
		ds         *appsv1.DaemonSet
		nodes      []*corev1.Node
		pods       []*corev1.Pod
		create     string // nodes, sorted, comma-separated
		del        string // pods
		desired    int32
		misplaced  int32
		unsatisfed bool
		backoff    map[string]time.Time
		requeue    time.Duration
		events     string // Kubernetes' FailedDaemonPod message
	}{
		{name: "a pod per node", ds: ds(), nodes: []*corev1.Node{node("n1"), node("n2")}, create: "n1,n2", desired: 2},
		{name: "pods in place", ds: ds(), nodes: []*corev1.Node{node("n1")}, pods: []*corev1.Pod{pod("p1", "n1", "new", "ready", 1)}, desired: 1},
		{name: "unsatisfied expectations wait", ds: ds(), nodes: []*corev1.Node{node("n1")}, desired: 1, unsatisfed: true},
		{name: "NoSchedule taint without toleration", ds: ds(), nodes: []*corev1.Node{node("n1", tainted("dedicated", "NoSchedule")), node("n2")}, create: "n2", desired: 1},
		{name: "NoSchedule taint keeps a running pod", ds: ds(), nodes: []*corev1.Node{node("n1", tainted("dedicated", "NoSchedule"))},
			pods: []*corev1.Pod{pod("p1", "n1", "new", "ready", 1)}, misplaced: 1},
		{name: "NoExecute taint evicts", ds: ds(), nodes: []*corev1.Node{node("n1", tainted("dedicated", "NoExecute"))},
			pods: []*corev1.Pod{pod("p1", "n1", "new", "ready", 1)}, del: "p1", misplaced: 1},
		{name: "tolerated taint", ds: ds(func(d *appsv1.DaemonSet) {
			d.Spec.Template.Spec.Tolerations = []*corev1.Toleration{{Key: "dedicated", Operator: "Exists"}}
		}), nodes: []*corev1.Node{node("n1", tainted("dedicated", "NoExecute"))}, create: "n1", desired: 1},
		{name: "daemon tolerations: not-ready, unreachable, pressure, unschedulable", ds: ds(), nodes: []*corev1.Node{
			node("n1", tainted(api.TaintNodeNotReady, "NoExecute")), node("n2", tainted(api.TaintNodeUnreachable, "NoExecute")),
			node("n3", tainted(api.TaintNodeDiskPressure, "NoSchedule")), node("n4", tainted(api.TaintNodeMemoryPressure, "NoSchedule")),
			node("n5", tainted(api.TaintNodePIDPressure, "NoSchedule")), node("n6", tainted(api.TaintNodeUnschedulable, "NoSchedule")),
		}, create: "n1,n2,n3,n4,n5,n6", desired: 6},
		{name: "network-unavailable only for hostNetwork", ds: ds(), nodes: []*corev1.Node{node("n1", tainted(api.TaintNodeNetworkUnavailable, "NoSchedule"))}},
		{name: "network-unavailable with hostNetwork", ds: ds(func(d *appsv1.DaemonSet) { d.Spec.Template.Spec.HostNetwork = true }),
			nodes: []*corev1.Node{node("n1", tainted(api.TaintNodeNetworkUnavailable, "NoSchedule"))}, create: "n1", desired: 1},
		{name: "nodeSelector", ds: ds(nodeSelector), nodes: []*corev1.Node{node("n1", edge), node("n2")},
			pods: []*corev1.Pod{pod("p2", "n2", "new", "ready", 1)}, create: "n1", del: "p2", desired: 1, misplaced: 1},
		{name: "required node affinity", ds: ds(func(d *appsv1.DaemonSet) {
			d.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "role", Operator: "In", Values: []string{"edge"}}}}}}}}
		}), nodes: []*corev1.Node{node("n1", edge), node("n2")}, create: "n1", desired: 1},
		{name: "pod of a removed node", ds: ds(), nodes: []*corev1.Node{node("n1")},
			pods: []*corev1.Pod{pod("p1", "n1", "new", "ready", 1), pod("gone", "n9", "new", "ready", 1)}, del: "gone", desired: 1},
		{name: "failed pod deleted, replaced once gone", ds: ds(), nodes: []*corev1.Node{node("n1")}, pods: []*corev1.Pod{pod("p1", "n1", "new", "failed", 1)},
			del: "p1", desired: 1, events: "Warning FailedDaemonPod: Found failed daemon pod ops/p1 on node n1, will try to kill it"},
		{name: "failed pod left alone during the node's back-off", ds: ds(), nodes: []*corev1.Node{node("n1"), node("n2")},
			pods:    []*corev1.Pod{pod("p1", "n1", "new", "failed", 1), pod("p2", "n2", "new", "failed", 1)},
			backoff: map[string]time.Time{"n1": now.Add(4 * time.Second), "n2": now.Add(-time.Second)}, requeue: 4 * time.Second,
			del: "p2", desired: 2, events: "Warning FailedDaemonPod: Found failed daemon pod ops/p2 on node n2, will try to kill it"},
		{name: "duplicate pods: the oldest kept", ds: ds(), nodes: []*corev1.Node{node("n1")},
			pods: []*corev1.Pod{pod("young", "n1", "new", "ready", 1), pod("old", "n1", "new", "ready", 5)}, del: "young", desired: 1},
		{name: "rolling update: maxUnavailable 1 deletes one old pod", ds: ds(), nodes: []*corev1.Node{node("n1"), node("n2"), node("n3")},
			pods: []*corev1.Pod{pod("a", "n1", "old", "ready", 3), pod("b", "n2", "old", "ready", 2), pod("c", "n3", "old", "ready", 1)}, del: "a", desired: 3},
		{name: "rolling update: waits while a node is unavailable", ds: ds(), nodes: []*corev1.Node{node("n1"), node("n2")},
			pods: []*corev1.Pod{pod("a", "n1", "new", "pending", 1), pod("b", "n2", "old", "ready", 2)}, desired: 2},
		{name: "rolling update: an unavailable node later in the list counts too", ds: ds(), nodes: []*corev1.Node{node("n1"), node("n2")},
			pods: []*corev1.Pod{pod("a", "n1", "old", "ready", 2), pod("b", "n2", "new", "pending", 1)}, desired: 2},
		{name: "rolling update: unavailable old pods go at once", ds: ds(), nodes: []*corev1.Node{node("n1"), node("n2"), node("n3")},
			pods: []*corev1.Pod{pod("a", "n1", "old", "pending", 3), pod("b", "n2", "old", "pending", 2), pod("c", "n3", "old", "ready", 1)}, del: "a,b,c", desired: 3},
		{name: "rolling update: maxUnavailable 50%", ds: ds(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = api.IntOrStringFromString("50%")
		}), nodes: []*corev1.Node{node("n1"), node("n2"), node("n3"), node("n4")},
			pods: []*corev1.Pod{pod("a", "n1", "old", "ready", 4), pod("b", "n2", "old", "ready", 3), pod("c", "n3", "old", "ready", 2), pod("d", "n4", "old", "ready", 1)}, del: "a,b", desired: 4},
		{name: "surge: new pod beside the old on maxSurge nodes", ds: ds(surge), nodes: []*corev1.Node{node("n1"), node("n2")},
			pods: []*corev1.Pod{pod("a", "n1", "old", "ready", 2), pod("b", "n2", "old", "ready", 1)}, create: "n1", desired: 2},
		{name: "surge: old pod goes once the new is available, the next node surges", ds: ds(surge), nodes: []*corev1.Node{node("n1"), node("n2")},
			pods: []*corev1.Pod{pod("a", "n1", "old", "ready", 2), pod("a2", "n1", "new", "ready", 1), pod("b", "n2", "old", "ready", 1)}, create: "n2", del: "a", desired: 2},
		{name: "surge: waits for the new pod", ds: ds(surge), nodes: []*corev1.Node{node("n1"), node("n2")},
			pods: []*corev1.Pod{pod("a", "n1", "old", "ready", 2), pod("a2", "n1", "new", "pending", 1), pod("b", "n2", "old", "ready", 1)}, desired: 2},
		{name: "OnDelete leaves old pods", ds: ds(onDelete), nodes: []*corev1.Node{node("n1")}, pods: []*corev1.Pod{pod("a", "n1", "old", "ready", 2)}, desired: 1},
		{name: "OnDelete: a deleted old pod comes back new", ds: ds(onDelete), nodes: []*corev1.Node{node("n1")}, create: "n1", desired: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := Decide(Input{DS: tc.ds, Nodes: tc.nodes, Pods: tc.pods, Hash: "new", Satisfied: !tc.unsatisfed, FailedBackoff: tc.backoff, Now: now})
			var events []string
			for _, e := range plan.Events {
				events = append(events, e.Type+" "+e.Reason+": "+e.Message)
			}
			if got := strings.Join(events, "\n"); got != tc.events {
				t.Errorf("events %q, want %q", got, tc.events)
			}
			if plan.RequeueAfter != tc.requeue {
				t.Errorf("requeue after %v, want %v", plan.RequeueAfter, tc.requeue)
			}
			create := slices.Clone(plan.Create)
			slices.Sort(create)
			if got := strings.Join(create, ","); got != tc.create {
				t.Errorf("create on %q, want %q", got, tc.create)
			}
			if got := names(plan.Delete); got != tc.del {
				t.Errorf("delete %q, want %q", got, tc.del)
			}
			if plan.Status.GetDesiredNumberScheduled() != tc.desired || plan.Status.GetNumberMisscheduled() != tc.misplaced {
				t.Errorf("status desired %d misscheduled %d, want %d %d", plan.Status.GetDesiredNumberScheduled(), plan.Status.GetNumberMisscheduled(), tc.desired, tc.misplaced)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	d := ds(func(d *appsv1.DaemonSet) { d.Spec.MinReadySeconds = 30 })
	plan := Decide(Input{DS: d, Nodes: []*corev1.Node{node("n1"), node("n2"), node("n3"), node("n4")}, Hash: "new", Now: now, Pods: []*corev1.Pod{
		pod("a", "n1", "new", "ready", 1), pod("b", "n2", "old", "ready", 1), pod("c", "n3", "new", "fresh", 1),
	}})
	st := plan.Status
	got := fmt.Sprintf("desired %d current %d ready %d available %d unavailable %d updated %d generation %d",
		st.GetDesiredNumberScheduled(), st.GetCurrentNumberScheduled(), st.GetNumberReady(), st.GetNumberAvailable(),
		st.GetNumberUnavailable(), st.GetUpdatedNumberScheduled(), st.GetObservedGeneration())
	if want := "desired 4 current 3 ready 3 available 2 unavailable 2 updated 2 generation 2"; got != want {
		t.Errorf("status %s\nwant   %s", got, want)
	}
	if plan.RequeueAfter != 31*time.Second {
		t.Errorf("requeue after %v, want 31s (minReadySeconds of the fresh pod)", plan.RequeueAfter)
	}
}

func TestNewPod(t *testing.T) {
	d := ds(func(d *appsv1.DaemonSet) {
		d.Spec.Template.Spec.Tolerations = []*corev1.Toleration{{Key: api.TaintNodeNotReady, Operator: "Exists", Effect: "NoExecute", TolerationSeconds: new(int64)}}
		d.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "role", Operator: "In", Values: []string{"edge"}}}}}}}}
	})
	p := NewPod(d, "h1", "n7")
	if p.GetMetadata().GetLabels()[history.ControllerRevisionHashLabel] != "h1" || p.GetMetadata().GetGenerateName() != "agent-" {
		t.Errorf("metadata %v", p.GetMetadata())
	}
	if ref := api.ControllerRef(p.GetMetadata()); ref.GetUid() != "ds1" || ref.GetKind() != "DaemonSet" {
		t.Errorf("controller %v", ref)
	}
	if PodNodeName(p) != "n7" {
		t.Errorf("pod is for node %q, want n7", PodNodeName(p))
	}
	term := p.GetSpec().GetAffinity().GetNodeAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution().GetNodeSelectorTerms()[0]
	if len(term.GetMatchExpressions()) != 1 {
		t.Errorf("the template's expressions were dropped: %v", term)
	}
	notReady := &corev1.Taint{Key: api.TaintNodeNotReady, Effect: "NoExecute"}
	for _, tol := range p.GetSpec().GetTolerations() {
		if taints.Tolerates(tol, notReady) && tol.TolerationSeconds != nil {
			t.Errorf("the not-ready toleration keeps tolerationSeconds: %v", tol)
		}
	}
	if len(d.GetSpec().GetTemplate().GetMetadata().GetLabels()) != 1 || d.GetSpec().GetTemplate().GetSpec().GetAffinity().GetNodeAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution().GetNodeSelectorTerms()[0].MatchFields != nil {
		t.Error("NewPod changed the DaemonSet's template")
	}
}

// TestFailedPodBackoff: 1 s, doubling, at most 15 min, per key; a key
// quiet for twice the cap starts over.
func TestFailedPodBackoff(t *testing.T) {
	var b FailedPodBackoff
	if !b.Until("u/n1").IsZero() {
		t.Fatal("a new key is in back-off")
	}
	at := now
	var waits []time.Duration
	for range 12 {
		b.Next("u/n1", at)
		waits = append(waits, b.Until("u/n1").Sub(at))
		at = b.Until("u/n1")
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900}
	for i, w := range waits {
		if w != want[i]*time.Second {
			t.Errorf("wait %d: %v, want %v", i+1, w, want[i]*time.Second)
		}
	}
	if !b.Until("u/n2").IsZero() {
		t.Error("another node shares the back-off")
	}
	later := at.Add(31 * time.Minute)
	b.Next("u/n1", later)
	if got := b.Until("u/n1").Sub(later); got != time.Second {
		t.Errorf("after a quiet half hour: %v, want 1s", got)
	}
}
