package framework_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/scheduler/plugins"
)

func mkNode(name, cpu string, taints ...*corev1.Taint) *corev1.Node {
	return &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Spec:     &corev1.NodeSpec{Taints: taints},
		Status: &corev1.NodeStatus{
			Allocatable: map[string]*metav1.Quantity{"cpu": {String_: cpu}, "memory": {String_: "8Gi"}, "pods": {String_: "110"}},
			Conditions:  []*corev1.NodeCondition{{Type: "Ready", Status: "True"}},
		},
	}
}

func mkPod(name, cpu string) *corev1.Pod {
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Resources: &corev1.ResourceRequirements{
			Requests: map[string]*metav1.Quantity{"cpu": {String_: cpu}}}}}},
	}
}

func newFramework(t *testing.T, snap framework.Snapshot, pct int32) *framework.Framework {
	t.Helper()
	f, err := framework.New(framework.Options{
		Registry:                 plugins.NewRegistry(testDeps()),
		Plugins:                  plugins.DefaultPlugins(),
		Snapshot:                 snap,
		Parallelism:              4,
		PercentageOfNodesToScore: pct,
		Rand:                     rand.New(rand.NewPCG(3, 4)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFitErrorMessage(t *testing.T) {
	gpu := &corev1.Taint{Key: "dedicated", Value: "gpu", Effect: "NoSchedule"}
	nodes := []*corev1.Node{mkNode("a", "1"), mkNode("b", "1"), mkNode("c", "1"), mkNode("d", "8", gpu), mkNode("e", "8", gpu)}
	f := newFramework(t, framework.NewStaticSnapshot(nodes, nil), 0)
	d := f.Schedule(context.Background(), framework.NewPodInfo(mkPod("p", "2")))
	if d.FitError == nil {
		t.Fatalf("scheduled to %q", d.Node)
	}
	want := "0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: gpu}."
	if got := d.FitError.Error(); got != want {
		t.Errorf("message\n got %q\nwant %q", got, want)
	}
	if _, ok := d.FitError.Diagnosis.UnschedulablePlugins[plugins.NodeResourcesFitName]; !ok {
		t.Errorf("unschedulable plugins %v lack NodeResourcesFit", d.FitError.Diagnosis.UnschedulablePlugins)
	}
	if d.Preemption != nil {
		t.Errorf("preempted with nothing to preempt: %+v", d.Preemption)
	}

	empty := newFramework(t, framework.NewStaticSnapshot(nil, nil), 0)
	if got := empty.Schedule(context.Background(), framework.NewPodInfo(mkPod("p", "1"))).FitError.Error(); got != "0/0 nodes are available: no nodes are registered." {
		t.Errorf("no nodes: %q", got)
	}
}

func TestHistogramOrder(t *testing.T) {
	got := framework.Histogram(map[string]int{"b": 2, "a": 2, "z": 5, "c": 1})
	if want := "5 z, 2 a, 2 b, 1 c"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	for _, tc := range []struct {
		nodes int
		pct   int32
		want  int
	}{
		{50, 0, 50}, {99, 0, 99}, {100, 0, 100}, {200, 0, 100}, {1000, 0, 420}, {5000, 0, 500},
		{10000, 0, 500}, {1000, 100, 1000}, {1000, 30, 300}, {1000, 5, 100},
	} {
		if got := framework.NumFeasibleNodesToFind(tc.nodes, tc.pct); got != tc.want {
			t.Errorf("%d nodes at %d%%: %d, want %d", tc.nodes, tc.pct, got, tc.want)
		}
	}
}

// TestAdaptiveFiltering checks that a large cluster is only partly
// filtered, and that successive cycles start where the last one stopped
// so that every node is considered in turn.
func TestAdaptiveFiltering(t *testing.T) {
	var nodes []*corev1.Node
	for i := range 1000 {
		nodes = append(nodes, mkNode(fmt.Sprintf("n%04d", i), "32"))
	}
	f := newFramework(t, framework.NewStaticSnapshot(nodes, nil), 0)
	chosen := map[string]bool{}
	for i := range 5 {
		d := f.Schedule(context.Background(), framework.NewPodInfo(mkPod(fmt.Sprint("p", i), "100m")))
		if d.Node == "" || d.Err != nil {
			t.Fatalf("cycle %d: %+v", i, d)
		}
		if d.FeasibleNodes != 420 || d.EvaluatedNodes != 420 {
			t.Errorf("cycle %d: %d feasible of %d evaluated, want 420 of 420", i, d.FeasibleNodes, d.EvaluatedNodes)
		}
		chosen[d.Node] = true
	}
	if len(chosen) < 2 {
		t.Errorf("every cycle chose the same node: %v", chosen)
	}
	// With every node filtered, all of them are evaluated.
	all := newFramework(t, framework.NewStaticSnapshot(nodes, nil), 100)
	if d := all.Schedule(context.Background(), framework.NewPodInfo(mkPod("p", "100m"))); d.EvaluatedNodes != 1000 {
		t.Errorf("percentage 100 evaluated %d nodes", d.EvaluatedNodes)
	}
}

// TestParallelFilteringIsConsistent filters many nodes with various
// parallelism and expects the same feasible set.
func TestParallelFilteringIsConsistent(t *testing.T) {
	var nodes []*corev1.Node
	for i := range 700 {
		cpu := "1"
		if i%7 == 0 {
			cpu = "2"
		}
		nodes = append(nodes, mkNode(fmt.Sprintf("n%04d", i), cpu, &corev1.Taint{Key: "k", Value: fmt.Sprint(i % 3), Effect: "NoSchedule"}))
	}
	pod := mkPod("p", "1500m")
	pod.Spec.Tolerations = []*corev1.Toleration{{Key: "k", Operator: "Equal", Value: "0", Effect: "NoSchedule"}}
	for _, par := range []int{1, 2, 16} {
		f, err := framework.New(framework.Options{
			Registry:    plugins.NewRegistry(testDeps()),
			Plugins:     plugins.DefaultPlugins(),
			Snapshot:    framework.NewStaticSnapshot(nodes, nil),
			Parallelism: par,
		})
		if err != nil {
			t.Fatal(err)
		}
		d := f.Schedule(context.Background(), framework.NewPodInfo(pod))
		if d.FitError == nil {
			// Nodes i%7==0 && i%3==0 have 2 CPUs and the tolerated taint.
			if d.FeasibleNodes != 34 {
				t.Errorf("parallelism %d: %d feasible nodes, want 34", par, d.FeasibleNodes)
			}
			continue
		}
		t.Fatalf("parallelism %d: %v", par, d.FitError)
	}
}

func TestPodRequests(t *testing.T) {
	q := func(s string) *metav1.Quantity { return &metav1.Quantity{String_: s} }
	always := "Always"
	spec := &corev1.PodSpec{
		Containers: []*corev1.Container{
			{Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"cpu": q("100m"), "memory": q("64Mi")}}},
			{Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"cpu": q("200m")}}},
		},
		InitContainers: []*corev1.Container{
			{RestartPolicy: &always, Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"cpu": q("50m")}}},
			{Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"cpu": q("1"), "memory": q("32Mi")}}},
		},
		Overhead: map[string]*metav1.Quantity{"cpu": q("10m")},
	}
	req, nz, err := framework.PodRequests(spec)
	if err != nil {
		t.Fatal(err)
	}
	// containers 300m + sidecar 50m = 350m; init 1 + sidecar 50m = 1050m
	// wins; plus 10m overhead. Memory: 64Mi vs 32Mi.
	if req.MilliCPU != 1060 || req.Memory != 64<<20 || req.AllowedPodNumber != 1 {
		t.Errorf("requests %+v", req)
	}
	// For scoring, the missing memory requests of the second container and
	// of the sidecar count 200Mi each.
	if nz.Memory != 64<<20+2*framework.DefaultMemoryRequest {
		t.Errorf("non-zero memory %d", nz.Memory)
	}
	if _, _, err := framework.PodRequests(&corev1.PodSpec{Containers: []*corev1.Container{{Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"cpu": q("lots")}}}}}); err == nil {
		t.Error("a bad quantity was accepted")
	}
}

// TestNodeNameAffinityNarrowsTheCycle: a pod whose required node affinity
// names its nodes (a DaemonSet's pod) has only those nodes evaluated; a
// named node that does not fit, or a name no node has, leaves the pod
// unschedulable with every node's reason.
func TestNodeNameAffinityNarrowsTheCycle(t *testing.T) {
	var nodes []*corev1.Node
	for i := range 1000 {
		nodes = append(nodes, mkNode(fmt.Sprintf("n%04d", i), "4"))
	}
	nodes[7].Status.Allocatable["cpu"] = &metav1.Quantity{String_: "1"}
	f := newFramework(t, framework.NewStaticSnapshot(nodes, nil), 0)
	pinned := func(cpu string, names ...string) *framework.PodInfo {
		p := mkPod("daemon", cpu)
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []*corev1.NodeSelectorTerm{{MatchFields: []*corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: "In", Values: names}}}}}}}
		return framework.NewPodInfo(p)
	}
	if d := f.Schedule(context.Background(), pinned("1", "n0500")); d.Node != "n0500" || d.EvaluatedNodes != 1 {
		t.Errorf("pinned to n0500: node %q after %d evaluated, want n0500 after 1", d.Node, d.EvaluatedNodes)
	}
	if d := f.Schedule(context.Background(), pinned("1", "n0003", "n0004")); (d.Node != "n0003" && d.Node != "n0004") || d.EvaluatedNodes != 2 {
		t.Errorf("pinned to two nodes: node %q after %d evaluated", d.Node, d.EvaluatedNodes)
	}
	for _, tc := range []struct {
		pod  *framework.PodInfo
		want string
	}{
		{pinned("2", "n0007"), "0/1000 nodes are available: 999 node(s) didn't match Pod's node affinity/selector, 1 Insufficient cpu."},
		{pinned("1", "gone"), "0/1000 nodes are available: 1000 node(s) didn't match Pod's node affinity/selector."},
	} {
		d := f.Schedule(context.Background(), tc.pod)
		if d.FitError == nil {
			t.Fatalf("scheduled to %q", d.Node)
		}
		if got := d.FitError.Error(); got != tc.want {
			t.Errorf("message\n got %q\nwant %q", got, tc.want)
		}
		if len(d.FitError.Diagnosis.NodeToStatus) != 1000 {
			t.Errorf("%d node statuses, want 1000", len(d.FitError.Diagnosis.NodeToStatus))
		}
	}
}

// testDeps are plugin dependencies that bind nothing and know no storage.
func testDeps() plugins.Deps {
	return plugins.Deps{
		Bind:        func(context.Context, *framework.PodInfo, string) error { return nil },
		Storage:     &plugins.StaticStorage{},
		UpdateClaim: func(context.Context, *corev1.PersistentVolumeClaim) error { return nil },
	}
}
