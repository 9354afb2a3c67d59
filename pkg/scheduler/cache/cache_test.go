package cache_test

import (
	"testing"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheduler/cache"
	"keel.dev/keel/pkg/scheduler/framework"
)

func node(name string) *corev1.Node {
	return &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: name},
		Status: &corev1.NodeStatus{
			Allocatable: map[string]*metav1.Quantity{"cpu": {String_: "4"}, "memory": {String_: "8Gi"}, "pods": {String_: "10"}},
			Conditions:  []*corev1.NodeCondition{{Type: "Ready", Status: "True"}},
		},
	}
}

func pod(name, nodeName, cpu string, anti bool) *framework.PodInfo {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, Labels: map[string]string{"app": name}},
		Spec: &corev1.PodSpec{NodeName: nodeName, Containers: []*corev1.Container{{Resources: &corev1.ResourceRequirements{
			Requests: map[string]*metav1.Quantity{"cpu": {String_: cpu}}}}}},
	}
	if anti {
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []*corev1.PodAffinityTerm{{
			TopologyKey: "kubernetes.io/hostname", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}}}}}
	}
	return framework.NewPodInfo(p)
}

func TestAssumeConfirmForget(t *testing.T) {
	c := cache.New()
	c.SetNode(node("n1"))
	c.SetNode(node("n2"))
	c.Prepare()
	if len(c.NodeInfos()) != 2 {
		t.Fatalf("%d nodes", len(c.NodeInfos()))
	}

	a := pod("a", "", "1", true)
	if err := c.AssumePod(a, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := c.AssumePod(a, "n1"); err == nil {
		t.Error("assumed twice")
	}
	c.Prepare()
	n1 := c.Get("n1")
	if n1.Requested.MilliCPU != 1000 || len(n1.Pods) != 1 || !c.IsAssumed(a.UID) {
		t.Fatalf("after assume: %+v", n1.Requested)
	}
	if len(c.HavePodsWithRequiredAntiAffinity()) != 1 || len(c.Groups().Terms) != 1 {
		t.Errorf("anti-affinity pod not indexed")
	}
	// The informer confirms the binding.
	c.SetPod(pod("a", "n1", "1", true))
	if c.IsAssumed(a.UID) || !c.Has(a.UID) || c.Get("n1").Requested.MilliCPU != 1000 {
		t.Fatal("confirmation lost the pod or counted it twice")
	}
	// Forgetting a confirmed pod does nothing.
	c.ForgetPod(a.UID)
	if !c.Has(a.UID) {
		t.Fatal("a confirmed pod was forgotten")
	}

	b := pod("b", "", "2", false)
	if err := c.AssumePod(b, "n2"); err != nil {
		t.Fatal(err)
	}
	c.ForgetPod(b.UID)
	if c.Has(b.UID) || c.Get("n2").Requested.MilliCPU != 0 || len(c.Get("n2").Pods) != 0 {
		t.Fatal("forgetting left the pod accounted")
	}

	if c.RemovePod(a.UID) == nil || c.Get("n1").Requested.MilliCPU != 0 {
		t.Fatal("remove")
	}
	c.Prepare()
	if len(c.HavePodsWithRequiredAntiAffinity()) != 0 || len(c.Groups().Terms) != 0 || len(c.Groups().Pods) != 0 {
		t.Error("indexes kept a removed pod")
	}
}

func TestPodsOnUnknownNodesAndNodeRemoval(t *testing.T) {
	c := cache.New()
	c.SetPod(pod("early", "n1", "1", false)) // bound before the node is seen
	c.Prepare()
	if len(c.NodeInfos()) != 0 {
		t.Fatal("a node known only through a pod is schedulable")
	}
	c.SetNode(node("n1"))
	c.Prepare()
	if ns := c.NodeInfos(); len(ns) != 1 || ns[0].Requested.MilliCPU != 1000 {
		t.Fatalf("the node does not count its pod: %+v", ns)
	}
	c.RemoveNode("n1")
	c.Prepare()
	if len(c.NodeInfos()) != 0 || c.Get("n1") == nil {
		t.Fatal("a removed node with pods should stay as a placeholder, unschedulable")
	}
	c.RemovePod("uid-early")
	if c.Get("n1") != nil {
		t.Fatal("the placeholder outlived its last pod")
	}
}

func TestNodeReadinessImpliesTaints(t *testing.T) {
	c := cache.New()
	n := node("n1")
	n.Status.Conditions[0].Status = "False"
	c.SetNode(n)
	if ts := c.Get("n1").Taints; len(ts) != 1 || ts[0].GetKey() != api.TaintNodeNotReady {
		t.Fatalf("taints %v", ts)
	}
	n = node("n1")
	c.SetNode(n)
	if ts := c.Get("n1").Taints; len(ts) != 0 {
		t.Fatalf("taints of a ready node %v", ts)
	}
}
