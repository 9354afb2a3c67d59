package plugins_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/scheduler/plugins"
)

type scoreCase struct {
	name  string
	nodes []*corev1.Node
	pods  []*corev1.Pod
	pod   *corev1.Pod
	args  string
	want  map[string]int64 // nil: the plugin skips the pod
}

func runScoreCases(t *testing.T, plugin string, cases []scoreCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := pc(plugin)
			if tc.args != "" {
				cfg.Args = []byte(tc.args)
			}
			h := newHarness(t, tc.nodes, tc.pods, cfg)
			if diff := cmp.Diff(tc.want, h.score(plugin, tc.pod)); diff != "" {
				t.Errorf("scores (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAllocationScorers(t *testing.T) {
	nodes := []*corev1.Node{
		node("empty", withAllocatable("cpu", "4", "memory", "8Gi")),
		node("half", withAllocatable("cpu", "4", "memory", "8Gi")),
		node("cpuheavy", withAllocatable("cpu", "4", "memory", "8Gi")),
	}
	placed := []*corev1.Pod{
		pod("h", on("half"), requests("cpu", "2", "memory", "4Gi")),
		pod("c", on("cpuheavy"), requests("cpu", "3", "memory", "1Gi")),
	}
	p := pod("p", requests("cpu", "1", "memory", "1Gi"))
	// With the pod: empty 1/4 cpu, 1/8 mem; half 3/4, 5/8; cpuheavy 4/4, 2/8.
	runScoreCases(t, plugins.LeastAllocatedName, []scoreCase{
		{name: "cpu and memory", nodes: nodes, pods: placed, pod: p, want: map[string]int64{"empty": (75 + 87) / 2, "half": (25 + 37) / 2, "cpuheavy": (0 + 75) / 2}},
		{name: "cpu weighs 3", nodes: nodes, pods: placed, pod: p, args: `{"resources": [{"name": "cpu", "weight": 3}, {"name": "memory"}]}`,
			want: map[string]int64{"empty": (75*3 + 87) / 4, "half": (25*3 + 37) / 4, "cpuheavy": (0 + 75) / 4}},
		{name: "requests default to 100m and 200Mi", nodes: nodes[:1], pod: pod("p"), want: map[string]int64{"empty": (97 + 97) / 2}},
	})
	runScoreCases(t, plugins.MostAllocatedName, []scoreCase{
		{name: "cpu and memory", nodes: nodes, pods: placed, pod: p, want: map[string]int64{"empty": (25 + 12) / 2, "half": (75 + 62) / 2, "cpuheavy": (100 + 25) / 2}},
	})
	runScoreCases(t, plugins.BalancedAllocationName, []scoreCase{
		// std of two fractions is half their difference.
		{name: "cpu and memory", nodes: nodes, pods: placed, pod: p, want: map[string]int64{"empty": 93, "half": 93, "cpuheavy": 62}},
	})
}

func TestAllocationArgsRejected(t *testing.T) {
	for _, args := range []string{`{"resources": [{"weight": 1}]}`, `{"resources": [{"name": "cpu", "weight": 101}]}`, `{"unknown": 1}`} {
		_, err := framework.New(framework.Options{Registry: plugins.NewRegistry(plugins.Deps{}),
			Plugins: []framework.PluginConfig{{Name: plugins.LeastAllocatedName, Args: []byte(args)}}, Snapshot: framework.NewStaticSnapshot(nil, nil)})
		if err == nil {
			t.Errorf("args %s accepted", args)
		}
	}
}

func TestInterPodAffinityScore(t *testing.T) {
	nodes := []*corev1.Node{
		node("a1", withLabels("zone", "a")),
		node("a2", withLabels("zone", "a")),
		node("b1", withLabels("zone", "b")),
	}
	cache := pod("cache", on("a1"), labels("app", "cache"))
	runScoreCases(t, plugins.InterPodAffinityName, []scoreCase{
		{name: "nothing to score", nodes: nodes, pods: []*corev1.Pod{cache}, pod: pod("p"), want: nil},
		{name: "preferred affinity to the cache's zone", nodes: nodes, pods: []*corev1.Pod{cache},
			pod: pod("p", preferredPodAffinity(10, term("zone", "app", "cache"))), want: map[string]int64{"a1": 100, "a2": 100, "b1": 0}},
		{name: "preferred anti-affinity", nodes: nodes, pods: []*corev1.Pod{cache},
			pod: pod("p", preferredPodAntiAffinity(10, term("kubernetes.io/hostname", "app", "cache"))), want: map[string]int64{"a1": 0, "a2": 100, "b1": 100}},
		{name: "a placed pod's required affinity to the pod attracts it", nodes: nodes,
			pods: []*corev1.Pod{pod("fan", on("b1"), labels("app", "fan"), podAffinity(term("zone", "app", "web")))},
			pod:  pod("p", labels("app", "web")), want: map[string]int64{"a1": 0, "a2": 0, "b1": 100}},
		{name: "a placed pod's preferred anti-affinity repels it", nodes: nodes,
			pods: []*corev1.Pod{pod("shy", on("a2"), labels("app", "shy"), preferredPodAntiAffinity(5, term("zone", "app", "web")))},
			pod:  pod("p", labels("app", "web")), want: map[string]int64{"a1": 0, "a2": 0, "b1": 100}},
		{name: "hard weight 0 ignores required terms", nodes: nodes, args: `{"hardPodAffinityWeight": 0}`,
			pods: []*corev1.Pod{pod("fan", on("b1"), labels("app", "fan"), podAffinity(term("zone", "app", "web")))},
			pod:  pod("p", labels("app", "web")), want: nil},
	})
}

func TestPodTopologySpreadScore(t *testing.T) {
	nodes := []*corev1.Node{
		node("a1", withLabels("zone", "a")),
		node("a2", withLabels("zone", "a")),
		node("b1", withLabels("zone", "b")),
		node("nozone"),
	}
	web := func(name, n string) *corev1.Pod { return pod(name, on(n), labels("app", "web")) }
	runScoreCases(t, plugins.PodTopologySpreadName, []scoreCase{
		{name: "no soft constraints", nodes: nodes, pod: pod("p", spread("zone", 1, "DoNotSchedule", "app", "web")), want: nil},
		{name: "the emptier zone scores higher; nodes without the key 0", nodes: nodes,
			pods: []*corev1.Pod{web("w1", "a1"), web("w2", "a2"), web("w3", "b1")},
			pod:  pod("p", labels("app", "web"), spread("zone", 1, "ScheduleAnyway", "app", "web")),
			// counts a=2, b=1, weight log(4): a 3 (rounded 2.77), b 1 (1.39).
			want: map[string]int64{"a1": 33, "a2": 33, "b1": 100, "nozone": 0}},
		{name: "equal domains score equally", nodes: nodes[:3],
			pod:  pod("p", labels("app", "web"), spread("zone", 1, "ScheduleAnyway", "app", "web")),
			want: map[string]int64{"a1": 100, "a2": 100, "b1": 100}},
	})
}

func TestDefaultSpread(t *testing.T) {
	nodes := []*corev1.Node{node("n1"), node("n2"), node("n3")}
	rs := func(name, n string) *corev1.Pod { return pod(name, on(n), controlledBy("rs-1")) }
	runScoreCases(t, plugins.DefaultSpreadName, []scoreCase{
		{name: "no controller", nodes: nodes, pod: pod("p"), want: nil},
		{name: "own topology spread constraints", nodes: nodes, pod: pod("p", controlledBy("rs-1"), spread("zone", 1, "ScheduleAnyway")), want: nil},
		{name: "fewer replicas score higher", nodes: nodes,
			pods: []*corev1.Pod{rs("r1", "n1"), rs("r2", "n1"), rs("r3", "n2"), pod("other", on("n3"), controlledBy("rs-2"))},
			pod:  pod("p", controlledBy("rs-1")), want: map[string]int64{"n1": 0, "n2": 50, "n3": 100}},
	})
	zoned := []*corev1.Node{
		node("a1", withLabels("topology.kubernetes.io/zone", "a")),
		node("a2", withLabels("topology.kubernetes.io/zone", "a")),
		node("b1", withLabels("topology.kubernetes.io/zone", "b")),
	}
	runScoreCases(t, plugins.DefaultSpreadName, []scoreCase{
		// node: a1 0, a2 100, b1 100 (max 1); zone a has 1, b 0: a 0, b 100.
		{name: "zones weigh two thirds", nodes: zoned, pods: []*corev1.Pod{rs("r1", "a1")}, pod: pod("p", controlledBy("rs-1")),
			want: map[string]int64{"a1": 0, "a2": 33, "b1": 100}},
	})
}
