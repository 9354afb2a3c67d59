package validation_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/validation"
)

func validDaemonSet() *appsv1.DaemonSet {
	d := validDeployment()
	ds := &appsv1.DaemonSet{Metadata: meta("agent"), Spec: &appsv1.DaemonSetSpec{
		Selector: d.Spec.Selector, Template: d.Spec.Template,
	}}
	defaults.DaemonSet(ds)
	return ds
}

func dsWith(f func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	ds := validDaemonSet()
	f(ds)
	return ds
}

func TestDaemonSet(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  *appsv1.DaemonSet
		want []string
	}{
		{"valid", validDaemonSet(), nil},
		{"OnDelete", dsWith(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy = &appsv1.DaemonSetUpdateStrategy{Type: "OnDelete"}
		}), nil},
		{"spec required", dsWith(func(d *appsv1.DaemonSet) { d.Spec = nil }), []string{"spec"}},
		{"selector required", dsWith(func(d *appsv1.DaemonSet) { d.Spec.Selector = nil }), []string{"spec.selector"}},
		{"selector mismatch", dsWith(func(d *appsv1.DaemonSet) {
			d.Spec.Template.Metadata.Labels = map[string]string{"app": "other"}
		}), []string{"spec.template.metadata.labels"}},
		{"restartPolicy", dsWith(func(d *appsv1.DaemonSet) { d.Spec.Template.Spec.RestartPolicy = "Never" }), []string{"spec.template.spec.restartPolicy"}},
		{"minReadySeconds", dsWith(func(d *appsv1.DaemonSet) { d.Spec.MinReadySeconds = -1 }), []string{"spec.minReadySeconds"}},
		{"revisionHistoryLimit", dsWith(func(d *appsv1.DaemonSet) { d.Spec.RevisionHistoryLimit = proto.Int32(-1) }), []string{"spec.revisionHistoryLimit"}},
		{"strategy type", dsWith(func(d *appsv1.DaemonSet) { d.Spec.UpdateStrategy.Type = "Recreate" }), []string{"spec.updateStrategy.type"}},
		{"strategy type required", dsWith(func(d *appsv1.DaemonSet) { d.Spec.UpdateStrategy.Type = "" }), []string{"spec.updateStrategy.type"}},
		{"rollingUpdate required", dsWith(func(d *appsv1.DaemonSet) { d.Spec.UpdateStrategy.RollingUpdate = nil }), []string{"spec.updateStrategy.rollingUpdate"}},
		{"both zero", dsWith(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = &metav1.IntOrString{}
		}), []string{"spec.updateStrategy.rollingUpdate.maxUnavailable"}},
		{"surge only", dsWith(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &metav1.IntOrString{}, MaxSurge: &metav1.IntOrString{Type: 1, StrVal: "10%"}}
		}), nil},
		{"bad percent", dsWith(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = &metav1.IntOrString{Type: 1, StrVal: "150%"}
		}), []string{"spec.updateStrategy.rollingUpdate.maxUnavailable"}},
	} {
		checkPaths(t, tc.name, validation.DaemonSet(tc.obj), tc.want)
	}
	old := validDaemonSet()
	checkPaths(t, "selector immutable", validation.DaemonSetUpdate(dsWith(func(d *appsv1.DaemonSet) {
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"x": "y"}}
	}), old), []string{"spec.selector"})
	checkPaths(t, "status counts", validation.DaemonSetStatus(dsWith(func(d *appsv1.DaemonSet) {
		d.Status = &appsv1.DaemonSetStatus{NumberReady: -1}
	}), old), []string{"status.numberReady"})
}
