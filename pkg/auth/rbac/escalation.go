package rbac

import (
	"fmt"
	"keel.dev/keel/pkg/api"
	"slices"
	"strings"

	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/auth"
)

// RulesFor returns every rule the user holds in namespace: those of the
// ClusterRoleBindings that apply to it, and ("" aside) those of the
// namespace's RoleBindings.
func (a Authorizer) RulesFor(u auth.User, namespace string) []*rbacv1.PolicyRule {
	var out []*rbacv1.PolicyRule
	crbs, rbs := a.Roles.Bindings(u, namespace)
	for _, b := range crbs {
		if appliesTo(b.GetSubjects(), u, "") {
			out = append(out, a.rulesOf(b.GetRoleRef(), "")...)
		}
	}
	for _, b := range rbs {
		if appliesTo(b.GetSubjects(), u, namespace) {
			out = append(out, a.rulesOf(b.GetRoleRef(), namespace)...)
		}
	}
	return out
}

// rulesOf returns the rules of the role ref names (a Role of namespace or
// a ClusterRole); none for a role that does not exist.
func (a Authorizer) rulesOf(ref *rbacv1.RoleRef, namespace string) []*rbacv1.PolicyRule {
	switch ref.GetKind() {
	case api.RoleKindClusterRole:
		return a.Roles.ClusterRole(ref.GetName()).GetRules()
	case api.RoleKindRole:
		if namespace != "" {
			return a.Roles.Role(namespace, ref.GetName()).GetRules()
		}
	}
	return nil
}

// RulesOf is rulesOf for callers outside the package: the rules a binding
// in namespace ("" for a ClusterRoleBinding) would grant.
func (a Authorizer) RulesOf(ref *rbacv1.RoleRef, namespace string) []*rbacv1.PolicyRule {
	return a.rulesOf(ref, namespace)
}

// Uncovered returns the parts of requested that owned does not grant, as
// Kubernetes' escalation check sees them: every verb, API group, resource
// and resource name (or non-resource URL) the requested rules name must be
// allowed by one owned rule; a "*" requested is covered only by a "*"
// owned, and a rule without resourceNames only by one without them.
func Uncovered(owned, requested []*rbacv1.PolicyRule) []string {
	var missing []string
	for _, r := range requested {
		for _, v := range r.GetVerbs() {
			for _, u := range r.GetNonResourceUrls() {
				if !slices.ContainsFunc(owned, func(o *rbacv1.PolicyRule) bool {
					return matches(o.GetVerbs(), v) && urlMatches(o.GetNonResourceUrls(), u)
				}) {
					missing = append(missing, fmt.Sprintf("{NonResourceURLs:[%q], Verbs:[%q]}", u, v))
				}
			}
			for _, g := range r.GetApiGroups() {
				for _, res := range r.GetResources() {
					names := r.GetResourceNames()
					if len(names) == 0 {
						names = []string{""}
					}
					for _, n := range names {
						if !slices.ContainsFunc(owned, func(o *rbacv1.PolicyRule) bool { return covers(o, v, g, res, n) }) {
							atom := fmt.Sprintf("{APIGroups:[%q], Resources:[%q], Verbs:[%q]", g, res, v)
							if n != "" {
								atom += fmt.Sprintf(", ResourceNames:[%q]", n)
							}
							missing = append(missing, atom+"}")
						}
					}
				}
			}
		}
	}
	return missing
}

// covers: owned grants verb on group/resource (name "" for every object).
func covers(o *rbacv1.PolicyRule, verb, group, resource, name string) bool {
	if !matches(o.GetVerbs(), verb) || !matches(o.GetApiGroups(), group) {
		return false
	}
	_, sub, _ := strings.Cut(resource, "/")
	if !slices.ContainsFunc(o.GetResources(), func(r string) bool {
		return r == "*" || r == resource || (sub != "" && r == "*/"+sub)
	}) {
		return false
	}
	if len(o.GetResourceNames()) == 0 {
		return true
	}
	return name != "" && slices.Contains(o.GetResourceNames(), name)
}

// urlMatches: an owned URL equals the requested one, is "*", or ends in
// "*" and prefixes it.
func urlMatches(owned []string, url string) bool {
	return slices.ContainsFunc(owned, func(o string) bool {
		return o == url || o == "*" || (strings.HasSuffix(o, "*") && strings.HasPrefix(url, strings.TrimSuffix(o, "*")))
	})
}
