package bootstrappolicy

import (
	"slices"

	"google.golang.org/protobuf/proto"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/auth/rbac"
)

// Protected reports whether an operator has opted the object out of
// reconciliation: its autoupdate annotation is "false".
func Protected(m *metav1.ObjectMeta) bool {
	return m.GetAnnotations()[AnnotationAutoupdate] == "false"
}

// ReconcileClusterRole returns what existing must become to hold expected,
// as Kubernetes reconciles its bootstrap roles: expected itself when
// existing is nil (to create); nil when nothing is to change (existing
// covers expected, or is Protected). Otherwise a copy of existing with
// expected's labels and annotations that it lacks, each of expected's
// rules that its rules do not cover, and (for an aggregated role) each of
// expected's aggregation selectors it lacks. Nothing an operator added is
// removed, and the rules of an aggregated role (its aggregation
// controller's) are left alone.
func ReconcileClusterRole(expected, existing *rbacv1.ClusterRole) *rbacv1.ClusterRole {
	if existing == nil {
		return proto.Clone(expected).(*rbacv1.ClusterRole)
	}
	if Protected(existing.GetMetadata()) {
		return nil
	}
	out := proto.Clone(existing).(*rbacv1.ClusterRole)
	changed := mergeMeta(out.Metadata, expected.GetMetadata())
	if sels := expected.GetAggregationRule().GetClusterRoleSelectors(); len(sels) > 0 {
		if out.AggregationRule == nil {
			out.AggregationRule = &rbacv1.AggregationRule{}
		}
		for _, s := range sels {
			if !slices.ContainsFunc(out.AggregationRule.ClusterRoleSelectors, func(have *metav1.LabelSelector) bool { return proto.Equal(have, s) }) {
				out.AggregationRule.ClusterRoleSelectors = append(out.AggregationRule.ClusterRoleSelectors, proto.Clone(s).(*metav1.LabelSelector))
				changed = true
			}
		}
	} else {
		for _, r := range expected.GetRules() {
			if len(rbac.Uncovered(out.Rules, []*rbacv1.PolicyRule{r})) > 0 {
				out.Rules = append(out.Rules, proto.Clone(r).(*rbacv1.PolicyRule))
				changed = true
			}
		}
	}
	if !changed {
		return nil
	}
	return out
}

// ReconcileClusterRoleBinding returns what existing must become to hold
// expected: expected itself when existing is nil (to create); nil when
// nothing is to change (existing gives expected's role to every subject of
// expected, or is Protected). Otherwise a copy of existing with
// expected's labels and annotations that it lacks and the subjects it
// lacks. A binding to another role cannot be changed (roleRef is
// immutable): recreate is then true, and the result (expected's roleRef,
// existing's subjects and expected's) replaces existing.
func ReconcileClusterRoleBinding(expected, existing *rbacv1.ClusterRoleBinding) (out *rbacv1.ClusterRoleBinding, recreate bool) {
	if existing == nil {
		return proto.Clone(expected).(*rbacv1.ClusterRoleBinding), false
	}
	if Protected(existing.GetMetadata()) {
		return nil, false
	}
	out = proto.Clone(existing).(*rbacv1.ClusterRoleBinding)
	changed := mergeMeta(out.Metadata, expected.GetMetadata())
	if !proto.Equal(out.GetRoleRef(), expected.GetRoleRef()) {
		out.RoleRef = proto.Clone(expected.GetRoleRef()).(*rbacv1.RoleRef)
		m := out.Metadata
		// A new object: no identity of the old one.
		out.Metadata = &metav1.ObjectMeta{Name: m.GetName(), Labels: m.GetLabels(), Annotations: m.GetAnnotations()}
		recreate, changed = true, true
	}
	for _, s := range expected.GetSubjects() {
		if !slices.ContainsFunc(out.Subjects, func(have *rbacv1.Subject) bool { return proto.Equal(have, s) }) {
			out.Subjects = append(out.Subjects, proto.Clone(s).(*rbacv1.Subject))
			changed = true
		}
	}
	if !changed {
		return nil, false
	}
	return out, recreate
}

// mergeMeta adds to m the labels and annotations of expected that it
// lacks (a value m has is kept) and reports whether it added any.
func mergeMeta(m, expected *metav1.ObjectMeta) bool {
	changed := false
	add := func(into *map[string]string, from map[string]string) {
		for k, v := range from {
			if _, ok := (*into)[k]; ok {
				continue
			}
			if *into == nil {
				*into = map[string]string{}
			}
			(*into)[k] = v
			changed = true
		}
	}
	add(&m.Labels, expected.GetLabels())
	add(&m.Annotations, expected.GetAnnotations())
	return changed
}
