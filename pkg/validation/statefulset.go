package validation

import (
	"slices"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

func StatefulSet(ss *appsv1.StatefulSet) field.ErrorList { return validateStatefulSet(ss) }
func StatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	return validateStatefulSetUpdate(ss, old)
}
func StatefulSetStatus(ss, _ *appsv1.StatefulSet) field.ErrorList {
	return validateStatefulSetStatus(ss.GetStatus(), statusPath)
}

func validateStatefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	p := field.NewPath("spec")
	spec := ss.GetSpec()
	if spec == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	allErrs := validateReplicas(spec.Replicas, p.Child("replicas"))
	allErrs = append(allErrs, validateNonnegative(int64(spec.GetMinReadySeconds()), p.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		allErrs = append(allErrs, validateNonnegative(int64(spec.GetRevisionHistoryLimit()), p.Child("revisionHistoryLimit"))...)
	}
	if spec.GetServiceName() != "" {
		allErrs = append(allErrs, validateDNS1123Label(spec.GetServiceName(), p.Child("serviceName"))...)
	}
	allErrs = append(allErrs, validateEnum(spec.GetPodManagementPolicy(), p.Child("podManagementPolicy"), api.OrderedReadyPodManagement, api.ParallelPodManagement)...)
	allErrs = append(allErrs, validateStatefulSetUpdateStrategy(spec.GetUpdateStrategy(), p.Child("updateStrategy"))...)
	if rp := spec.GetPersistentVolumeClaimRetentionPolicy(); rp != nil {
		pp := p.Child("persistentVolumeClaimRetentionPolicy")
		retention := []string{api.RetainPersistentVolumeClaimRetentionPolicyType, api.DeletePersistentVolumeClaimRetentionPolicyType}
		allErrs = append(allErrs, validateEnum(rp.GetWhenDeleted(), pp.Child("whenDeleted"), retention...)...)
		allErrs = append(allErrs, validateEnum(rp.GetWhenScaled(), pp.Child("whenScaled"), retention...)...)
	}
	if o := spec.GetOrdinals(); o != nil {
		allErrs = append(allErrs, validateNonnegative(int64(o.GetStart()), p.Child("ordinals", "start"))...)
	}
	allErrs = append(allErrs, validateSelectorMatchesTemplate(spec.GetSelector(), spec.GetTemplate(), p)...)
	claimVolumes, errs := validateClaimTemplates(spec.GetVolumeClaimTemplates(), p.Child("volumeClaimTemplates"))
	allErrs = append(allErrs, errs...)
	return append(allErrs, validateReplicatedTemplate(templateWithClaims(spec.GetTemplate(), claimVolumes), p.Child("template"))...)
}

// templateWithClaims returns t with one persistentVolumeClaim volume per
// claim template (a copy when there are any), in place of a template
// volume of the same name: the pod template's mounts may name either, as
// the controller's pods carry both, a claim's volume replacing the
// template's (Kubernetes accepts both under one name).
func templateWithClaims(t *corev1.PodTemplateSpec, claims []*corev1.Volume) *corev1.PodTemplateSpec {
	if t == nil || len(claims) == 0 {
		return t
	}
	t = proto.Clone(t).(*corev1.PodTemplateSpec)
	if t.Spec == nil {
		t.Spec = &corev1.PodSpec{}
	}
	for _, c := range claims {
		t.Spec.Volumes = slices.DeleteFunc(t.Spec.Volumes, func(v *corev1.Volume) bool { return v.GetName() == c.GetName() })
		t.Spec.Volumes = append(t.Spec.Volumes, c)
	}
	return t
}

// validateClaimTemplates checks volumeClaimTemplates and returns a volume
// for each well-named one.
func validateClaimTemplates(ts []*corev1.PersistentVolumeClaim, p *field.Path) ([]*corev1.Volume, field.ErrorList) {
	var allErrs field.ErrorList
	var vols []*corev1.Volume
	for i, t := range ts {
		tp := p.Index(i)
		name := t.GetMetadata().GetName()
		if name == "" {
			allErrs = append(allErrs, field.Required(tp.Child("metadata", "name"), ""))
		} else if errs := validateDNS1123Label(name, tp.Child("metadata", "name")); len(errs) > 0 {
			allErrs = append(allErrs, errs...)
		} else {
			vols = append(vols, &corev1.Volume{Name: name, PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}})
		}
		allErrs = append(allErrs, validateLabels(t.GetMetadata().GetLabels(), tp.Child("metadata", "labels"))...)
		allErrs = append(allErrs, validatePersistentVolumeClaimSpec(t.GetSpec(), tp.Child("spec"))...)
	}
	return vols, allErrs
}

func validateStatefulSetUpdateStrategy(s *appsv1.StatefulSetUpdateStrategy, p *field.Path) field.ErrorList {
	allErrs := validateEnum(s.GetType(), p.Child("type"), api.RollingUpdateStatefulSetStrategyType, api.OnDeleteStatefulSetStrategyType)
	ru := s.GetRollingUpdate()
	if ru == nil {
		return allErrs
	}
	rp := p.Child("rollingUpdate")
	if s.GetType() != api.RollingUpdateStatefulSetStrategyType {
		return append(allErrs, field.Invalid(rp, "", "only allowed for updateStrategy 'RollingUpdate'"))
	}
	if ru.Partition != nil {
		allErrs = append(allErrs, validateNonnegative(int64(ru.GetPartition()), rp.Child("partition"))...)
	}
	if mu := ru.GetMaxUnavailable(); mu != nil {
		mp := rp.Child("maxUnavailable")
		allErrs = append(allErrs, validateIntOrPercent(mu, mp)...)
		if api.IsIntOrStringString(mu) && percentValue(mu) > 100 {
			allErrs = append(allErrs, field.Invalid(mp, mu.GetStrVal(), "must not be greater than 100%"))
		}
		if isZero(mu) {
			allErrs = append(allErrs, field.Invalid(mp, intOrStringValue(mu), "must be greater than 0"))
		}
	}
	return allErrs
}

// validateStatefulSetUpdate refuses changes to any spec field but those
// Kubernetes lets change.
func validateStatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	spec := proto.Clone(ss.GetSpec()).(*appsv1.StatefulSetSpec)
	oldSpec := proto.Clone(old.GetSpec()).(*appsv1.StatefulSetSpec)
	if spec == nil || oldSpec == nil {
		return nil
	}
	for _, s := range []*appsv1.StatefulSetSpec{spec, oldSpec} {
		s.Replicas, s.Ordinals, s.Template, s.UpdateStrategy = nil, nil, nil, nil
		s.RevisionHistoryLimit, s.PersistentVolumeClaimRetentionPolicy, s.MinReadySeconds = nil, nil, 0
	}
	if proto.Equal(spec, oldSpec) {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")}
}

func validateStatefulSetStatus(s *appsv1.StatefulSetStatus, p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	allErrs := validateNonnegative(s.GetObservedGeneration(), p.Child("observedGeneration"))
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"replicas", s.GetReplicas()}, {"readyReplicas", s.GetReadyReplicas()}, {"currentReplicas", s.GetCurrentReplicas()},
		{"updatedReplicas", s.GetUpdatedReplicas()}, {"availableReplicas", s.GetAvailableReplicas()},
	} {
		allErrs = append(allErrs, validateNonnegative(int64(f.v), p.Child(f.name))...)
		if f.name != "replicas" && f.v > s.GetReplicas() {
			allErrs = append(allErrs, field.Invalid(p.Child(f.name), f.v, "cannot be greater than status.replicas"))
		}
	}
	if s.CollisionCount != nil {
		allErrs = append(allErrs, validateNonnegative(int64(s.GetCollisionCount()), p.Child("collisionCount"))...)
	}
	if s.GetAvailableReplicas() > s.GetReadyReplicas() {
		allErrs = append(allErrs, field.Invalid(p.Child("availableReplicas"), s.GetAvailableReplicas(), "cannot be greater than readyReplicas"))
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
