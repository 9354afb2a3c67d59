package validation

import (
	"fmt"
	"keel.dev/keel/pkg/api"
	"slices"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/validation/field"

	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
)

// Role checks a Role's rules (namespaced: no non-resource URLs).
func Role(r *rbacv1.Role) field.ErrorList {
	return policyRules(r.GetRules(), true, field.NewPath("rules"))
}

// ClusterRole checks a ClusterRole's rules and aggregation selectors.
func ClusterRole(r *rbacv1.ClusterRole) field.ErrorList {
	errs := policyRules(r.GetRules(), false, field.NewPath("rules"))
	p := field.NewPath("aggregationRule", "clusterRoleSelectors")
	for i, s := range r.GetAggregationRule().GetClusterRoleSelectors() {
		errs = append(errs, validateLabelSelector(s, p.Index(i))...)
	}
	return errs
}

// RoleBinding checks a RoleBinding: a Role or ClusterRole, and its subjects.
func RoleBinding(b *rbacv1.RoleBinding) field.ErrorList {
	errs := roleRef(b.GetRoleRef(), []string{api.RoleKindRole, api.RoleKindClusterRole}, field.NewPath("roleRef"))
	return append(errs, subjects(b.GetSubjects(), true, field.NewPath("subjects"))...)
}

// RoleBindingUpdate refuses a change of roleRef.
func RoleBindingUpdate(b, old *rbacv1.RoleBinding) field.ErrorList {
	return roleRefImmutable(b.GetRoleRef(), old.GetRoleRef())
}

// ClusterRoleBinding checks a ClusterRoleBinding: a ClusterRole, and its
// subjects (service accounts with their namespace).
func ClusterRoleBinding(b *rbacv1.ClusterRoleBinding) field.ErrorList {
	errs := roleRef(b.GetRoleRef(), []string{api.RoleKindClusterRole}, field.NewPath("roleRef"))
	return append(errs, subjects(b.GetSubjects(), false, field.NewPath("subjects"))...)
}

// ClusterRoleBindingUpdate refuses a change of roleRef.
func ClusterRoleBindingUpdate(b, old *rbacv1.ClusterRoleBinding) field.ErrorList {
	return roleRefImmutable(b.GetRoleRef(), old.GetRoleRef())
}

func policyRules(rules []*rbacv1.PolicyRule, namespaced bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rules {
		rp := p.Index(i)
		if len(r.GetVerbs()) == 0 {
			errs = append(errs, field.Required(rp.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(r.GetNonResourceUrls()) > 0 {
			if namespaced {
				errs = append(errs, field.Invalid(rp.Child("nonResourceURLs"), r.GetNonResourceUrls(), "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.GetApiGroups()) > 0 || len(r.GetResources()) > 0 || len(r.GetResourceNames()) > 0 {
				errs = append(errs, field.Invalid(rp.Child("nonResourceURLs"), r.GetNonResourceUrls(), "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(r.GetApiGroups()) == 0 {
			errs = append(errs, field.Required(rp.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(r.GetResources()) == 0 {
			errs = append(errs, field.Required(rp.Child("resources"), "resource rules must supply at least one resource"))
		}
	}
	return errs
}

func roleRef(r *rbacv1.RoleRef, kinds []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.GetApiGroup() != api.GroupRBAC {
		errs = append(errs, field.NotSupported(p.Child("apiGroup"), r.GetApiGroup(), []string{api.GroupRBAC}))
	}
	if !slices.Contains(kinds, r.GetKind()) {
		errs = append(errs, field.NotSupported(p.Child("kind"), r.GetKind(), kinds))
	}
	if r.GetName() == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		for _, msg := range path.ValidatePathSegmentName(r.GetName(), false) {
			errs = append(errs, field.Invalid(p.Child("name"), r.GetName(), msg))
		}
	}
	return errs
}

func roleRefImmutable(r, old *rbacv1.RoleRef) field.ErrorList {
	if r.GetApiGroup() != old.GetApiGroup() || r.GetKind() != old.GetKind() || r.GetName() != old.GetName() {
		return field.ErrorList{field.Invalid(field.NewPath("roleRef"), fmt.Sprintf("%s/%s", r.GetKind(), r.GetName()), "cannot change roleRef")}
	}
	return nil
}

func subjects(subs []*rbacv1.Subject, inRoleBinding bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, s := range subs {
		sp := p.Index(i)
		if s.GetName() == "" {
			errs = append(errs, field.Required(sp.Child("name"), ""))
		}
		switch s.GetKind() {
		case api.SubjectKindServiceAccount:
			if s.GetApiGroup() != "" {
				errs = append(errs, field.NotSupported(sp.Child("apiGroup"), s.GetApiGroup(), []string{""}))
			}
			if s.GetName() != "" {
				for _, msg := range apivalidation.ValidateServiceAccountName(s.GetName(), false) {
					errs = append(errs, field.Invalid(sp.Child("name"), s.GetName(), msg))
				}
			}
			if s.GetNamespace() == "" && !inRoleBinding {
				errs = append(errs, field.Required(sp.Child("namespace"), ""))
			}
		case api.SubjectKindUser, api.SubjectKindGroup:
			if s.GetApiGroup() != api.GroupRBAC {
				errs = append(errs, field.NotSupported(sp.Child("apiGroup"), s.GetApiGroup(), []string{api.GroupRBAC}))
			}
		default:
			errs = append(errs, field.NotSupported(sp.Child("kind"), s.GetKind(), []string{api.SubjectKindServiceAccount, api.SubjectKindUser, api.SubjectKindGroup}))
		}
	}
	return errs
}
