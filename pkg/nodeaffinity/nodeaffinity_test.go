package nodeaffinity

import (
	"slices"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

func TestNodeNames(t *testing.T) {
	name := func(op string, values ...string) *corev1.NodeSelectorRequirement {
		return &corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: op, Values: values}
	}
	zone := &corev1.NodeSelectorRequirement{Key: "zone", Operator: "In", Values: []string{"a"}}
	for _, tc := range []struct {
		what  string
		terms []*corev1.NodeSelectorTerm
		want  []string
		ok    bool
	}{
		{"a DaemonSet's pod", []*corev1.NodeSelectorTerm{{MatchFields: []*corev1.NodeSelectorRequirement{name("In", "n1")}}}, []string{"n1"}, true},
		{"terms are ORed", []*corev1.NodeSelectorTerm{{MatchFields: []*corev1.NodeSelectorRequirement{name("In", "n2")}}, {MatchFields: []*corev1.NodeSelectorRequirement{name("In", "n1", "n2")}}}, []string{"n1", "n2"}, true},
		{"requirements of a term are ANDed", []*corev1.NodeSelectorTerm{{MatchFields: []*corev1.NodeSelectorRequirement{name("In", "n1", "n2"), name("In", "n2", "n3")}}}, []string{"n2"}, true},
		{"labels as well still name the nodes", []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{zone}, MatchFields: []*corev1.NodeSelectorRequirement{name("In", "n1")}}}, []string{"n1"}, true},
		{"an empty term matches nothing", []*corev1.NodeSelectorTerm{{}, {MatchFields: []*corev1.NodeSelectorRequirement{name("In", "n1")}}}, []string{"n1"}, true},
		{"a term without a name", []*corev1.NodeSelectorTerm{{MatchFields: []*corev1.NodeSelectorRequirement{name("In", "n1")}}, {MatchExpressions: []*corev1.NodeSelectorRequirement{zone}}}, nil, false},
		{"NotIn names no node", []*corev1.NodeSelectorTerm{{MatchFields: []*corev1.NodeSelectorRequirement{name("NotIn", "n1")}}}, nil, false},
	} {
		spec := &corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: tc.terms}}}}
		s, err := NewNodeSelector(spec)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := s.NodeNames()
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v %v, want %v %v", tc.what, got, ok, tc.want, tc.ok)
		}
	}
	if s, _ := NewNodeSelector(&corev1.PodSpec{NodeSelector: map[string]string{"zone": "a"}}); func() bool { _, ok := s.NodeNames(); return ok }() {
		t.Error("a nodeSelector alone names nodes")
	}
}
