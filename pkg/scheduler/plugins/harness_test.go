package plugins_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/scheduler/plugins"
)

// harness runs one plugin (or a few) over a static snapshot.
type harness struct {
	t    *testing.T
	fwk  *framework.Framework
	snap *framework.StaticSnapshot
	noms *fakeNominator
}

type fakeNominator struct {
	byNode map[string][]*framework.PodInfo
	byUID  map[string]string
}

func (n *fakeNominator) NominatedPodsForNode(node string) []*framework.PodInfo { return n.byNode[node] }
func (n *fakeNominator) NominatedNodeName(pi *framework.PodInfo) string        { return n.byUID[pi.UID] }

func newHarness(t *testing.T, nodes []*corev1.Node, pods []*corev1.Pod, cfgs ...framework.PluginConfig) *harness {
	t.Helper()
	snap := framework.NewStaticSnapshot(nodes, pods)
	noms := &fakeNominator{byNode: map[string][]*framework.PodInfo{}, byUID: map[string]string{}}
	cfgs = append(cfgs, framework.PluginConfig{Name: plugins.DefaultBinderName})
	fwk, err := framework.New(framework.Options{
		Registry:  plugins.NewRegistry(plugins.Deps{Bind: func(context.Context, *framework.PodInfo, string) error { return nil }}),
		Plugins:   cfgs,
		Snapshot:  snap,
		Nominator: noms,
		Rand:      rand.New(rand.NewPCG(1, 1)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, fwk: fwk, snap: snap, noms: noms}
}

func pc(name string) framework.PluginConfig { return framework.PluginConfig{Name: name, Weight: 1} }

// filter runs the plugin's PreFilter and Filter on every node and returns
// each node's result: "" for a pass, else the status's code and message.
func (h *harness) filter(name string, pod *corev1.Pod) map[string]string {
	h.t.Helper()
	pi := framework.NewPodInfo(pod)
	if pi.Err != nil {
		h.t.Fatalf("pod: %v", pi.Err)
	}
	state := framework.NewCycleState()
	p := h.fwk.Plugin(name)
	out := map[string]string{}
	if pf, ok := p.(framework.PreFilterPlugin); ok {
		st := pf.PreFilter(context.Background(), state, pi)
		if st.IsSkip() {
			for _, ni := range h.snap.NodeInfos() {
				out[ni.Name] = ""
			}
			return out
		}
		if !st.IsSuccess() {
			for _, ni := range h.snap.NodeInfos() {
				out[ni.Name] = "prefilter " + st.String()
			}
			return out
		}
	}
	for _, ni := range h.snap.NodeInfos() {
		st := p.(framework.FilterPlugin).Filter(context.Background(), state, pi, ni)
		if st.IsSuccess() {
			out[ni.Name] = ""
		} else {
			out[ni.Name] = st.String()
		}
	}
	return out
}

// score runs the plugin's PreScore, Score and NormalizeScore over every
// node; a skipped plugin returns nil.
func (h *harness) score(name string, pod *corev1.Pod) map[string]int64 {
	h.t.Helper()
	pi := framework.NewPodInfo(pod)
	state := framework.NewCycleState()
	p := h.fwk.Plugin(name)
	nodes := h.snap.NodeInfos()
	if ps, ok := p.(framework.PreScorePlugin); ok {
		st := ps.PreScore(context.Background(), state, pi, nodes)
		if st.IsSkip() {
			return nil
		}
		if !st.IsSuccess() {
			h.t.Fatalf("prescore: %v", st)
		}
	}
	sp := p.(framework.ScorePlugin)
	scores := make([]framework.NodeScore, len(nodes))
	for i, ni := range nodes {
		s, st := sp.Score(context.Background(), state, pi, ni)
		if !st.IsSuccess() {
			h.t.Fatalf("score on %s: %v", ni.Name, st)
		}
		scores[i] = framework.NodeScore{Name: ni.Name, Score: s}
	}
	if ext := sp.ScoreExtensions(); ext != nil {
		if st := ext.NormalizeScore(context.Background(), state, pi, scores); !st.IsSuccess() {
			h.t.Fatalf("normalize: %v", st)
		}
	}
	out := map[string]int64{}
	for _, s := range scores {
		out[s.Name] = s.Score
	}
	return out
}

// passing lists the nodes that passed, sorted.
func passing(m map[string]string) []string {
	var out []string
	for n, r := range m {
		if r == "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Builders.

type nodeOpt func(*corev1.Node)

func node(name string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Spec:     &corev1.NodeSpec{},
		Status: &corev1.NodeStatus{
			Allocatable: map[string]*metav1.Quantity{"cpu": {String_: "4"}, "memory": {String_: "8Gi"}, "pods": {String_: "110"}},
			Conditions:  []*corev1.NodeCondition{{Type: "Ready", Status: "True"}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withLabels(kv ...string) nodeOpt {
	return func(n *corev1.Node) {
		for i := 0; i < len(kv); i += 2 {
			n.Metadata.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withTaint(key, value, effect string) nodeOpt {
	return func(n *corev1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, &corev1.Taint{Key: key, Value: value, Effect: effect})
	}
}

func withAllocatable(kv ...string) nodeOpt {
	return func(n *corev1.Node) {
		for i := 0; i < len(kv); i += 2 {
			n.Status.Allocatable[kv[i]] = &metav1.Quantity{String_: kv[i+1]}
		}
	}
}

func withReady(status string) nodeOpt {
	return func(n *corev1.Node) {
		if status == "" {
			n.Status.Conditions = nil
			return
		}
		n.Status.Conditions = []*corev1.NodeCondition{{Type: "Ready", Status: status}}
	}
}

func unschedulable(n *corev1.Node) { n.Spec.Unschedulable = true }

type podOpt func(*corev1.Pod)

var podSeq int

func pod(name string, opts ...podOpt) *corev1.Pod {
	podSeq++
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: fmt.Sprintf("uid-%s-%d", name, podSeq), Labels: map[string]string{}},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{}}}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func on(node string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = node } }

func requests(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		for i := 0; i < len(kv); i += 2 {
			p.Spec.Containers[0].Resources.Requests[kv[i]] = &metav1.Quantity{String_: kv[i+1]}
		}
	}
}

func labels(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		for i := 0; i < len(kv); i += 2 {
			p.Metadata.Labels[kv[i]] = kv[i+1]
		}
	}
}

func inNamespace(ns string) podOpt { return func(p *corev1.Pod) { p.Metadata.Namespace = ns } }

func priority(v int32) podOpt { return func(p *corev1.Pod) { p.Spec.Priority = &v } }

func tolerate(key, op, value, effect string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, &corev1.Toleration{Key: key, Operator: op, Value: value, Effect: effect})
	}
}

func nodeSelector(kv ...string) podOpt {
	return func(p *corev1.Pod) {
		if p.Spec.NodeSelector == nil {
			p.Spec.NodeSelector = map[string]string{}
		}
		for i := 0; i < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func req(key, op string, values ...string) *corev1.NodeSelectorRequirement {
	return &corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

// requiredNodeAffinity adds one required term (ORed with other calls).
func requiredNodeAffinity(reqs ...*corev1.NodeSelectorRequirement) podOpt {
	return func(p *corev1.Pod) {
		ensureAffinity(p)
		na := p.Spec.Affinity.NodeAffinity
		if na.RequiredDuringSchedulingIgnoredDuringExecution == nil {
			na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
		}
		r := na.RequiredDuringSchedulingIgnoredDuringExecution
		r.NodeSelectorTerms = append(r.NodeSelectorTerms, &corev1.NodeSelectorTerm{MatchExpressions: reqs})
	}
}

func preferredNodeAffinity(weight int32, reqs ...*corev1.NodeSelectorRequirement) podOpt {
	return func(p *corev1.Pod) {
		ensureAffinity(p)
		na := p.Spec.Affinity.NodeAffinity
		na.PreferredDuringSchedulingIgnoredDuringExecution = append(na.PreferredDuringSchedulingIgnoredDuringExecution,
			&corev1.PreferredSchedulingTerm{Weight: weight, Preference: &corev1.NodeSelectorTerm{MatchExpressions: reqs}})
	}
}

func ensureAffinity(p *corev1.Pod) {
	if p.Spec.Affinity == nil {
		p.Spec.Affinity = &corev1.Affinity{}
	}
	if p.Spec.Affinity.NodeAffinity == nil {
		p.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	if p.Spec.Affinity.PodAffinity == nil {
		p.Spec.Affinity.PodAffinity = &corev1.PodAffinity{}
	}
	if p.Spec.Affinity.PodAntiAffinity == nil {
		p.Spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{}
	}
}

func term(key string, matchLabels ...string) *corev1.PodAffinityTerm {
	ml := map[string]string{}
	for i := 0; i < len(matchLabels); i += 2 {
		ml[matchLabels[i]] = matchLabels[i+1]
	}
	return &corev1.PodAffinityTerm{TopologyKey: key, LabelSelector: &metav1.LabelSelector{MatchLabels: ml}}
}

func podAffinity(t *corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		ensureAffinity(p)
		pa := p.Spec.Affinity.PodAffinity
		pa.RequiredDuringSchedulingIgnoredDuringExecution = append(pa.RequiredDuringSchedulingIgnoredDuringExecution, t)
	}
}

func podAntiAffinity(t *corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		ensureAffinity(p)
		pa := p.Spec.Affinity.PodAntiAffinity
		pa.RequiredDuringSchedulingIgnoredDuringExecution = append(pa.RequiredDuringSchedulingIgnoredDuringExecution, t)
	}
}

func preferredPodAffinity(w int32, t *corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		ensureAffinity(p)
		pa := p.Spec.Affinity.PodAffinity
		pa.PreferredDuringSchedulingIgnoredDuringExecution = append(pa.PreferredDuringSchedulingIgnoredDuringExecution, &corev1.WeightedPodAffinityTerm{Weight: w, PodAffinityTerm: t})
	}
}

func preferredPodAntiAffinity(w int32, t *corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		ensureAffinity(p)
		pa := p.Spec.Affinity.PodAntiAffinity
		pa.PreferredDuringSchedulingIgnoredDuringExecution = append(pa.PreferredDuringSchedulingIgnoredDuringExecution, &corev1.WeightedPodAffinityTerm{Weight: w, PodAffinityTerm: t})
	}
}

func spread(key string, maxSkew int32, when string, matchLabels ...string) podOpt {
	return func(p *corev1.Pod) {
		ml := map[string]string{}
		for i := 0; i < len(matchLabels); i += 2 {
			ml[matchLabels[i]] = matchLabels[i+1]
		}
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, &corev1.TopologySpreadConstraint{
			MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: when, LabelSelector: &metav1.LabelSelector{MatchLabels: ml}})
	}
}

func hostPort(port int32, proto, ip string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, &corev1.ContainerPort{ContainerPort: port, HostPort: port, Protocol: proto, HostIp: ip})
	}
}

func controlledBy(uid string) podOpt {
	return func(p *corev1.Pod) {
		t := true
		p.Metadata.OwnerReferences = append(p.Metadata.OwnerReferences, &metav1.OwnerReference{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", Uid: uid, Controller: &t})
	}
}
