// Package validation checks Keel objects the way Kubernetes' API validation
// does: every problem is reported as a field.Error whose path uses
// Kubernetes' JSON field names (spec.containers[0].ports[1].containerPort,
// metadata.labels[app]), and all problems are listed, not just the first.
//
// Each kind's strategy (pkg/registry/<group>/<kind>) calls the functions of
// its kind here; pkg/registry composes them with ObjectMeta into the
// checks the apiserver runs on create, update and status update, each after
// defaulting. Values that have a default are accepted when empty, so the
// functions also work on objects that were not defaulted.
//
// Syntax checks (names, labels, ports, IPs, quantities, selectors) are
// k8s.io/apimachinery's; this package only decides which applies where.
// All functions are pure and safe for concurrent use; they never modify
// their arguments.
package validation

import (
	"net"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/types"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/labelselector"
)

// ObjectMeta checks a top-level object's metadata: name (by the kind's
// rule nameFn, or a generateName prefix), namespace presence by scope,
// labels, annotations, ownerReferences and finalizers.
func ObjectMeta(m *metav1.ObjectMeta, namespaced bool, nameFn apivalidation.ValidateNameFunc, p *field.Path) field.ErrorList {
	km := toK8sMeta(m)
	// Labels and annotations are checked here per key so the path names the key.
	km.Labels, km.Annotations = nil, nil
	var allErrs field.ErrorList
	for _, e := range apivalidation.ValidateObjectMeta(km, namespaced, nameFn, p) {
		// A generateName alone is fine: the apiserver generates the name.
		if e.Type == field.ErrorTypeRequired && e.Field == p.Child("name").String() && m.GetGenerateName() != "" {
			continue
		}
		allErrs = append(allErrs, e)
	}
	allErrs = append(allErrs, validateLabels(m.GetLabels(), p.Child("labels"))...)
	allErrs = append(allErrs, validateAnnotations(m.GetAnnotations(), p.Child("annotations"))...)
	return allErrs
}

// validateTemplateMeta checks the metadata of a pod template: only labels and
// annotations matter there.
func validateTemplateMeta(m *metav1.ObjectMeta, p *field.Path) field.ErrorList {
	allErrs := validateLabels(m.GetLabels(), p.Child("labels"))
	return append(allErrs, validateAnnotations(m.GetAnnotations(), p.Child("annotations"))...)
}

// ObjectMetaUpdate checks what may not change in an update. Labels and
// annotations are left out: ObjectMeta checks them, per key.
func ObjectMetaUpdate(m, old *metav1.ObjectMeta, p *field.Path) field.ErrorList {
	km, kold := toK8sMeta(m), toK8sMeta(old)
	km.Labels, km.Annotations, kold.Labels, kold.Annotations = nil, nil, nil, nil
	return apivalidation.ValidateObjectMetaUpdate(km, kold, p)
}

func toK8sMeta(m *metav1.ObjectMeta) *k8smetav1.ObjectMeta {
	km := &k8smetav1.ObjectMeta{
		Name:                       m.GetName(),
		GenerateName:               m.GetGenerateName(),
		Namespace:                  m.GetNamespace(),
		UID:                        types.UID(m.GetUid()),
		ResourceVersion:            m.GetResourceVersion(),
		Generation:                 m.GetGeneration(),
		DeletionGracePeriodSeconds: m.DeletionGracePeriodSeconds,
		Labels:                     m.GetLabels(),
		Annotations:                m.GetAnnotations(),
		Finalizers:                 m.GetFinalizers(),
	}
	if t := m.GetCreationTimestamp(); t != nil {
		km.CreationTimestamp = k8smetav1.NewTime(t.AsTime())
	}
	if t := m.GetDeletionTimestamp(); t != nil {
		dt := k8smetav1.NewTime(t.AsTime())
		km.DeletionTimestamp = &dt
	}
	for _, r := range m.GetOwnerReferences() {
		km.OwnerReferences = append(km.OwnerReferences, k8smetav1.OwnerReference{
			APIVersion:         r.GetApiVersion(),
			Kind:               r.GetKind(),
			Name:               r.GetName(),
			UID:                types.UID(r.GetUid()),
			Controller:         r.Controller,
			BlockOwnerDeletion: r.BlockOwnerDeletion,
		})
	}
	return km
}

// validateLabels checks label keys (qualified names) and values, one path per
// key: metadata.labels[app].
func validateLabels(labels map[string]string, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, k := range sortedKeys(labels) {
		allErrs = append(allErrs, metav1validation.ValidateLabelName(k, p.Key(k))...)
		for _, msg := range utilvalidation.IsValidLabelValue(labels[k]) {
			allErrs = append(allErrs, field.Invalid(p.Key(k), labels[k], msg))
		}
	}
	return allErrs
}

// validateAnnotations checks annotation keys and the total size limit.
func validateAnnotations(annotations map[string]string, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, k := range sortedKeys(annotations) {
		for _, msg := range utilvalidation.IsQualifiedName(strings.ToLower(k)) {
			allErrs = append(allErrs, field.Invalid(p.Key(k), k, msg))
		}
	}
	if err := apivalidation.ValidateAnnotationsSize(annotations); err != nil {
		allErrs = append(allErrs, field.TooLong(p, "", apivalidation.TotalAnnotationSizeLimitB))
	}
	return allErrs
}

// validateLabelSelector checks a structured selector's syntax (operators,
// keys, values).
func validateLabelSelector(s *metav1.LabelSelector, p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	return metav1validation.ValidateLabelSelector(labelselector.ToK8s(s), metav1validation.LabelSelectorValidationOptions{}, p)
}

// validateSelectorMatchesTemplate is the workload rule: a non-empty, valid
// selector that matches the template's labels.
func validateSelectorMatchesTemplate(sel *metav1.LabelSelector, tmpl *corev1.PodTemplateSpec, p *field.Path) field.ErrorList {
	selPath := p.Child("selector")
	if labelselector.IsEmpty(sel) {
		return field.ErrorList{field.Required(selPath, "a non-empty selector is required")}
	}
	allErrs := validateLabelSelector(sel, selPath)
	if len(allErrs) > 0 || tmpl == nil {
		return allErrs
	}
	if !labelselector.Matches(sel, tmpl.GetMetadata().GetLabels()) {
		allErrs = append(allErrs, field.Invalid(p.Child("template", "metadata", "labels"),
			tmpl.GetMetadata().GetLabels(), "`selector` does not match template `labels`"))
	}
	return allErrs
}

func validateSelectorImmutable(sel, old *metav1.LabelSelector) field.ErrorList {
	if !proto.Equal(sel, old) {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "selector"), sel.String(), apivalidation.FieldImmutableErrorMsg)}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Small shared checks

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validateEnum reports value unless it is one of allowed ("" only if listed).
func validateEnum(value string, p *field.Path, allowed ...string) field.ErrorList {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	var shown []string
	for _, a := range allowed {
		if a != "" {
			shown = append(shown, a)
		}
	}
	return field.ErrorList{field.NotSupported(p, value, shown)}
}

// validateOptionalEnum is validateEnum where unset (nil) is fine.
func validateOptionalEnum(value *string, p *field.Path, allowed ...string) field.ErrorList {
	if value == nil {
		return nil
	}
	return validateEnum(*value, p, allowed...)
}

func validateNonnegative(v int64, p *field.Path) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(v, p)
}

func validatePositive(v int64, p *field.Path) field.ErrorList {
	if v <= 0 {
		return field.ErrorList{field.Invalid(p, v, "must be greater than 0")}
	}
	return nil
}

func validateDNS1123Label(v string, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Label(v) {
		allErrs = append(allErrs, field.Invalid(p, v, msg))
	}
	return allErrs
}

// DNS1123Subdomain checks that v is a DNS-1123 subdomain (a reference to
// an object by name), one error per problem at p.
func DNS1123Subdomain(v string, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Subdomain(v) {
		allErrs = append(allErrs, field.Invalid(p, v, msg))
	}
	return allErrs
}

func validateQualifiedName(v string, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsQualifiedName(v) {
		allErrs = append(allErrs, field.Invalid(p, v, msg))
	}
	return allErrs
}

func validatePortNum(port int32, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsValidPortNum(int(port)) {
		allErrs = append(allErrs, field.Invalid(p, port, msg))
	}
	return allErrs
}

func validateIP(ip string, p *field.Path) field.ErrorList {
	if net.ParseIP(ip) == nil {
		return field.ErrorList{field.Invalid(p, ip, "must be a valid IP address (e.g. 10.9.8.7 or 2001:db8::ffff)")}
	}
	return nil
}

func validateCIDR(cidr string, p *field.Path) field.ErrorList {
	if _, _, err := net.ParseCIDR(cidr); err != nil {
		return field.ErrorList{field.Invalid(p, cidr, "must be a valid CIDR value (e.g. 10.244.1.0/24 or 2001:db8::/64)")}
	}
	return nil
}

// validatePortNumOrName checks an int-or-string port: a number in 1-65535 or
// an IANA_SVC_NAME.
func validatePortNumOrName(port *metav1.IntOrString, p *field.Path) field.ErrorList {
	if port == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	if api.IsIntOrStringString(port) {
		var allErrs field.ErrorList
		for _, msg := range utilvalidation.IsValidPortName(port.GetStrVal()) {
			allErrs = append(allErrs, field.Invalid(p, port.GetStrVal(), msg))
		}
		return allErrs
	}
	return validatePortNum(port.GetIntVal(), p)
}

// validateConditions checks a status' conditions: each has a type and a
// status True, False or Unknown.
func validateConditions[C interface {
	GetType() string
	GetStatus() string
}](cs []C, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, c := range cs {
		cp := p.Index(i)
		if c.GetType() == "" {
			allErrs = append(allErrs, field.Required(cp.Child("type"), ""))
		}
		allErrs = append(allErrs, validateConditionStatus(c.GetStatus(), cp.Child("status"))...)
	}
	return allErrs
}

func validateConditionStatus(s string, p *field.Path) field.ErrorList {
	return validateEnum(s, p, api.ConditionTrue, api.ConditionFalse, api.ConditionUnknown)
}
