package plugins_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheduler/plugins"
)

type filterCase struct {
	name  string
	nodes []*corev1.Node
	pods  []*corev1.Pod // placed (spec.nodeName set)
	pod   *corev1.Pod
	// want maps every node to "" (passes) or the expected status.
	want map[string]string
}

func runFilterCases(t *testing.T, plugin string, cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.nodes, tc.pods, pc(plugin))
			if diff := cmp.Diff(tc.want, h.filter(plugin, tc.pod)); diff != "" {
				t.Errorf("filter results (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeUnschedulable(t *testing.T) {
	const rej = "UnschedulableAndUnresolvable: node(s) were unschedulable"
	runFilterCases(t, plugins.NodeUnschedulableName, []filterCase{
		{name: "schedulable", nodes: []*corev1.Node{node("a")}, pod: pod("p"), want: map[string]string{"a": ""}},
		{name: "cordoned", nodes: []*corev1.Node{node("a", unschedulable), node("b")}, pod: pod("p"), want: map[string]string{"a": rej, "b": ""}},
		{name: "tolerated", nodes: []*corev1.Node{node("a", unschedulable)},
			pod: pod("p", tolerate("node.kubernetes.io/unschedulable", "Exists", "", "NoSchedule")), want: map[string]string{"a": ""}},
	})
}

func TestNodeName(t *testing.T) {
	nodes := []*corev1.Node{node("a"), node("b")}
	runFilterCases(t, plugins.NodeNameName, []filterCase{
		{name: "no name", nodes: nodes, pod: pod("p"), want: map[string]string{"a": "", "b": ""}},
		{name: "named", nodes: nodes, pod: pod("p", on("b")),
			want: map[string]string{"a": "UnschedulableAndUnresolvable: node(s) didn't match the requested node name", "b": ""}},
	})
}

func TestNodeResourcesFit(t *testing.T) {
	nodes := []*corev1.Node{
		node("small", withAllocatable("cpu", "1", "memory", "1Gi", "pods", "2", "example.com/gpu", "1")),
		node("big", withAllocatable("cpu", "8", "memory", "32Gi", "pods", "110")),
	}
	placed := []*corev1.Pod{pod("x", on("small"), requests("cpu", "500m", "memory", "512Mi"))}
	runFilterCases(t, plugins.NodeResourcesFitName, []filterCase{
		{name: "fits everywhere", nodes: nodes, pods: placed, pod: pod("p", requests("cpu", "500m", "memory", "512Mi")),
			want: map[string]string{"small": "", "big": ""}},
		{name: "cpu", nodes: nodes, pods: placed, pod: pod("p", requests("cpu", "600m")),
			want: map[string]string{"small": "Unschedulable: Insufficient cpu", "big": ""}},
		{name: "memory", nodes: nodes, pods: placed, pod: pod("p", requests("memory", "600Mi")),
			want: map[string]string{"small": "Unschedulable: Insufficient memory", "big": ""}},
		{name: "both, and more than any node", nodes: nodes, pods: placed, pod: pod("p", requests("cpu", "9", "memory", "33Gi")),
			want: map[string]string{"small": "Unschedulable: Insufficient cpu, Insufficient memory", "big": "Unschedulable: Insufficient cpu, Insufficient memory"}},
		{name: "pod count", nodes: nodes, pods: append(placed, pod("y", on("small"))), pod: pod("p"),
			want: map[string]string{"small": "Unschedulable: Too many pods", "big": ""}},
		{name: "extended resource", nodes: nodes, pods: placed, pod: pod("p", requests("example.com/gpu", "1")),
			want: map[string]string{"small": "", "big": "Unschedulable: Insufficient example.com/gpu"}},
		{name: "no requests fit a full node", nodes: nodes, pods: []*corev1.Pod{pod("x", on("small"), requests("cpu", "1", "memory", "1Gi"))}, pod: pod("p"),
			want: map[string]string{"small": "", "big": ""}},
		{name: "init container counts when larger", nodes: nodes, pods: placed, pod: pod("p", func(p *corev1.Pod) {
			p.Spec.InitContainers = []*corev1.Container{{Name: "init", Resources: &corev1.ResourceRequirements{
				Requests: map[string]*metav1.Quantity{"cpu": {String_: "2"}}}}}
		}), want: map[string]string{"small": "Unschedulable: Insufficient cpu", "big": ""}},
	})
}

func TestTaintToleration(t *testing.T) {
	nodes := []*corev1.Node{
		node("plain"),
		node("gpu", withTaint("dedicated", "gpu", "NoSchedule")),
		node("evict", withTaint("maintenance", "", "NoExecute")),
		node("soft", withTaint("spot", "true", "PreferNoSchedule")),
		node("notready", withReady("False")),
		node("unknown", withReady("Unknown")),
		node("noconditions", withReady("")),
	}
	runFilterCases(t, plugins.TaintTolerationName, []filterCase{
		{name: "no tolerations", nodes: nodes, pod: pod("p"), want: map[string]string{
			"plain": "", "soft": "",
			"gpu":          "UnschedulableAndUnresolvable: node(s) had untolerated taint {dedicated: gpu}",
			"evict":        "UnschedulableAndUnresolvable: node(s) had untolerated taint {maintenance: }",
			"notready":     "UnschedulableAndUnresolvable: node(s) had untolerated taint {node.kubernetes.io/not-ready: }",
			"unknown":      "UnschedulableAndUnresolvable: node(s) had untolerated taint {node.kubernetes.io/unreachable: }",
			"noconditions": "UnschedulableAndUnresolvable: node(s) had untolerated taint {node.kubernetes.io/not-ready: }",
		}},
		{name: "equal toleration, exists toleration", nodes: nodes,
			pod: pod("p", tolerate("dedicated", "Equal", "gpu", "NoSchedule"), tolerate("maintenance", "Exists", "", "")),
			want: map[string]string{
				"plain": "", "soft": "", "gpu": "", "evict": "",
				"notready":     "UnschedulableAndUnresolvable: node(s) had untolerated taint {node.kubernetes.io/not-ready: }",
				"unknown":      "UnschedulableAndUnresolvable: node(s) had untolerated taint {node.kubernetes.io/unreachable: }",
				"noconditions": "UnschedulableAndUnresolvable: node(s) had untolerated taint {node.kubernetes.io/not-ready: }",
			}},
		{name: "wrong value or effect", nodes: nodes[:3],
			pod: pod("p", tolerate("dedicated", "Equal", "cpu", "NoSchedule"), tolerate("maintenance", "Exists", "", "NoSchedule")),
			want: map[string]string{
				"plain": "",
				"gpu":   "UnschedulableAndUnresolvable: node(s) had untolerated taint {dedicated: gpu}",
				"evict": "UnschedulableAndUnresolvable: node(s) had untolerated taint {maintenance: }",
			}},
		{name: "tolerate everything", nodes: nodes, pod: pod("p", tolerate("", "Exists", "", "")), want: map[string]string{
			"plain": "", "soft": "", "gpu": "", "evict": "", "notready": "", "unknown": "", "noconditions": ""}},
	})
}

func TestTaintTolerationScore(t *testing.T) {
	nodes := []*corev1.Node{
		node("plain"),
		node("one", withTaint("spot", "true", "PreferNoSchedule")),
		node("two", withTaint("spot", "true", "PreferNoSchedule"), withTaint("slow", "", "PreferNoSchedule")),
	}
	h := newHarness(t, nodes, nil, pc(plugins.TaintTolerationName))
	if diff := cmp.Diff(map[string]int64{"plain": 100, "one": 50, "two": 0}, h.score(plugins.TaintTolerationName, pod("p"))); diff != "" {
		t.Errorf("no tolerations (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int64{"plain": 100, "one": 100, "two": 0},
		h.score(plugins.TaintTolerationName, pod("p", tolerate("spot", "Equal", "true", "PreferNoSchedule")))); diff != "" {
		t.Errorf("tolerating spot (-want +got):\n%s", diff)
	}
}

func TestNodeAffinity(t *testing.T) {
	nodes := []*corev1.Node{
		node("a", withLabels("zone", "z1", "disk", "ssd", "cores", "8")),
		node("b", withLabels("zone", "z2", "disk", "hdd", "cores", "4")),
		node("c", withLabels("zone", "z3")),
	}
	const rej = "UnschedulableAndUnresolvable: node(s) didn't match Pod's node affinity/selector"
	runFilterCases(t, plugins.NodeAffinityName, []filterCase{
		{name: "none", nodes: nodes, pod: pod("p"), want: map[string]string{"a": "", "b": "", "c": ""}},
		{name: "nodeSelector", nodes: nodes, pod: pod("p", nodeSelector("disk", "ssd")), want: map[string]string{"a": "", "b": rej, "c": rej}},
		{name: "In", nodes: nodes, pod: pod("p", requiredNodeAffinity(req("zone", "In", "z1", "z3"))), want: map[string]string{"a": "", "b": rej, "c": ""}},
		{name: "NotIn", nodes: nodes, pod: pod("p", requiredNodeAffinity(req("zone", "NotIn", "z1"))), want: map[string]string{"a": rej, "b": "", "c": ""}},
		{name: "Exists", nodes: nodes, pod: pod("p", requiredNodeAffinity(req("disk", "Exists"))), want: map[string]string{"a": "", "b": "", "c": rej}},
		{name: "DoesNotExist", nodes: nodes, pod: pod("p", requiredNodeAffinity(req("disk", "DoesNotExist"))), want: map[string]string{"a": rej, "b": rej, "c": ""}},
		{name: "Gt", nodes: nodes, pod: pod("p", requiredNodeAffinity(req("cores", "Gt", "5"))), want: map[string]string{"a": "", "b": rej, "c": rej}},
		{name: "Lt", nodes: nodes, pod: pod("p", requiredNodeAffinity(req("cores", "Lt", "5"))), want: map[string]string{"a": rej, "b": "", "c": rej}},
		{name: "terms are ORed, requirements ANDed", nodes: nodes,
			pod:  pod("p", requiredNodeAffinity(req("zone", "In", "z1"), req("disk", "In", "hdd")), requiredNodeAffinity(req("zone", "In", "z3"))),
			want: map[string]string{"a": rej, "b": rej, "c": ""}},
		{name: "selector and affinity both apply", nodes: nodes,
			pod:  pod("p", nodeSelector("disk", "ssd"), requiredNodeAffinity(req("zone", "In", "z2", "z1"))),
			want: map[string]string{"a": "", "b": rej, "c": rej}},
		{name: "matchFields metadata.name", nodes: nodes, pod: pod("p", func(p *corev1.Pod) {
			requiredNodeAffinity()(p)
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields = []*corev1.NodeSelectorRequirement{req("metadata.name", "In", "b")}
		}), want: map[string]string{"a": rej, "b": "", "c": rej}},
	})
}

func TestNodeAffinityScore(t *testing.T) {
	nodes := []*corev1.Node{
		node("a", withLabels("zone", "z1", "disk", "ssd")),
		node("b", withLabels("zone", "z2", "disk", "ssd")),
		node("c", withLabels("zone", "z3")),
	}
	h := newHarness(t, nodes, nil, pc(plugins.NodeAffinityName))
	got := h.score(plugins.NodeAffinityName, pod("p", preferredNodeAffinity(30, req("zone", "In", "z1")), preferredNodeAffinity(10, req("disk", "Exists"))))
	if diff := cmp.Diff(map[string]int64{"a": 100, "b": 25, "c": 0}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := h.score(plugins.NodeAffinityName, pod("p")); got != nil {
		t.Errorf("a pod without preferences is scored: %v", got)
	}
}

func TestNodePorts(t *testing.T) {
	nodes := []*corev1.Node{node("a"), node("b"), node("c")}
	placed := []*corev1.Pod{
		pod("x", on("a"), hostPort(80, "", "")),
		pod("y", on("b"), hostPort(80, "UDP", "")),
		pod("z", on("c"), hostPort(8080, "TCP", "10.0.0.1")),
	}
	const rej = "Unschedulable: node(s) didn't have free ports for the requested pod ports"
	runFilterCases(t, plugins.NodePortsName, []filterCase{
		{name: "no ports", nodes: nodes, pods: placed, pod: pod("p"), want: map[string]string{"a": "", "b": "", "c": ""}},
		{name: "tcp 80", nodes: nodes, pods: placed, pod: pod("p", hostPort(80, "TCP", "")), want: map[string]string{"a": rej, "b": "", "c": ""}},
		{name: "udp 80", nodes: nodes, pods: placed, pod: pod("p", hostPort(80, "UDP", "")), want: map[string]string{"a": "", "b": rej, "c": ""}},
		{name: "other ip", nodes: nodes, pods: placed, pod: pod("p", hostPort(8080, "TCP", "10.0.0.2")), want: map[string]string{"a": "", "b": "", "c": ""}},
		{name: "wildcard ip", nodes: nodes, pods: placed, pod: pod("p", hostPort(8080, "TCP", "")), want: map[string]string{"a": "", "b": "", "c": rej}},
	})
}

func TestInterPodAffinityFilter(t *testing.T) {
	nodes := []*corev1.Node{
		node("a1", withLabels("zone", "a")),
		node("a2", withLabels("zone", "a")),
		node("b1", withLabels("zone", "b")),
		node("nozone"),
	}
	const (
		aff      = "UnschedulableAndUnresolvable: node(s) didn't match pod affinity rules"
		anti     = "Unschedulable: node(s) didn't match pod anti-affinity rules"
		existing = "Unschedulable: node(s) didn't satisfy existing pods anti-affinity rules"
	)
	db := pod("db", on("a1"), labels("app", "db"))
	runFilterCases(t, plugins.InterPodAffinityName, []filterCase{
		{name: "no terms", nodes: nodes, pods: []*corev1.Pod{db}, pod: pod("p"),
			want: map[string]string{"a1": "", "a2": "", "b1": "", "nozone": ""}},
		{name: "affinity to db's zone", nodes: nodes, pods: []*corev1.Pod{db}, pod: pod("p", podAffinity(term("zone", "app", "db"))),
			want: map[string]string{"a1": "", "a2": "", "b1": aff, "nozone": aff}},
		{name: "affinity to db's host", nodes: nodes, pods: []*corev1.Pod{db}, pod: pod("p", podAffinity(term("kubernetes.io/hostname", "app", "db"))),
			want: map[string]string{"a1": "", "a2": aff, "b1": aff, "nozone": aff}},
		{name: "affinity in another namespace does not match", nodes: nodes, pods: []*corev1.Pod{db},
			pod:  pod("p", inNamespace("other"), podAffinity(term("zone", "app", "db"))),
			want: map[string]string{"a1": aff, "a2": aff, "b1": aff, "nozone": aff}},
		{name: "first pod of a self-selecting group goes anywhere with the key", nodes: nodes,
			pod:  pod("p", labels("app", "web"), podAffinity(term("zone", "app", "web"))),
			want: map[string]string{"a1": "", "a2": "", "b1": "", "nozone": aff}},
		{name: "anti-affinity to db's zone", nodes: nodes, pods: []*corev1.Pod{db}, pod: pod("p", podAntiAffinity(term("zone", "app", "db"))),
			want: map[string]string{"a1": anti, "a2": anti, "b1": "", "nozone": ""}},
		{name: "existing pod's anti-affinity keeps the pod out", nodes: nodes,
			pods: []*corev1.Pod{pod("lonely", on("b1"), labels("app", "lonely"), podAntiAffinity(term("zone", "app", "web")))},
			pod:  pod("p", labels("app", "web")),
			want: map[string]string{"a1": "", "a2": "", "b1": existing, "nozone": ""}},
		{name: "existing anti-affinity that does not select the pod", nodes: nodes,
			pods: []*corev1.Pod{pod("lonely", on("b1"), labels("app", "lonely"), podAntiAffinity(term("zone", "app", "web")))},
			pod:  pod("p", labels("app", "api")),
			want: map[string]string{"a1": "", "a2": "", "b1": "", "nozone": ""}},
		{name: "namespaceSelector {} selects every namespace", nodes: nodes, pods: []*corev1.Pod{db},
			pod: pod("p", inNamespace("other"), podAntiAffinity(func() *corev1.PodAffinityTerm {
				t := term("zone", "app", "db")
				t.NamespaceSelector = &metav1.LabelSelector{}
				return t
			}())),
			want: map[string]string{"a1": anti, "a2": anti, "b1": "", "nozone": ""}},
	})
}

func TestPodTopologySpreadFilter(t *testing.T) {
	nodes := []*corev1.Node{
		node("a1", withLabels("zone", "a")),
		node("a2", withLabels("zone", "a")),
		node("b1", withLabels("zone", "b")),
		node("nozone"),
	}
	web := func(name, n string) *corev1.Pod { return pod(name, on(n), labels("app", "web")) }
	const (
		skew    = "Unschedulable: node(s) didn't match pod topology spread constraints"
		missing = "UnschedulableAndUnresolvable: node(s) didn't match pod topology spread constraints (missing required label)"
	)
	runFilterCases(t, plugins.PodTopologySpreadName, []filterCase{
		{name: "no constraints", nodes: nodes, pod: pod("p"), want: map[string]string{"a1": "", "a2": "", "b1": "", "nozone": ""}},
		{name: "zone skew 1: zone a has 2, b has 0", nodes: nodes, pods: []*corev1.Pod{web("w1", "a1"), web("w2", "a2")},
			pod:  pod("p", labels("app", "web"), spread("zone", 1, "DoNotSchedule", "app", "web")),
			want: map[string]string{"a1": skew, "a2": skew, "b1": "", "nozone": missing}},
		{name: "zone skew 2 allows a", nodes: nodes, pods: []*corev1.Pod{web("w1", "a1")},
			pod:  pod("p", labels("app", "web"), spread("zone", 2, "DoNotSchedule", "app", "web")),
			want: map[string]string{"a1": "", "a2": "", "b1": "", "nozone": missing}},
		{name: "other labels do not count", nodes: nodes, pods: []*corev1.Pod{pod("x", on("a1"), labels("app", "db")), pod("y", on("a2"), labels("app", "db"))},
			pod:  pod("p", labels("app", "web"), spread("zone", 1, "DoNotSchedule", "app", "web")),
			want: map[string]string{"a1": "", "a2": "", "b1": "", "nozone": missing}},
		{name: "hostname spread", nodes: nodes[:3], pods: []*corev1.Pod{web("w1", "a1")},
			pod:  pod("p", labels("app", "web"), spread("kubernetes.io/hostname", 1, "DoNotSchedule", "app", "web")),
			want: map[string]string{"a1": skew, "a2": "", "b1": ""}},
		{name: "ScheduleAnyway never filters", nodes: nodes, pods: []*corev1.Pod{web("w1", "a1"), web("w2", "a2")},
			pod:  pod("p", labels("app", "web"), spread("zone", 1, "ScheduleAnyway", "app", "web")),
			want: map[string]string{"a1": "", "a2": "", "b1": "", "nozone": ""}},
		{name: "nodes outside the pod's node affinity are not domains", nodes: nodes, pods: []*corev1.Pod{web("w1", "a1")},
			pod:  pod("p", labels("app", "web"), nodeSelector("zone", "a"), spread("zone", 1, "DoNotSchedule", "app", "web")),
			want: map[string]string{"a1": "", "a2": "", "b1": "", "nozone": missing}},
		{name: "minDomains: fewer domains than asked count as min 0", nodes: nodes[:2], pods: []*corev1.Pod{web("w1", "a1")},
			pod: pod("p", labels("app", "web"), spread("zone", 1, "DoNotSchedule", "app", "web"), func(p *corev1.Pod) {
				two := int32(2)
				p.Spec.TopologySpreadConstraints[0].MinDomains = &two
			}),
			want: map[string]string{"a1": skew, "a2": skew}},
	})
}
