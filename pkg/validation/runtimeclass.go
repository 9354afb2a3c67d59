package validation

import (
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	nodev1 "keel.dev/keel/pkg/apis/node/v1"
)

// RuntimeClass checks a class (node.k8s.io/v1), with Kubernetes' paths:
// handler is a DNS label; overhead.podFixed holds valid resource
// quantities; scheduling.nodeSelector valid labels and
// scheduling.tolerations valid, distinct tolerations.
func RuntimeClass(rc *nodev1.RuntimeClass) field.ErrorList {
	var allErrs field.ErrorList
	if rc.GetHandler() == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("handler"), ""))
	}
	for _, msg := range apivalidation.NameIsDNSLabel(rc.GetHandler(), false) {
		if rc.GetHandler() != "" {
			allErrs = append(allErrs, field.Invalid(field.NewPath("handler"), rc.GetHandler(), msg))
		}
	}
	if o := rc.GetOverhead(); o != nil {
		allErrs = append(allErrs, validateResourceList(o.GetPodFixed(), field.NewPath("overhead", "podFixed"))...)
	}
	if s := rc.GetScheduling(); s != nil {
		p := field.NewPath("scheduling")
		allErrs = append(allErrs, validateLabels(s.GetNodeSelector(), p.Child("nodeSelector"))...)
		tp := p.Child("tolerations")
		allErrs = append(allErrs, validateTolerations(s.GetTolerations(), tp)...)
		type key struct{ key, op, value, effect string }
		seen := map[key]bool{}
		for i, t := range s.GetTolerations() {
			k := key{t.GetKey(), t.GetOperator(), t.GetValue(), t.GetEffect()}
			if seen[k] {
				allErrs = append(allErrs, field.Duplicate(tp.Index(i), tolerationString(t)))
			}
			seen[k] = true
		}
	}
	return allErrs
}

func tolerationString(t *corev1.Toleration) string {
	return t.GetKey() + ":" + t.GetOperator() + ":" + t.GetValue() + ":" + t.GetEffect()
}

// RuntimeClassUpdate: the handler is fixed at creation.
func RuntimeClassUpdate(rc, old *nodev1.RuntimeClass) field.ErrorList {
	return apivalidation.ValidateImmutableField(rc.GetHandler(), old.GetHandler(), field.NewPath("handler"))
}
