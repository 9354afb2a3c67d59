package scheduler

import (
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheduler/framework"
)

func TestApplyStatus(t *testing.T) {
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p"}, Status: &corev1.PodStatus{Phase: "Pending"}}
	node := "n1"
	out, changed := applyStatus(pod, &statusUpdate{reason: "Unschedulable", message: "0/1 nodes are available: 1 Insufficient cpu.", nominated: &node})
	if !changed {
		t.Fatal("nothing changed")
	}
	if pod.GetStatus().GetNominatedNodeName() != "" || len(pod.GetStatus().GetConditions()) != 0 {
		t.Fatal("the input pod was modified")
	}
	c := out.GetStatus().GetConditions()
	if len(c) != 1 || c[0].GetType() != "PodScheduled" || c[0].GetStatus() != "False" || c[0].GetReason() != "Unschedulable" ||
		out.GetStatus().GetNominatedNodeName() != "n1" || c[0].GetLastTransitionTime() == nil {
		t.Fatalf("status %v", out.GetStatus())
	}
	// The same again changes nothing: no write.
	if _, changed := applyStatus(out, &statusUpdate{reason: "Unschedulable", message: "0/1 nodes are available: 1 Insufficient cpu.", nominated: &node}); changed {
		t.Error("an identical update would be written")
	}
	// A new message keeps the transition time.
	again, changed := applyStatus(out, &statusUpdate{reason: "Unschedulable", message: "other"})
	if !changed || again.GetStatus().GetConditions()[0].GetLastTransitionTime() != c[0].GetLastTransitionTime() ||
		len(again.GetStatus().GetConditions()) != 1 {
		t.Errorf("status %v", again.GetStatus())
	}
}

func TestNodeChange(t *testing.T) {
	base := func() *corev1.Node {
		return &corev1.Node{
			Metadata: &metav1.ObjectMeta{Name: "n", Labels: map[string]string{"a": "1"}},
			Spec:     &corev1.NodeSpec{},
			Status: &corev1.NodeStatus{Allocatable: map[string]*metav1.Quantity{"cpu": {String_: "4"}},
				Conditions: []*corev1.NodeCondition{{Type: "Ready", Status: "True"}}},
		}
	}
	heartbeat := base()
	heartbeat.Status.Conditions[0].Reason = "KubeletReady"
	if a := nodeChange(base(), heartbeat); a != 0 {
		t.Errorf("a heartbeat is a change: %b", a)
	}
	for name, tc := range map[string]struct {
		mutate func(*corev1.Node)
		want   framework.ActionType
	}{
		"allocatable":   {func(n *corev1.Node) { n.Status.Allocatable["cpu"] = &metav1.Quantity{String_: "8"} }, framework.UpdateNodeAllocatable},
		"label":         {func(n *corev1.Node) { n.Metadata.Labels["b"] = "2" }, framework.UpdateNodeLabel},
		"taint":         {func(n *corev1.Node) { n.Spec.Taints = []*corev1.Taint{{Key: "k", Effect: "NoSchedule"}} }, framework.UpdateNodeTaint},
		"readiness":     {func(n *corev1.Node) { n.Status.Conditions[0].Status = "False" }, framework.UpdateNodeTaint},
		"unschedulable": {func(n *corev1.Node) { n.Spec.Unschedulable = true }, framework.UpdateNodeUnschedulable},
	} {
		n := base()
		tc.mutate(n)
		if got := nodeChange(base(), n); got != tc.want {
			t.Errorf("%s: %b, want %b", name, got, tc.want)
		}
	}
}

func TestPodChanged(t *testing.T) {
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", ResourceVersion: "1", Labels: map[string]string{"a": "1"}}, Spec: &corev1.PodSpec{}}
	statusOnly := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", ResourceVersion: "2", Labels: map[string]string{"a": "1"}}, Spec: &corev1.PodSpec{},
		Status: &corev1.PodStatus{Message: "x"}}
	if podChanged(p, statusOnly) {
		t.Error("a status write counts as a change")
	}
	relabeled := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "2"}}, Spec: &corev1.PodSpec{}}
	tolerating := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "1"}}, Spec: &corev1.PodSpec{Tolerations: []*corev1.Toleration{{Operator: "Exists"}}}}
	if !podChanged(p, relabeled) || !podChanged(p, tolerating) {
		t.Error("label or spec changes not seen")
	}
}

func TestNominator(t *testing.T) {
	n := newNominator()
	a := framework.NewPodInfo(&corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "a", Uid: "ua"}})
	b := framework.NewPodInfo(&corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "b", Uid: "ub"}})
	n.add(a, "n1")
	n.add(b, "n1")
	n.add(a, "n2") // re-nominated
	if got := n.NominatedPodsForNode("n1"); len(got) != 1 || got[0].UID != "ub" {
		t.Errorf("n1: %v", got)
	}
	if n.NominatedNodeName(a) != "n2" {
		t.Errorf("a on %q", n.NominatedNodeName(a))
	}
	n.delete("ub")
	n.delete("ua")
	if len(n.byNode) != 0 || len(n.node) != 0 {
		t.Errorf("left %v %v", n.byNode, n.node)
	}
}
