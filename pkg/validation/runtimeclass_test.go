package validation_test

import (
	"slices"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	nodev1 "keel.dev/keel/pkg/apis/node/v1"
	"keel.dev/keel/pkg/validation"
)

// TestRuntimeClass: each bad class is refused naming every bad field,
// with Kubernetes' paths; the handler is fixed once created.
func TestRuntimeClass(t *testing.T) {
	valid := func() *nodev1.RuntimeClass {
		return &nodev1.RuntimeClass{Metadata: clusterMeta("gvisor"), Handler: "runsc",
			Overhead: &nodev1.Overhead{PodFixed: map[string]*metav1.Quantity{"cpu": q("250m"), "memory": q("120Mi")}},
			Scheduling: &nodev1.Scheduling{NodeSelector: map[string]string{"sandbox": "gvisor"},
				Tolerations: []*corev1.Toleration{{Key: "sandbox", Operator: "Exists", Effect: "NoSchedule"}}}}
	}
	for _, tc := range []struct {
		name    string
		breakIt func(rc *nodev1.RuntimeClass)
		want    []string
	}{
		{"valid", func(*nodev1.RuntimeClass) {}, nil},
		{"handler only", func(rc *nodev1.RuntimeClass) { rc.Overhead, rc.Scheduling = nil, nil }, nil},
		{"no handler", func(rc *nodev1.RuntimeClass) { rc.Handler = "" }, []string{"handler"}},
		{"handler not a label", func(rc *nodev1.RuntimeClass) { rc.Handler = "run.sc" }, []string{"handler"}},
		{"overhead", func(rc *nodev1.RuntimeClass) { rc.Overhead.PodFixed["cpu"] = q("lots") }, []string{"overhead.podFixed[cpu]"}},
		{"scheduling", func(rc *nodev1.RuntimeClass) {
			rc.Scheduling.NodeSelector["bad key!"] = "x"
			rc.Scheduling.Tolerations = append(rc.Scheduling.Tolerations, &corev1.Toleration{Key: "sandbox", Operator: "Exists", Effect: "NoSchedule"},
				&corev1.Toleration{Operator: "Maybe"})
		}, []string{"scheduling.nodeSelector[bad key!]", "scheduling.tolerations[1]", "scheduling.tolerations[2].operator"}},
	} {
		rc := valid()
		tc.breakIt(rc)
		if got := paths(validation.RuntimeClass(rc)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: errors at %v, want %v", tc.name, got, tc.want)
		}
	}
	changed := valid()
	changed.Handler = "kata"
	if got := paths(validation.RuntimeClassUpdate(changed, valid())); !slices.Equal(got, []string{"handler"}) {
		t.Errorf("handler change: errors at %v", got)
	}
}
