package nodelifecycle

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// testNode is a node whose Ready condition has status and heartbeat hb,
// carrying taints.
func testNode(name, status string, hb time.Time, taints ...*corev1.Taint) *corev1.Node {
	n := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name}, Spec: &corev1.NodeSpec{Taints: taints}}
	if status != "" {
		n.Status = &corev1.NodeStatus{Conditions: []*corev1.NodeCondition{
			{Type: api.NodeReady, Status: status, LastHeartbeatTime: timestamppb.New(hb)},
			{Type: api.NodeMemoryPressure, Status: api.ConditionFalse}}}
	}
	return n
}

func taint(key, effect string, added time.Time) *corev1.Taint {
	return &corev1.Taint{Key: key, Effect: effect, TimeAdded: timestamppb.New(added)}
}

func testPod(name, node string, tolerations ...*corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name},
		Spec: &corev1.PodSpec{NodeName: node, Tolerations: tolerations}}
}

func keys(ts []*corev1.Taint) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.GetKey()+":"+t.GetEffect())
	}
	return fmt.Sprint(out)
}

func TestDecideConditionsAndTaints(t *testing.T) {
	grace := 40 * time.Second
	cases := []struct {
		name    string
		node    *corev1.Node
		lease   time.Time // zero: none
		probe   *Probe
		unknown bool   // marked Unknown
		taints  string // "" when unchanged
	}{
		{name: "a node seen for the first time has its full grace period",
			node: testNode("n", api.ConditionTrue, t0.Add(-time.Hour))},
		{name: "silent past the grace period: Unknown and unreachable",
			node:  testNode("n", api.ConditionTrue, t0.Add(-time.Hour)),
			probe: &Probe{Heartbeat: t0.Add(-time.Hour), SeenAt: t0.Add(-41 * time.Second)}, unknown: true,
			taints: "[" + api.TaintNodeUnreachable + ":NoSchedule " + api.TaintNodeUnreachable + ":NoExecute]"},
		{name: "silent for exactly the grace period: not yet",
			node:  testNode("n", api.ConditionTrue, t0.Add(-time.Hour)),
			probe: &Probe{Heartbeat: t0.Add(-time.Hour), SeenAt: t0.Add(-grace)}},
		{name: "a Lease renewal is a heartbeat",
			node: testNode("n", api.ConditionTrue, t0.Add(-time.Hour)), lease: t0.Add(-time.Second),
			probe: &Probe{Heartbeat: t0.Add(-time.Hour), SeenAt: t0.Add(-time.Hour)}},
		{name: "Ready False: not-ready taints",
			node:   testNode("n", api.ConditionFalse, t0),
			taints: "[" + api.TaintNodeNotReady + ":NoSchedule " + api.TaintNodeNotReady + ":NoExecute]"},
		{name: "not ready to unreachable: one taint replaces the other, other taints stay",
			node: testNode("n", api.ConditionUnknown, t0, taint("example.com/x", api.TaintEffectNoSchedule, t0),
				taint(api.TaintNodeNotReady, api.TaintEffectNoSchedule, t0), taint(api.TaintNodeNotReady, api.TaintEffectNoExecute, t0)),
			taints: "[example.com/x:NoSchedule " + api.TaintNodeUnreachable + ":NoSchedule " + api.TaintNodeUnreachable + ":NoExecute]"},
		{name: "Ready again: the taints go",
			node:   testNode("n", api.ConditionTrue, t0, taint(api.TaintNodeUnreachable, api.TaintEffectNoExecute, t0)),
			taints: "[]"},
		{name: "already tainted right: unchanged",
			node: testNode("n", api.ConditionFalse, t0,
				taint(api.TaintNodeNotReady, api.TaintEffectNoSchedule, t0), taint(api.TaintNodeNotReady, api.TaintEffectNoExecute, t0))},
		{name: "no Ready condition counts as not ready once silent",
			node:  testNode("n", "", time.Time{}),
			probe: &Probe{Heartbeat: (*timestamppb.Timestamp)(nil).AsTime(), SeenAt: t0.Add(-time.Minute)}, unknown: true,
			taints: "[" + api.TaintNodeUnreachable + ":NoSchedule " + api.TaintNodeUnreachable + ":NoExecute]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Nodes: []*corev1.Node{tc.node}, Leases: map[string]time.Time{}, Now: t0}
			if !tc.lease.IsZero() {
				in.Leases["n"] = tc.lease
			}
			if tc.probe != nil {
				in.Probes = map[string]Probe{"n": *tc.probe}
			}
			p := Decide(in, Config{GracePeriod: grace})
			var a NodeAction
			if len(p.Nodes) == 1 {
				a = p.Nodes[0]
			}
			if (a.MarkUnknown != nil) != tc.unknown {
				t.Errorf("marked unknown: %v, want %v", a.MarkUnknown != nil, tc.unknown)
			}
			if a.MarkUnknown != nil {
				for _, c := range a.MarkUnknown.GetStatus().GetConditions() {
					if c.GetStatus() != api.ConditionUnknown || c.GetReason() != "NodeStatusUnknown" {
						t.Errorf("condition after marking: %v", c)
					}
				}
				if ready(tc.node).GetStatus() == api.ConditionUnknown {
					t.Error("Decide modified its input")
				}
			}
			got := ""
			if a.Taints != nil {
				got = keys(*a.Taints)
			}
			if got != tc.taints {
				t.Errorf("taints %q, want %q", got, tc.taints)
			}
			if _, ok := p.Probes["n"]; !ok || len(p.Probes) != 1 {
				t.Errorf("probes %v", p.Probes)
			}
		})
	}
}

func TestDecideProbesForgetGoneNodes(t *testing.T) {
	p := Decide(Input{Nodes: []*corev1.Node{testNode("a", api.ConditionTrue, t0)},
		Probes: map[string]Probe{"a": {Heartbeat: t0, SeenAt: t0.Add(-time.Hour)}, "gone": {}}, Now: t0}, Config{})
	if len(p.Probes) != 1 || !p.Probes["a"].SeenAt.Equal(t0.Add(-time.Hour)) {
		t.Errorf("probes %v: want only a, its heartbeat unchanged since an hour ago", p.Probes)
	}
}

func TestDecideEvictions(t *testing.T) {
	ten, forever := int64(10), (*int64)(nil)
	unreachable := func(added time.Duration) *corev1.Taint {
		return taint(api.TaintNodeUnreachable, api.TaintEffectNoExecute, t0.Add(-added))
	}
	tolerate := func(key string, secs *int64) *corev1.Toleration {
		return &corev1.Toleration{Key: key, Operator: "Exists", Effect: api.TaintEffectNoExecute, TolerationSeconds: secs}
	}
	cases := []struct {
		name    string
		taint   *corev1.Taint
		pod     *corev1.Pod
		healthy bool // another node is healthy (no full disruption)
		evict   bool
	}{
		{name: "no toleration of unreachable: the default 300s, not yet", taint: unreachable(299 * time.Second),
			pod: testPod("p", "sick"), healthy: true},
		{name: "no toleration of unreachable: the default 300s, up", taint: unreachable(300 * time.Second),
			pod: testPod("p", "sick"), healthy: true, evict: true},
		{name: "tolerationSeconds 10, 9s in", taint: unreachable(9 * time.Second),
			pod: testPod("p", "sick", tolerate(api.TaintNodeUnreachable, &ten)), healthy: true},
		{name: "tolerationSeconds 10, 10s in", taint: unreachable(10 * time.Second),
			pod: testPod("p", "sick", tolerate(api.TaintNodeUnreachable, &ten)), healthy: true, evict: true},
		{name: "tolerated without a limit: never", taint: unreachable(time.Hour),
			pod: testPod("p", "sick", tolerate("", forever)), healthy: true},
		{name: "the longest matching toleration wins; one without a limit is for ever", taint: unreachable(time.Hour),
			pod: testPod("p", "sick", tolerate(api.TaintNodeUnreachable, &ten), tolerate("", forever)), healthy: true},
		{name: "another NoExecute taint not tolerated: at once",
			taint: taint("example.com/drain", api.TaintEffectNoExecute, t0), pod: testPod("p", "sick"), healthy: true, evict: true},
		{name: "a NoSchedule taint evicts nothing",
			taint: taint("example.com/drain", api.TaintEffectNoSchedule, t0.Add(-time.Hour)), pod: testPod("p", "sick"), healthy: true},
		{name: "full disruption: unreachable evicts nothing", taint: unreachable(time.Hour), pod: testPod("p", "sick")},
		{name: "full disruption: other NoExecute taints still evict",
			taint: taint("example.com/drain", api.TaintEffectNoExecute, t0), pod: testPod("p", "sick"), evict: true},
		{name: "a pod already being deleted is left", taint: unreachable(time.Hour), healthy: true,
			pod: func() *corev1.Pod {
				p := testPod("p", "sick")
				p.Metadata.DeletionTimestamp = timestamppb.New(t0)
				return p
			}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nodes := []*corev1.Node{testNode("sick", api.ConditionUnknown, t0, tc.taint)}
			if tc.healthy {
				nodes = append(nodes, testNode("well", api.ConditionTrue, t0))
			}
			// The sick node already carries NoSchedule as well, so that
			// only evictions are in question.
			if tc.taint.GetKey() == api.TaintNodeUnreachable {
				nodes[0].Spec.Taints = append(nodes[0].Spec.Taints, taint(api.TaintNodeUnreachable, api.TaintEffectNoSchedule, t0))
			}
			p := Decide(Input{Nodes: nodes, Pods: map[string][]*corev1.Pod{"sick": {tc.pod}}, Now: t0}, Config{})
			if got := slices.Contains(p.Evict, tc.pod); got != tc.evict {
				t.Errorf("evicted %v, want %v", got, tc.evict)
			}
		})
	}
}

func TestDecideSilentNodeCountsTowardFullDisruption(t *testing.T) {
	// Both nodes' Ready is still True in the cache, but both have been
	// silent past the grace period: that is a full disruption although
	// the Unknown status is only being written.
	old := t0.Add(-time.Hour)
	drain := taint(api.TaintNodeUnreachable, api.TaintEffectNoExecute, old)
	nodes := []*corev1.Node{testNode("a", api.ConditionTrue, old, drain), testNode("b", api.ConditionTrue, old)}
	pod := testPod("p", "a")
	probes := map[string]Probe{"a": {Heartbeat: old, SeenAt: old}, "b": {Heartbeat: old, SeenAt: old}}
	p := Decide(Input{Nodes: nodes, Pods: map[string][]*corev1.Pod{"a": {pod}}, Probes: probes, Now: t0}, Config{})
	if len(p.Evict) != 0 {
		t.Errorf("evicted %v in a full disruption", p.Evict)
	}
	if len(p.Nodes) != 2 || p.Nodes[0].MarkUnknown == nil || p.Nodes[1].MarkUnknown == nil {
		t.Errorf("node actions %v, want both marked Unknown", p.Nodes)
	}
}

func TestDecideMarksPodsOfNotReadyNodesNotReady(t *testing.T) {
	readyPod := func(name, node string, status string) *corev1.Pod {
		p := testPod(name, node)
		p.Status = &corev1.PodStatus{Phase: api.PodRunning, Conditions: []*corev1.PodCondition{{Type: api.PodReady, Status: status}}}
		return p
	}
	finished := readyPod("finished", "sick", api.ConditionTrue)
	finished.Status.Phase = api.PodSucceeded
	in := Input{
		Nodes: []*corev1.Node{testNode("sick", api.ConditionFalse, t0), testNode("silent", api.ConditionTrue, t0.Add(-time.Hour)),
			testNode("well", api.ConditionTrue, t0)},
		Pods: map[string][]*corev1.Pod{
			"sick":   {readyPod("a", "sick", api.ConditionTrue), readyPod("b", "sick", api.ConditionFalse), finished},
			"silent": {readyPod("c", "silent", api.ConditionTrue)},
			"well":   {readyPod("d", "well", api.ConditionTrue)},
		},
		Probes: map[string]Probe{"silent": {Heartbeat: t0.Add(-time.Hour), SeenAt: t0.Add(-time.Minute)}},
		Now:    t0,
	}
	p := Decide(in, Config{})
	var got []string
	for _, pod := range p.MarkNotReady {
		c := api.GetPodCondition(pod.GetStatus(), api.PodReady)
		if c.GetStatus() != api.ConditionFalse || !c.GetLastTransitionTime().AsTime().Equal(t0) {
			t.Errorf("pod %s: Ready %v", pod.GetMetadata().GetName(), c)
		}
		got = append(got, pod.GetMetadata().GetName())
	}
	// a on the NotReady node, c on the node turning Unknown in this pass;
	// not b (already not ready), the finished pod, nor d on a Ready node.
	if fmt.Sprint(got) != "[a c]" {
		t.Errorf("marked not ready: %v, want [a c]", got)
	}
	if api.IsPodReady(in.Pods["sick"][0]) != true {
		t.Error("Decide modified its input")
	}
}
