package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
)

// DaemonSet validates a daemon set's spec: a selector matching the
// template's labels, a template whose pods restart Always, a known update
// strategy with sound rolling update bounds, non-negative counts.
func DaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	p := field.NewPath("spec")
	spec := ds.GetSpec()
	if spec == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	allErrs := validateSelectorMatchesTemplate(spec.GetSelector(), spec.GetTemplate(), p)
	allErrs = append(allErrs, validateReplicatedTemplate(spec.GetTemplate(), p.Child("template"))...)
	allErrs = append(allErrs, validateNonnegative(int64(spec.GetMinReadySeconds()), p.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		allErrs = append(allErrs, validateNonnegative(int64(spec.GetRevisionHistoryLimit()), p.Child("revisionHistoryLimit"))...)
	}
	us := spec.GetUpdateStrategy()
	up := p.Child("updateStrategy")
	switch us.GetType() {
	case api.OnDeleteDaemonSetStrategyType:
	case api.RollingUpdateDaemonSetStrategyType:
		if us.GetRollingUpdate() == nil {
			allErrs = append(allErrs, field.Required(up.Child("rollingUpdate"), ""))
		} else {
			ru := us.GetRollingUpdate()
			allErrs = append(allErrs, validateRollingUpdate(ru.GetMaxUnavailable(), ru.GetMaxSurge(), up.Child("rollingUpdate"))...)
		}
	case "":
		allErrs = append(allErrs, field.Required(up.Child("type"), ""))
	default:
		allErrs = append(allErrs, field.NotSupported(up.Child("type"), us.GetType(),
			[]string{api.OnDeleteDaemonSetStrategyType, api.RollingUpdateDaemonSetStrategyType}))
	}
	return allErrs
}

// DaemonSetUpdate: the selector is immutable.
func DaemonSetUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	return validateSelectorImmutable(ds.GetSpec().GetSelector(), old.GetSpec().GetSelector())
}

// DaemonSetStatus: counts are non-negative.
func DaemonSetStatus(ds, _ *appsv1.DaemonSet) field.ErrorList {
	s := ds.GetStatus()
	if s == nil {
		return nil
	}
	p := statusPath
	allErrs := validateNonnegative(s.GetObservedGeneration(), p.Child("observedGeneration"))
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"currentNumberScheduled", s.GetCurrentNumberScheduled()}, {"numberMisscheduled", s.GetNumberMisscheduled()},
		{"desiredNumberScheduled", s.GetDesiredNumberScheduled()}, {"numberReady", s.GetNumberReady()},
		{"updatedNumberScheduled", s.GetUpdatedNumberScheduled()}, {"numberAvailable", s.GetNumberAvailable()},
		{"numberUnavailable", s.GetNumberUnavailable()},
	} {
		allErrs = append(allErrs, validateNonnegative(int64(f.v), p.Child(f.name))...)
	}
	if s.CollisionCount != nil {
		allErrs = append(allErrs, validateNonnegative(int64(s.GetCollisionCount()), p.Child("collisionCount"))...)
	}
	for i, c := range s.GetConditions() {
		cp := p.Child("conditions").Index(i)
		if c.GetType() == "" {
			allErrs = append(allErrs, field.Required(cp.Child("type"), ""))
		}
		allErrs = append(allErrs, validateConditionStatus(c.GetStatus(), cp.Child("status"))...)
	}
	return allErrs
}
