package validation

import (
	"fmt"
	"strings"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
)

// ---------------------------------------------------------------------------
// Namespace

func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	var allErrs field.ErrorList
	for i, f := range ns.GetSpec().GetFinalizers() {
		allErrs = append(allErrs, validateQualifiedName(f, field.NewPath("spec", "finalizers").Index(i))...)
	}
	return append(allErrs, validateNamespaceStatus(ns.GetStatus(), field.NewPath("status"))...)
}

func validateNamespaceStatus(s *corev1.NamespaceStatus, p *field.Path) field.ErrorList {
	allErrs := validateEnum(s.GetPhase(), p.Child("phase"), "", api.NamespaceActive, api.NamespaceTerminating)
	allErrs = append(allErrs, validateConditions(s.GetConditions(), p.Child("conditions"))...)
	return allErrs
}

// ---------------------------------------------------------------------------
// Node

var taintEffects = []string{api.TaintEffectNoSchedule, api.TaintEffectPreferNoSchedule, api.TaintEffectNoExecute}

func validateNode(n *corev1.Node) field.ErrorList {
	p := field.NewPath("spec")
	spec := n.GetSpec()
	var allErrs field.ErrorList
	if spec.GetPodCidr() != "" {
		allErrs = append(allErrs, validateCIDR(spec.GetPodCidr(), p.Child("podCIDR"))...)
	}
	if len(spec.GetPodCidrs()) > 2 {
		allErrs = append(allErrs, field.TooMany(p.Child("podCIDRs"), len(spec.GetPodCidrs()), 2))
	}
	for i, c := range spec.GetPodCidrs() {
		allErrs = append(allErrs, validateCIDR(c, p.Child("podCIDRs").Index(i))...)
	}
	if len(spec.GetPodCidrs()) > 0 && spec.GetPodCidr() != "" && spec.GetPodCidrs()[0] != spec.GetPodCidr() {
		allErrs = append(allErrs, field.Invalid(p.Child("podCIDRs").Index(0), spec.GetPodCidrs()[0], "must be equal to `podCIDR`"))
	}
	seen := map[string]bool{}
	for i, t := range spec.GetTaints() {
		tp := p.Child("taints").Index(i)
		if t.GetKey() == "" {
			allErrs = append(allErrs, field.Required(tp.Child("key"), ""))
		} else {
			allErrs = append(allErrs, validateQualifiedName(t.GetKey(), tp.Child("key"))...)
		}
		for _, msg := range utilvalidation.IsValidLabelValue(t.GetValue()) {
			allErrs = append(allErrs, field.Invalid(tp.Child("value"), t.GetValue(), msg))
		}
		if t.GetEffect() == "" {
			allErrs = append(allErrs, field.Required(tp.Child("effect"), ""))
		} else {
			allErrs = append(allErrs, validateEnum(t.GetEffect(), tp.Child("effect"), taintEffects...)...)
		}
		key := t.GetKey() + ":" + t.GetEffect()
		if seen[key] {
			allErrs = append(allErrs, field.Duplicate(tp, fmt.Sprintf("taints must be unique by key and effect pair (%s)", key)))
		}
		seen[key] = true
	}
	return append(allErrs, validateNodeStatus(n.GetStatus(), field.NewPath("status"))...)
}

func validateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	p := field.NewPath("spec")
	var allErrs field.ErrorList
	if o := old.GetSpec().GetPodCidr(); o != "" && n.GetSpec().GetPodCidr() != o {
		allErrs = append(allErrs, field.Forbidden(p.Child("podCIDR"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if o := old.GetSpec().GetPodCidrs(); len(o) > 0 && strings.Join(n.GetSpec().GetPodCidrs(), ",") != strings.Join(o, ",") {
		allErrs = append(allErrs, field.Forbidden(p.Child("podCIDRs"), "node updates may not change podCIDRs except from \"\" to valid"))
	}
	if o := old.GetSpec().GetProviderId(); o != "" && n.GetSpec().GetProviderId() != o {
		allErrs = append(allErrs, field.Forbidden(p.Child("providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	return allErrs
}

var nodeAddressTypes = []string{api.NodeHostName, api.NodeInternalIP, api.NodeExternalIP, api.NodeInternalDNS, api.NodeExternalDNS}

func validateNodeStatus(s *corev1.NodeStatus, p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	allErrs := validateResourceList(s.GetCapacity(), p.Child("capacity"))
	allErrs = append(allErrs, validateResourceList(s.GetAllocatable(), p.Child("allocatable"))...)
	allErrs = append(allErrs, validateEnum(s.GetPhase(), p.Child("phase"), "", api.NodePending, api.NodeRunning, api.NodeTerminated)...)
	allErrs = append(allErrs, validateConditions(s.GetConditions(), p.Child("conditions"))...)
	for i, a := range s.GetAddresses() {
		ap := p.Child("addresses").Index(i)
		allErrs = append(allErrs, validateEnum(a.GetType(), ap.Child("type"), nodeAddressTypes...)...)
		if a.GetAddress() == "" {
			allErrs = append(allErrs, field.Required(ap.Child("address"), ""))
		} else if a.GetType() == api.NodeInternalIP || a.GetType() == api.NodeExternalIP {
			allErrs = append(allErrs, validateIP(a.GetAddress(), ap.Child("address"))...)
		}
	}
	if port := s.GetDaemonEndpoints().GetKubeletEndpoint().GetPort(); port != 0 {
		allErrs = append(allErrs, validatePortNum(port, p.Child("daemonEndpoints", "kubeletEndpoint", "Port"))...)
	}
	for i, img := range s.GetImages() {
		allErrs = append(allErrs, validateNonnegative(img.GetSizeBytes(), p.Child("images").Index(i).Child("sizeBytes"))...)
	}
	return allErrs
}

// ---------------------------------------------------------------------------
// PriorityClass

// Priority limits, as in Kubernetes.
const (
	// HighestUserDefinablePriority is the highest value a user PriorityClass may have.
	HighestUserDefinablePriority = 1000000000
	// SystemCriticalPriority is the base of the built-in system classes.
	SystemCriticalPriority = 2 * HighestUserDefinablePriority
)

// SystemPriorityClasses are the only classes whose names may start with
// "system-", with their fixed values.
var SystemPriorityClasses = map[string]int32{
	api.SystemClusterCritical: SystemCriticalPriority,
	api.SystemNodeCritical:    SystemCriticalPriority + 1000,
}

func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	var allErrs field.ErrorList
	name := pc.GetMetadata().GetName()
	vp := field.NewPath("value")
	if strings.HasPrefix(name, "system-") {
		if want, ok := SystemPriorityClasses[name]; !ok {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("metadata", "name"), "priority class names with 'system-' prefix are reserved"))
		} else if pc.GetValue() != want {
			allErrs = append(allErrs, field.Invalid(vp, pc.GetValue(), fmt.Sprintf("must be %d for %s", want, name)))
		}
	} else if pc.GetValue() > HighestUserDefinablePriority {
		allErrs = append(allErrs, field.Forbidden(vp, fmt.Sprintf("maximum allowed value of a user defined priority is %d", HighestUserDefinablePriority)))
	}
	allErrs = append(allErrs, validateOptionalEnum(pc.PreemptionPolicy, field.NewPath("preemptionPolicy"), api.PreemptLowerPriority, api.PreemptNever)...)
	return allErrs
}

func validatePriorityClassUpdate(pc, old *schedulingv1.PriorityClass) field.ErrorList {
	var allErrs field.ErrorList
	if pc.GetValue() != old.GetValue() {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	if pc.GetPreemptionPolicy() != old.GetPreemptionPolicy() {
		allErrs = append(allErrs, field.Invalid(field.NewPath("preemptionPolicy"), pc.GetPreemptionPolicy(), apivalidation.FieldImmutableErrorMsg))
	}
	return allErrs
}

// ---------------------------------------------------------------------------
// Lease

func validateLease(l *coordinationv1.Lease) field.ErrorList {
	p := field.NewPath("spec")
	spec := l.GetSpec()
	if spec == nil {
		return nil
	}
	var allErrs field.ErrorList
	if spec.LeaseDurationSeconds != nil {
		allErrs = append(allErrs, validatePositive(int64(spec.GetLeaseDurationSeconds()), p.Child("leaseDurationSeconds"))...)
	}
	if spec.LeaseTransitions != nil {
		allErrs = append(allErrs, validateNonnegative(int64(spec.GetLeaseTransitions()), p.Child("leaseTransitions"))...)
	}
	allErrs = append(allErrs, validateOptionalEnum(spec.Strategy, p.Child("strategy"), "OldestEmulationVersion")...)
	if spec.PreferredHolder != nil && spec.Strategy == nil {
		allErrs = append(allErrs, field.Forbidden(p.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return allErrs
}
