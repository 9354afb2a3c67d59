package validation_test

import (
	"slices"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/validation"
)

// TestPodTemplate: a stored template is checked as a workload's, with
// paths under template.
func TestPodTemplate(t *testing.T) {
	pt := &corev1.PodTemplate{Metadata: meta("worker"), Template: template("OnFailure")}
	if errs := validation.PodTemplate(pt); len(errs) > 0 {
		t.Errorf("valid template: %v", errs)
	}
	pt.Template.Metadata.Labels["bad key!"] = "x"
	pt.Template.Spec.Containers[0].Image = ""
	want := []string{"template.metadata.labels[bad key!]", "template.spec.containers[0].image"}
	if got := paths(validation.PodTemplate(pt)); !slices.Equal(got, want) {
		t.Errorf("errors at %v, want %v", got, want)
	}
	if got := paths(validation.PodTemplate(&corev1.PodTemplate{Metadata: meta("empty")})); !slices.Equal(got, []string{"template"}) {
		t.Errorf("no template: errors at %v", got)
	}
}
