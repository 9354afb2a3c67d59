package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// PodTemplate checks a stored pod template (core/v1): its template's
// labels and annotations and its pod spec, at template.metadata and
// template.spec, as a workload's template is checked.
func PodTemplate(pt *corev1.PodTemplate) field.ErrorList {
	return validatePodTemplate(pt.GetTemplate(), field.NewPath("template"))
}
