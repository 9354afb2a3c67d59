package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/scheduler"
)

func TestBindsPodsToHollowNodes(t *testing.T) {
	cl := newCluster(t)
	for i := range 3 {
		cl.createNode(nodeSpec{name: fmt.Sprintf("node-%d", i)})
	}
	rs := cl.startScheduler(nil)
	for i := range 12 {
		cl.createPod(podSpec{name: fmt.Sprintf("p-%d", i), cpu: "100m", mem: "128Mi"})
	}
	counts := map[string]int{}
	for i := range 12 {
		counts[cl.waitBound("default", fmt.Sprintf("p-%d", i))]++
	}
	// LeastAllocated and BalancedAllocation spread identical pods evenly.
	for n, c := range counts {
		if c != 4 {
			t.Errorf("node %s got %d pods, want 4 each: %v", n, c, counts)
		}
	}
	waitFor(t, 10*time.Second, func() bool { return rs.s.Stats().Scheduled == 12 }, "12 scheduled, have %+v", rs.s.Stats())
	p := cl.getPod("default", "p-0")
	if c := scheduledCondition(p); c == nil || c.GetStatus() != "True" {
		t.Errorf("PodScheduled condition %v", c)
	}
}

func TestOnlyItsOwnPendingPods(t *testing.T) {
	cl := newCluster(t)
	cl.createNode(nodeSpec{name: "small", cpu: "1"})
	cl.createNode(nodeSpec{name: "other", cpu: "1"})
	// A pod bound by someone else fills "small": the scheduler must count it.
	cl.createPod(podSpec{name: "preplaced", cpu: "900m", mutate: func(p *corev1.Pod) { p.Spec.NodeName = "small" }})
	cl.createPod(podSpec{name: "elsewhere", cpu: "100m", mutate: func(p *corev1.Pod) { p.Spec.SchedulerName = "another-scheduler" }})
	cl.startScheduler(nil)
	for i := range 3 {
		cl.createPod(podSpec{name: fmt.Sprintf("p-%d", i), cpu: "200m"})
		if n := cl.waitBound("default", fmt.Sprintf("p-%d", i)); n != "other" {
			t.Errorf("p-%d went to %s, which has no room", i, n)
		}
	}
	if n := cl.getPod("default", "elsewhere").GetSpec().GetNodeName(); n != "" {
		t.Errorf("a pod of another scheduler was bound to %s", n)
	}
	// A second scheduler with that name takes it.
	cl.startScheduler(func(c *scheduler.Config) { c.SchedulerName = "another-scheduler" })
	cl.waitBound("default", "elsewhere")
}

func TestNodeSelectionTaintsAndReadiness(t *testing.T) {
	cl := newCluster(t)
	cl.createNode(nodeSpec{name: "gpu", labels: map[string]string{"accelerator": "gpu"},
		taints: []*corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: "NoSchedule"}}})
	cl.createNode(nodeSpec{name: "plain", labels: map[string]string{"disk": "ssd"}})
	cl.createNode(nodeSpec{name: "notready", notReady: true})
	// As the node lifecycle controller taints it: NoSchedule and NoExecute
	// (every pod tolerates the NoExecute one for a while: DefaultTolerationSeconds).
	cl.createNode(nodeSpec{name: "unreachable", taints: []*corev1.Taint{
		{Key: "node.kubernetes.io/unreachable", Effect: "NoSchedule"}, {Key: "node.kubernetes.io/unreachable", Effect: "NoExecute"}}})
	cordoned := cl.createNode(nodeSpec{name: "cordoned"})
	cordoned.Spec.Unschedulable = true
	if _, err := cl.c.Nodes().Update(cl.ctx, cordoned, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cl.startScheduler(nil)

	for i := range 5 {
		cl.createPod(podSpec{name: fmt.Sprintf("plain-%d", i), cpu: "100m"})
	}
	for i := range 5 {
		if n := cl.waitBound("default", fmt.Sprintf("plain-%d", i)); n != "plain" {
			t.Errorf("plain-%d went to %s", i, n)
		}
	}
	cl.createPod(podSpec{name: "gpu-job", cpu: "100m", mutate: func(p *corev1.Pod) {
		p.Spec.NodeSelector = map[string]string{"accelerator": "gpu"}
		p.Spec.Tolerations = []*corev1.Toleration{{Key: "dedicated", Operator: "Equal", Value: "gpu", Effect: "NoSchedule"}}
	}})
	if n := cl.waitBound("default", "gpu-job"); n != "gpu" {
		t.Errorf("gpu-job went to %s", n)
	}
	cl.createPod(podSpec{name: "wants-hdd", mutate: func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "disk", Operator: "In", Values: []string{"hdd"}}}}}}}}
	}})
	msg := cl.waitUnschedulable("default", "wants-hdd")
	want := "0/5 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {dedicated: gpu}, " +
		"1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 1 node(s) were unschedulable."
	if msg != want {
		t.Errorf("message\n got %q\nwant %q", msg, want)
	}

	// Once the node becomes Ready, a waiting pod that tolerates nothing
	// goes there (a node update is an event that retries it at once).
	cl.createPod(podSpec{name: "waits-for-ready", mutate: func(p *corev1.Pod) {
		p.Spec.NodeName = ""
		p.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "notready"}
	}})
	cl.waitUnschedulable("default", "waits-for-ready")
	nr, err := cl.c.Nodes().Get(cl.ctx, "notready")
	if err != nil {
		t.Fatal(err)
	}
	nr.Status.Conditions[0].Status = "True"
	if _, err := cl.c.Nodes().UpdateStatus(cl.ctx, nr, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := cl.waitBound("default", "waits-for-ready"); n != "notready" {
		t.Errorf("went to %s", n)
	}
}

func antiTerm(key string, kv ...string) *corev1.PodAffinityTerm {
	ml := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		ml[kv[i]] = kv[i+1]
	}
	return &corev1.PodAffinityTerm{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: ml}}
}

func TestPodAffinityAndAntiAffinity(t *testing.T) {
	cl := newCluster(t)
	for i, zone := range []string{"a", "a", "b"} {
		cl.createNode(nodeSpec{name: fmt.Sprintf("node-%d", i), labels: map[string]string{"topology.kubernetes.io/zone": zone}})
	}
	cl.startScheduler(nil)

	cl.createPod(podSpec{name: "db", labels: map[string]string{"app": "db"}, mutate: func(p *corev1.Pod) { p.Spec.NodeName = "node-2" }})
	for i := range 3 {
		cl.createPod(podSpec{name: fmt.Sprintf("web-%d", i), labels: map[string]string{"app": "web"}, mutate: func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []*corev1.PodAffinityTerm{antiTerm("topology.kubernetes.io/zone", "app", "db")}}}
		}})
	}
	for i := range 3 {
		if n := cl.waitBound("default", fmt.Sprintf("web-%d", i)); n != "node-2" {
			t.Errorf("web-%d went to %s, not db's zone", i, n)
		}
	}

	// One per node, then no room.
	anti := func(name string) {
		cl.createPod(podSpec{name: name, labels: map[string]string{"app": "solo"}, mutate: func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []*corev1.PodAffinityTerm{antiTerm("kubernetes.io/hostname", "app", "solo")}}}
		}})
	}
	nodes := map[string]bool{}
	for i := range 3 {
		anti(fmt.Sprintf("solo-%d", i))
		nodes[cl.waitBound("default", fmt.Sprintf("solo-%d", i))] = true
	}
	if len(nodes) != 3 {
		t.Errorf("anti-affine pods share nodes: %v", nodes)
	}
	anti("solo-3")
	if msg := cl.waitUnschedulable("default", "solo-3"); msg != "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules." {
		t.Errorf("message %q", msg)
	}
	// A plain pod is kept out of nothing, but a pod the solos' own
	// anti-affinity selects is kept out of every node.
	cl.createPod(podSpec{name: "intruder", labels: map[string]string{"app": "solo"}})
	if msg := cl.waitUnschedulable("default", "intruder"); msg != "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules." {
		t.Errorf("message %q", msg)
	}
	// Deleting one solo makes room for exactly one of the waiting pods.
	cl.deletePod("default", "solo-0", 0)
	waitFor(t, 30*time.Second, func() bool {
		return cl.getPod("default", "solo-3").GetSpec().GetNodeName() != "" || cl.getPod("default", "intruder").GetSpec().GetNodeName() != ""
	}, "a waiting pod to take the freed node")
}

func TestSpreading(t *testing.T) {
	cl := newCluster(t)
	cl.createNode(nodeSpec{name: "a1", labels: map[string]string{"topology.kubernetes.io/zone": "a"}})
	cl.createNode(nodeSpec{name: "a2", labels: map[string]string{"topology.kubernetes.io/zone": "a"}})
	cl.createNode(nodeSpec{name: "b1", labels: map[string]string{"topology.kubernetes.io/zone": "b"}})
	// A much bigger node that LeastAllocated alone would fill first.
	cl.createNode(nodeSpec{name: "big", cpu: "64", mem: "256Gi", labels: map[string]string{"topology.kubernetes.io/zone": "c"}})
	cl.startScheduler(nil)

	// Topology spread over zones a and b (the pods may not go to zone c).
	zones := map[string]int{}
	for i := range 4 {
		name := fmt.Sprintf("spread-%d", i)
		cl.createPod(podSpec{name: name, cpu: "100m", labels: map[string]string{"app": "spread"}, mutate: func(p *corev1.Pod) {
			p.Spec.NodeSelector = nil
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "topology.kubernetes.io/zone", Operator: "In", Values: []string{"a", "b"}}}}}}}}
			p.Spec.TopologySpreadConstraints = []*corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone",
				WhenUnsatisfiable: "DoNotSchedule", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "spread"}}}}
		}})
		n := cl.waitBound("default", name)
		zones[map[string]string{"a1": "a", "a2": "a", "b1": "b"}[n]]++
	}
	if zones["a"] != 2 || zones["b"] != 2 {
		t.Errorf("zones %v, want 2 and 2", zones)
	}

	// A controller's replicas spread over nodes and zones even though
	// "big" has the most room.
	yes := true
	nodes := map[string]int{}
	for i := range 4 {
		name := fmt.Sprintf("replica-%d", i)
		cl.createPod(podSpec{name: name, cpu: "100m", mutate: func(p *corev1.Pod) {
			p.Metadata.OwnerReferences = []*metav1.OwnerReference{{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", Uid: "rs-uid-1", Controller: &yes}}
		}})
		nodes[cl.waitBound("default", name)]++
	}
	if len(nodes) != 4 {
		t.Errorf("replicas on %v, want one per node", nodes)
	}
}

func TestResourcesExhaustedThenFreed(t *testing.T) {
	cl := newCluster(t)
	cl.createNode(nodeSpec{name: "only", cpu: "1", mem: "1Gi"})
	// A long unschedulable timeout: only the deletion event can retry the
	// parked pod in time.
	rs := cl.startScheduler(func(c *scheduler.Config) { c.MaxInUnschedulable = time.Hour })
	cl.createPod(podSpec{name: "first", cpu: "600m", mem: "256Mi"})
	cl.waitBound("default", "first")
	cl.createPod(podSpec{name: "second", cpu: "600m", mem: "256Mi"})
	if msg := cl.waitUnschedulable("default", "second"); msg != "0/1 nodes are available: 1 Insufficient cpu." {
		t.Errorf("message %q", msg)
	}
	start := time.Now()
	cl.deletePod("default", "first", 0)
	if n := cl.waitBound("default", "second"); n != "only" {
		t.Errorf("bound to %s", n)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the parked pod waited %v after the deletion", d)
	}
	waitFor(t, 10*time.Second, func() bool { st := rs.s.Stats(); return st.Unschedulable >= 1 && st.Scheduled == 2 },
		"stats, have %+v", rs.s.Stats())
}

func TestUnschedulableConditionAndEvent(t *testing.T) {
	cl := newCluster(t)
	for i := range 3 {
		cl.createNode(nodeSpec{name: fmt.Sprintf("small-%d", i), cpu: "1"})
	}
	for i := range 2 {
		cl.createNode(nodeSpec{name: fmt.Sprintf("gpu-%d", i), cpu: "8", taints: []*corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: "NoSchedule"}}})
	}
	cl.startScheduler(nil)
	cl.createPod(podSpec{name: "big", cpu: "2"})
	want := "0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: gpu}."
	if msg := cl.waitUnschedulable("default", "big"); msg != want {
		t.Errorf("condition message\n got %q\nwant %q", msg, want)
	}
	waitFor(t, 30*time.Second, func() bool {
		evs, err := cl.c.Events("default").List(cl.ctx, client.ListOptions{FieldSelector: "involvedObject.name=big,reason=FailedScheduling"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if e.GetMessage() == want && e.GetType() == "Warning" {
				return true
			}
		}
		return false
	}, "a FailedScheduling event")
}

func TestPreemption(t *testing.T) {
	cl := newCluster(t)
	for _, pc := range []struct {
		name  string
		value int32
	}{{"low", 100}, {"mid", 500}, {"high", 1000}} {
		if _, err := cl.c.PriorityClasses().Create(cl.ctx, &schedulingv1.PriorityClass{Metadata: &metav1.ObjectMeta{Name: pc.name}, Value: pc.value}, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cl.createNode(nodeSpec{name: "node-1", cpu: "1"})
	cl.createNode(nodeSpec{name: "node-2", cpu: "1"})
	removed := cl.kubelet()
	// node-1: two low pods (400m each); node-2: a low 300m and a mid 600m.
	place := func(name, node, cpu, class string) {
		cl.createPod(podSpec{name: name, cpu: cpu, priorityClass: class, mutate: func(p *corev1.Pod) { p.Spec.NodeName = node }})
	}
	place("low-a", "node-1", "400m", "low")
	place("low-b", "node-1", "400m", "low")
	place("low-c", "node-2", "300m", "low")
	place("mid-a", "node-2", "600m", "mid")
	rs := cl.startScheduler(nil)

	// An equal-priority pod preempts nobody.
	cl.createPod(podSpec{name: "peer", cpu: "600m", priorityClass: "low"})
	cl.waitUnschedulable("default", "peer")

	// The high pod needs 600m: on node-1 evicting one low pod is enough;
	// on node-2 the mid pod would have to go.
	cl.createPod(podSpec{name: "boss", cpu: "600m", priorityClass: "high"})
	waitFor(t, 30*time.Second, func() bool { return cl.getPod("default", "boss").GetStatus().GetNominatedNodeName() == "node-1" },
		"boss to be nominated to node-1")
	if n := cl.waitBound("default", "boss"); n != "node-1" {
		t.Fatalf("boss bound to %s", n)
	}
	// One of the two low pods of node-1 (the younger, or either when they
	// were created within the same second) and nothing else.
	got := removed()
	sort.Strings(got)
	if len(got) != 1 || (got[0] != "low-a" && got[0] != "low-b") {
		t.Fatalf("victims %v, want one low pod of node-1", got)
	}
	for _, name := range []string{"low-a", "low-b", "low-c", "mid-a"} {
		if name == got[0] {
			continue
		}
		if p := cl.getPod("default", name); p.GetMetadata().GetDeletionTimestamp() != nil {
			t.Errorf("%s was preempted too", name)
		}
	}
	if cl.getPod("default", "peer").GetSpec().GetNodeName() != "" {
		t.Error("the equal-priority pod took the room")
	}
	waitFor(t, 30*time.Second, func() bool {
		evs, err := cl.c.Events("default").List(cl.ctx, client.ListOptions{FieldSelector: "involvedObject.name=" + got[0] + ",reason=Preempted"})
		return err == nil && len(evs.Items) == 1
	}, "a Preempted event on the victim")
	_ = rs
}

// flakyAPI fails the first bind of every pod.
type flakyAPI struct {
	scheduler.API
	mu    sync.Mutex
	tried map[string]bool
	fails atomic.Int32
}

func (f *flakyAPI) Bind(ctx context.Context, pod *corev1.Pod, node string) error {
	f.mu.Lock()
	first := !f.tried[pod.GetMetadata().GetName()]
	f.tried[pod.GetMetadata().GetName()] = true
	f.mu.Unlock()
	if first {
		f.fails.Add(1)
		return errors.New("injected bind failure")
	}
	return f.API.Bind(ctx, pod, node)
}

func TestFailedBindIsForgottenAndRetried(t *testing.T) {
	cl := newCluster(t)
	cl.createNode(nodeSpec{name: "only", cpu: "1"})
	var api *flakyAPI
	rs := cl.startScheduler(func(c *scheduler.Config) {
		api = &flakyAPI{API: c.API, tried: map[string]bool{}}
		c.API = api
		c.InitialBackoff = 10 * time.Millisecond
	})
	// Each pod needs most of the node: if a failed assumption were not
	// forgotten, the second pod would never fit.
	cl.createPod(podSpec{name: "a", cpu: "600m"})
	cl.waitBound("default", "a")
	cl.deletePod("default", "a", 0)
	cl.createPod(podSpec{name: "b", cpu: "600m"})
	cl.waitBound("default", "b")
	if api.fails.Load() != 2 {
		t.Errorf("%d injected failures", api.fails.Load())
	}
	waitFor(t, 10*time.Second, func() bool { st := rs.s.Stats(); return st.Errors == 2 && st.Scheduled == 2 },
		"stats of 2 failed and 2 successful bindings, have %+v", rs.s.Stats())
}

func TestScheduledEvent(t *testing.T) {
	cl := newCluster(t)
	cl.createNode(nodeSpec{name: "n"})
	cl.startScheduler(func(c *scheduler.Config) { c.ScheduledEvents = true })
	cl.createPod(podSpec{name: "p"})
	cl.waitBound("default", "p")
	waitFor(t, 30*time.Second, func() bool {
		evs, err := cl.c.Events("default").List(cl.ctx, client.ListOptions{FieldSelector: "involvedObject.name=p,reason=Scheduled"})
		return err == nil && len(evs.Items) == 1 && strings.Contains(evs.Items[0].GetMessage(), "Successfully assigned default/p to n")
	}, "a Scheduled event")
}

// TestSchedulingGatesHoldThePod: a pod created with scheduling gates
// shows PodScheduled=False (SchedulingGated) and stays unbound while
// others are placed; once its last gate is removed it is scheduled.
func TestSchedulingGatesHoldThePod(t *testing.T) {
	cl := newCluster(t)
	cl.createNode(nodeSpec{name: "n1", cpu: "2"})
	cl.createPod(podSpec{name: "gated", cpu: "100m", mutate: func(p *corev1.Pod) {
		p.Spec.SchedulingGates = []*corev1.PodSchedulingGate{{Name: "example.com/quota"}, {Name: "example.com/data"}}
	}})
	if c := scheduledCondition(cl.getPod("default", "gated")); c.GetStatus() != "False" || c.GetReason() != "SchedulingGated" {
		t.Errorf("a gated pod's PodScheduled condition: %v", c)
	}
	cl.startScheduler(nil)
	cl.createPod(podSpec{name: "free", cpu: "100m"})
	cl.waitBound("default", "free")
	for _, left := range [][]*corev1.PodSchedulingGate{{{Name: "example.com/data"}}, nil} {
		if n := cl.getPod("default", "gated").GetSpec().GetNodeName(); n != "" {
			t.Fatalf("a gated pod was bound to %s", n)
		}
		p := cl.getPod("default", "gated")
		p.Spec.SchedulingGates = left
		if _, err := cl.c.Pods("default").Update(cl.ctx, p, client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cl.waitBound("default", "gated")
}
