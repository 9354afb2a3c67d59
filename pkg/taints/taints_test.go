package taints

import (
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

func TestTolerates(t *testing.T) {
	taint := &corev1.Taint{Key: "dedicated", Value: "gpu", Effect: "NoSchedule"}
	cases := []struct {
		name string
		tol  *corev1.Toleration
		want bool
	}{
		{"equal key, value and effect", &corev1.Toleration{Key: "dedicated", Operator: "Equal", Value: "gpu", Effect: "NoSchedule"}, true},
		{"empty operator means Equal", &corev1.Toleration{Key: "dedicated", Value: "gpu"}, true},
		{"other value", &corev1.Toleration{Key: "dedicated", Value: "cpu"}, false},
		{"exists on the key", &corev1.Toleration{Key: "dedicated", Operator: "Exists"}, true},
		{"exists without key tolerates everything", &corev1.Toleration{Operator: "Exists"}, true},
		{"other effect", &corev1.Toleration{Key: "dedicated", Operator: "Exists", Effect: "NoExecute"}, false},
		{"other key", &corev1.Toleration{Key: "team", Operator: "Exists"}, false},
		{"unknown operator", &corev1.Toleration{Key: "dedicated", Operator: "Gt", Value: "gpu"}, false},
	}
	for _, c := range cases {
		if got := Tolerates(c.tol, taint); got != c.want {
			t.Errorf("%s: Tolerates = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestFirstUntoleratedTaint(t *testing.T) {
	noSched := &corev1.Taint{Key: "a", Effect: "NoSchedule"}
	prefer := &corev1.Taint{Key: "b", Effect: "PreferNoSchedule"}
	noExec := &corev1.Taint{Key: "c", Effect: "NoExecute"}
	all := []*corev1.Taint{prefer, noSched, noExec}
	cases := []struct {
		name        string
		tolerations []*corev1.Toleration
		effects     []string
		want        *corev1.Taint
	}{
		{"none tolerated", nil, []string{"NoSchedule", "NoExecute"}, noSched},
		{"effect not asked for", nil, []string{"NoExecute"}, noExec},
		{"first tolerated", []*corev1.Toleration{{Key: "a", Operator: "Exists"}}, []string{"NoSchedule", "NoExecute"}, noExec},
		{"all tolerated", []*corev1.Toleration{{Operator: "Exists"}}, []string{"NoSchedule", "NoExecute", "PreferNoSchedule"}, nil},
		{"no effects", nil, nil, nil},
	}
	for _, c := range cases {
		if got := FirstUntoleratedTaint(all, c.tolerations, c.effects...); got != c.want {
			t.Errorf("%s: FirstUntoleratedTaint = %v, want %v", c.name, got, c.want)
		}
	}
	if !TaintTolerated([]*corev1.Toleration{{Key: "x"}, {Key: "b", Operator: "Exists"}}, prefer) {
		t.Error("TaintTolerated: the second toleration matches")
	}
}

// TestMergeTolerations: of two tolerations where one tolerates every
// taint the other does, for at least as long, only the broader is kept.
func TestMergeTolerations(t *testing.T) {
	sec := func(n int64) *int64 { return &n }
	pod := []*corev1.Toleration{
		{Key: "a", Operator: "Equal", Value: "1", Effect: "NoSchedule"},
		{Key: "b", Operator: "Exists"},
		{Key: "c", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: sec(60)},
	}
	extra := []*corev1.Toleration{
		{Key: "a", Operator: "Equal", Value: "1", Effect: "NoSchedule"},                 // already there
		{Key: "a", Operator: "Equal", Value: "2", Effect: "NoSchedule"},                 // other value
		{Key: "b", Operator: "Equal", Value: "x", Effect: "NoExecute"},                  // covered by b Exists
		{Key: "c", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: sec(30)}, // shorter: covered
		{Key: "c", Operator: "Exists", Effect: "NoExecute"},                             // forever: not covered
	}
	got := MergeTolerations(pod, extra)
	if len(got) != 4 || got[0] != pod[0] || got[1] != pod[1] || got[2] != extra[1] || got[3] != extra[4] {
		t.Errorf("merged %v", got)
	}
	if len(pod) != 3 {
		t.Errorf("the pod's slice changed: %v", pod)
	}
}
