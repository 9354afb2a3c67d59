package validation

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// ---------------------------------------------------------------------------
// ResourceQuota

// quotaResourceNames are the names spec.hard accepts besides
// domain-prefixed ones (count/<resource>.<group>, extended resources) and
// hugepages.
var quotaResourceNames = []string{
	api.ResourceCPU, api.ResourceMemory, api.ResourceEphemeralStorage, api.ResourcePods,
	api.ResourceRequestsCPU, api.ResourceRequestsMemory, api.ResourceLimitsCPU, api.ResourceLimitsMemory,
	"requests.ephemeral-storage", "limits.ephemeral-storage", "requests.storage",
	api.ResourceServices, api.ResourceSecrets, api.ResourceConfigMaps, api.ResourceReplicationControllers,
	api.ResourceQuotas, api.ResourcePersistentVolumeClaims, api.ResourceServicesNodePorts, api.ResourceServicesLoadBalancers,
}

// podQuotaResourceNames are what a scoped quota may limit (Kubernetes'
// pod object-count and compute resources).
var podQuotaResourceNames = []string{
	api.ResourcePods, api.ResourceCPU, api.ResourceMemory, api.ResourceRequestsCPU, api.ResourceRequestsMemory,
	api.ResourceLimitsCPU, api.ResourceLimitsMemory, "count/pods", api.ResourceEphemeralStorage,
	"requests.ephemeral-storage", "limits.ephemeral-storage",
}

var quotaScopes = []string{api.QuotaScopeTerminating, api.QuotaScopeNotTerminating, api.QuotaScopeBestEffort,
	api.QuotaScopeNotBestEffort, api.QuotaScopePriorityClass}

func validateQuotaResourceName(name string, p *field.Path) field.ErrorList {
	switch {
	case strings.Contains(name, "/"):
		return validateQualifiedName(name, p)
	case slices.Contains(quotaResourceNames, name):
		return nil
	case strings.HasPrefix(name, "hugepages-"), strings.HasPrefix(name, "requests.hugepages-"):
		return nil
	}
	return field.ErrorList{field.Invalid(p, name, "must be a standard resource for quota")}
}

// validateQuotaResourceList checks each name and quantity, path <p>[name].
func validateQuotaResourceList(list map[string]*metav1.Quantity, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, name := range sortedKeys(list) {
		allErrs = append(allErrs, validateQuotaResourceName(name, p.Key(name))...)
		allErrs = append(allErrs, validateQuantity(list[name], p.Key(name))...)
	}
	return allErrs
}

func validateResourceQuota(q *corev1.ResourceQuota) field.ErrorList {
	p := field.NewPath("spec")
	spec := q.GetSpec()
	allErrs := validateQuotaResourceList(spec.GetHard(), p.Child("hard"))
	scopes := slices.Clone(spec.GetScopes())
	for i, s := range spec.GetScopes() {
		if s == api.QuotaScopePriorityClass || !slices.Contains(quotaScopes, s) {
			allErrs = append(allErrs, field.NotSupported(p.Child("scopes").Index(i), s, quotaScopes[:4]))
		}
	}
	ep := p.Child("scopeSelector", "matchExpressions")
	for i, e := range spec.GetScopeSelector().GetMatchExpressions() {
		scopes = append(scopes, e.GetScopeName())
		allErrs = append(allErrs, validateScopeRequirement(e, ep.Index(i))...)
	}
	if len(scopes) > 0 {
		for _, name := range sortedKeys(spec.GetHard()) {
			if !slices.Contains(podQuotaResourceNames, name) {
				allErrs = append(allErrs, field.Invalid(p.Child("hard").Key(name), name, "unsupported scope applied to resource"))
			}
		}
	}
	for _, pair := range [][2]string{{api.QuotaScopeTerminating, api.QuotaScopeNotTerminating}, {api.QuotaScopeBestEffort, api.QuotaScopeNotBestEffort}} {
		if slices.Contains(scopes, pair[0]) && slices.Contains(scopes, pair[1]) {
			allErrs = append(allErrs, field.Invalid(p.Child("scopes"), scopes, fmt.Sprintf("conflicting scopes: %s and %s", pair[0], pair[1])))
		}
	}
	return append(allErrs, validateResourceQuotaStatus(q.GetStatus(), statusPath)...)
}

func validateScopeRequirement(e *corev1.ScopedResourceSelectorRequirement, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if !slices.Contains(quotaScopes, e.GetScopeName()) {
		allErrs = append(allErrs, field.NotSupported(p.Child("scopeName"), e.GetScopeName(), quotaScopes))
	}
	switch e.GetOperator() {
	case api.ScopeSelectorOpIn, api.ScopeSelectorOpNotIn:
		if len(e.GetValues()) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))
		}
	case api.ScopeSelectorOpExists, api.ScopeSelectorOpDoesNotExist:
		if len(e.GetValues()) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("values"), e.GetValues(), "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(p.Child("operator"), e.GetOperator(),
			[]string{api.ScopeSelectorOpIn, api.ScopeSelectorOpNotIn, api.ScopeSelectorOpExists, api.ScopeSelectorOpDoesNotExist}))
	}
	if e.GetScopeName() != api.QuotaScopePriorityClass && e.GetScopeName() != "" && slices.Contains(quotaScopes, e.GetScopeName()) &&
		e.GetOperator() != api.ScopeSelectorOpExists && e.GetOperator() != api.ScopeSelectorOpDoesNotExist {
		allErrs = append(allErrs, field.Invalid(p.Child("operator"), e.GetOperator(), "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort or ResourceQuotaScopeNotBestEffort"))
	}
	return allErrs
}

func validateResourceQuotaStatus(s *corev1.ResourceQuotaStatus, p *field.Path) field.ErrorList {
	allErrs := validateQuotaResourceList(s.GetHard(), p.Child("hard"))
	return append(allErrs, validateQuotaResourceList(s.GetUsed(), p.Child("used"))...)
}

// ---------------------------------------------------------------------------
// LimitRange

var limitTypes = []string{api.LimitTypePod, api.LimitTypeContainer, api.LimitTypePersistentVolumeClaim}

// validateLimitRange checks each item as Kubernetes does: a known type, no
// defaults for Pod items, valid quantities, and per resource
// min <= defaultRequest <= default <= max and 1 <= maxLimitRequestRatio
// <= max/min.
func validateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	var allErrs field.ErrorList
	lp := field.NewPath("spec", "limits")
	for i, item := range lr.GetSpec().GetLimits() {
		p := lp.Index(i)
		if !slices.Contains(limitTypes, item.GetType()) {
			allErrs = append(allErrs, field.NotSupported(p.Child("type"), item.GetType(), limitTypes))
		}
		lists := map[string]map[string]*metav1.Quantity{"max": item.GetMax(), "min": item.GetMin(), "default": item.GetDefault(),
			"defaultRequest": item.GetDefaultRequest(), "maxLimitRequestRatio": item.GetMaxLimitRequestRatio()}
		parsed := map[string]map[string]resource.Quantity{}
		bad := false
		for _, name := range []string{"max", "min", "default", "defaultRequest", "maxLimitRequestRatio"} {
			errs := validateResourceList(lists[name], p.Child(name))
			allErrs = append(allErrs, errs...)
			bad = bad || len(errs) > 0
			parsed[name], _ = api.ParseResourceList(lists[name])
		}
		if item.GetType() == api.LimitTypePod {
			for _, name := range []string{"default", "defaultRequest"} {
				if len(lists[name]) > 0 {
					allErrs = append(allErrs, field.Forbidden(p.Child(name), "may not be specified when `type` is 'Pod'"))
				}
			}
		}
		if item.GetType() == api.LimitTypePersistentVolumeClaim {
			_, minOK := parsed["min"][api.ResourceStorage]
			_, maxOK := parsed["max"][api.ResourceStorage]
			if !minOK && !maxOK {
				allErrs = append(allErrs, field.Required(p.Child("limits"), "either minimum or maximum storage value is required, but neither was provided"))
			}
		}
		if !bad {
			allErrs = append(allErrs, validateLimitBounds(parsed, p)...)
		}
	}
	return allErrs
}

// validateLimitBounds orders one item's parsed lists, per resource.
func validateLimitBounds(l map[string]map[string]resource.Quantity, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := map[string]bool{}
	for _, list := range l {
		for n := range list {
			names[n] = true
		}
	}
	for _, n := range sortedKeys(names) {
		minQ, hasMin := l["min"][n]
		maxQ, hasMax := l["max"][n]
		defQ, hasDef := l["default"][n]
		reqQ, hasReq := l["defaultRequest"][n]
		ratio, hasRatio := l["maxLimitRequestRatio"][n]
		if hasMin && hasMax && minQ.Cmp(maxQ) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("min").Key(n), minQ.String(), fmt.Sprintf("min value %s is greater than max value %s", minQ.String(), maxQ.String())))
		}
		if hasReq && hasMin && minQ.Cmp(reqQ) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("defaultRequest").Key(n), reqQ.String(), fmt.Sprintf("min value %s is greater than default request value %s", minQ.String(), reqQ.String())))
		}
		if hasReq && hasMax && reqQ.Cmp(maxQ) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("defaultRequest").Key(n), reqQ.String(), fmt.Sprintf("default request value %s is greater than max value %s", reqQ.String(), maxQ.String())))
		}
		if hasReq && hasDef && reqQ.Cmp(defQ) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("defaultRequest").Key(n), reqQ.String(), fmt.Sprintf("default request value %s is greater than default limit value %s", reqQ.String(), defQ.String())))
		}
		if hasDef && hasMin && minQ.Cmp(defQ) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("default").Key(n), defQ.String(), fmt.Sprintf("min value %s is greater than default value %s", minQ.String(), defQ.String())))
		}
		if hasDef && hasMax && defQ.Cmp(maxQ) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("default").Key(n), defQ.String(), fmt.Sprintf("default value %s is greater than max value %s", defQ.String(), maxQ.String())))
		}
		if hasRatio {
			rp := p.Child("maxLimitRequestRatio").Key(n)
			if ratio.Cmp(*resource.NewQuantity(1, resource.DecimalSI)) < 0 {
				allErrs = append(allErrs, field.Invalid(rp, ratio.String(), fmt.Sprintf("ratio %s is less than 1", ratio.String())))
			}
			if hasMin && hasMax && minQ.Sign() > 0 {
				if lim := float64(maxQ.MilliValue()) / float64(minQ.MilliValue()); float64(ratio.MilliValue())/1000 > lim {
					allErrs = append(allErrs, field.Invalid(rp, ratio.String(), fmt.Sprintf("ratio %s is greater than max/min = %f", ratio.String(), lim)))
				}
			}
		}
	}
	return allErrs
}

// ---------------------------------------------------------------------------
// ReplicationController

func validateReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	p := field.NewPath("spec")
	spec := rc.GetSpec()
	if spec == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	allErrs := validateReplicas(spec.Replicas, p.Child("replicas"))
	allErrs = append(allErrs, validateNonnegative(int64(spec.GetMinReadySeconds()), p.Child("minReadySeconds"))...)
	sp := p.Child("selector")
	if len(spec.GetSelector()) == 0 {
		allErrs = append(allErrs, field.Required(sp, ""))
	} else {
		allErrs = append(allErrs, validateLabels(spec.GetSelector(), sp)...)
	}
	if spec.GetTemplate() == nil {
		return append(allErrs, field.Required(p.Child("template"), ""))
	}
	labels := spec.GetTemplate().GetMetadata().GetLabels()
	for k, v := range spec.GetSelector() {
		if got, ok := labels[k]; !ok || got != v {
			allErrs = append(allErrs, field.Invalid(p.Child("template", "metadata", "labels"), labels, "`selector` does not match template `labels`"))
			break
		}
	}
	return append(allErrs, validateReplicatedTemplate(spec.GetTemplate(), p.Child("template"))...)
}

// validateReplicationControllerStatus checks what a ReplicaSet's status
// must hold, as Kubernetes does.
func validateReplicationControllerStatus(s *corev1.ReplicationControllerStatus, p *field.Path) field.ErrorList {
	return validateReplicaSetStatus(api.ReplicationControllerStatusAsReplicaSet(s), p)
}
