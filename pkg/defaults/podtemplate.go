package defaults

import corev1 "keel.dev/keel/pkg/apis/core/v1"

// PodTemplate sets a stored pod template's defaults: its pod spec's, as
// for a workload's template.
func PodTemplate(pt *corev1.PodTemplate) {
	if pt.Template == nil {
		pt.Template = &corev1.PodTemplateSpec{}
	}
	applyPodTemplate(pt.Template)
}
