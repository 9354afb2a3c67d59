package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
)

// PodDisruptionBudget checks a budget's spec: exactly one of minAvailable
// and maxUnavailable (none is accepted, as Kubernetes does: the budget
// then allows no disruption), each a non-negative integer or a
// percentage of at most 100%, a valid selector and a known
// unhealthyPodEvictionPolicy.
func PodDisruptionBudget(pdb *policyv1.PodDisruptionBudget) field.ErrorList {
	p := field.NewPath("spec")
	spec := pdb.GetSpec()
	var allErrs field.ErrorList
	if spec.GetMinAvailable() != nil && spec.GetMaxUnavailable() != nil {
		allErrs = append(allErrs, field.Invalid(p, field.OmitValueType{}, "minAvailable and maxUnavailable cannot be both set"))
	}
	allErrs = append(allErrs, validateBudgetValue(spec.GetMinAvailable(), p.Child("minAvailable"))...)
	allErrs = append(allErrs, validateBudgetValue(spec.GetMaxUnavailable(), p.Child("maxUnavailable"))...)
	allErrs = append(allErrs, validateLabelSelector(spec.GetSelector(), p.Child("selector"))...)
	if spec != nil && spec.UnhealthyPodEvictionPolicy != nil {
		allErrs = append(allErrs, validateEnum(spec.GetUnhealthyPodEvictionPolicy(), p.Child("unhealthyPodEvictionPolicy"),
			api.IfHealthyBudgetPolicy, api.AlwaysAllowPolicy)...)
	}
	return allErrs
}

// PodDisruptionBudgetStatus checks a budget's status: counts are
// non-negative, conditions well formed.
func PodDisruptionBudgetStatus(pdb, _ *policyv1.PodDisruptionBudget) field.ErrorList {
	s := pdb.GetStatus()
	if s == nil {
		return nil
	}
	p := statusPath
	allErrs := validateNonnegative(s.GetObservedGeneration(), p.Child("observedGeneration"))
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"disruptionsAllowed", s.GetDisruptionsAllowed()}, {"currentHealthy", s.GetCurrentHealthy()},
		{"desiredHealthy", s.GetDesiredHealthy()}, {"expectedPods", s.GetExpectedPods()},
	} {
		allErrs = append(allErrs, validateNonnegative(int64(f.v), p.Child(f.name))...)
	}
	allErrs = append(allErrs, validateConditions(s.GetConditions(), p.Child("conditions"))...)
	return allErrs
}

// validateBudgetValue accepts a non-negative integer or a percentage of
// at most 100%.
func validateBudgetValue(v *metav1.IntOrString, p *field.Path) field.ErrorList {
	allErrs := validateIntOrPercent(v, p)
	if len(allErrs) == 0 && api.IsIntOrStringString(v) && percentValue(v) > 100 {
		allErrs = append(allErrs, field.Invalid(p, v.GetStrVal(), "must not be greater than 100%"))
	}
	return allErrs
}

// Eviction checks an eviction's deleteOptions.
func Eviction(e *policyv1.Eviction) field.ErrorList {
	o := e.GetDeleteOptions()
	if o == nil {
		return nil
	}
	p := field.NewPath("deleteOptions")
	var allErrs field.ErrorList
	if o.GracePeriodSeconds != nil {
		allErrs = append(allErrs, validateNonnegative(o.GetGracePeriodSeconds(), p.Child("gracePeriodSeconds"))...)
	}
	if o.PropagationPolicy != nil {
		allErrs = append(allErrs, validateEnum(o.GetPropagationPolicy(), p.Child("propagationPolicy"),
			api.DeletePropagationBackground, api.DeletePropagationForeground, api.DeletePropagationOrphan)...)
	}
	for i, d := range o.GetDryRun() {
		allErrs = append(allErrs, validateEnum(d, p.Child("dryRun").Index(i), "All")...)
	}
	return allErrs
}
