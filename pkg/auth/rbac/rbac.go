// Package rbac is the RBAC authorizer (rbac.authorization.k8s.io/v1
// semantics): a request is allowed when a ClusterRoleBinding, or a
// RoleBinding in the request's namespace, gives one of the caller's
// identities (its user name, a group, or for a service account token its
// service account) a role with a rule that covers the request's verb, API
// group, resource (with subresource) and object name.
//
// The decision is a pure function of the request and the roles and
// bindings Roles returns (an Index finds a caller's bindings without
// reading everyone's); the authorizer holds no state and is safe for
// concurrent use as long as Roles is. Aggregated ClusterRoles are read
// with the rules they carry (the aggregation controller fills them in).
package rbac

import (
	"context"
	"keel.dev/keel/pkg/api"
	"slices"
	"strings"

	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/auth"
)

// Roles reads the roles and bindings the authorizer decides from (the
// apiserver's caches). A missing role reads as nil.
type Roles interface {
	// Bindings returns the ClusterRoleBindings and, when namespace is not
	// "", the RoleBindings of namespace that may apply to u: at least
	// every one naming u, one of its groups or its service account (an
	// Index returns exactly those; more costs time, not correctness: the
	// authorizer checks each binding's subjects).
	Bindings(u auth.User, namespace string) ([]*rbacv1.ClusterRoleBinding, []*rbacv1.RoleBinding)
	ClusterRole(name string) *rbacv1.ClusterRole
	Role(namespace, name string) *rbacv1.Role
}

// Authorizer is the RBAC auth.Authorizer.
type Authorizer struct{ Roles Roles }

var _ auth.Authorizer = Authorizer{}

// Authorize implements auth.Authorizer. A denial has no reason beyond the
// standard message; it never fails.
func (a Authorizer) Authorize(_ context.Context, at auth.Attributes) (bool, string, error) {
	ns := ""
	if at.IsResourceRequest() {
		ns = at.Namespace
	}
	crbs, rbs := a.Roles.Bindings(at.User, ns)
	for _, b := range crbs {
		if appliesTo(b.GetSubjects(), at.User, "") && a.roleAllows(b.GetRoleRef(), "", at) {
			return true, "", nil
		}
	}
	for _, b := range rbs {
		if appliesTo(b.GetSubjects(), at.User, ns) && a.roleAllows(b.GetRoleRef(), ns, at) {
			return true, "", nil
		}
	}
	return false, "", nil
}

// roleAllows: the role ref names a role (a Role of namespace, or a
// ClusterRole) with a rule covering at.
func (a Authorizer) roleAllows(ref *rbacv1.RoleRef, namespace string, at auth.Attributes) bool {
	for _, r := range a.rulesOf(ref, namespace) {
		if RuleAllows(r, at) {
			return true
		}
	}
	return false
}

// appliesTo: one of subjects is the user, one of its groups, or (for a
// service account's user name) the service account. A ServiceAccount
// subject of a RoleBinding without a namespace means the binding's.
func appliesTo(subjects []*rbacv1.Subject, u auth.User, bindingNamespace string) bool {
	for _, s := range subjects {
		switch s.GetKind() {
		case api.SubjectKindUser:
			if s.GetName() == u.Name {
				return true
			}
		case api.SubjectKindGroup:
			if u.InGroup(s.GetName()) {
				return true
			}
		case api.SubjectKindServiceAccount:
			ns := s.GetNamespace()
			if ns == "" {
				ns = bindingNamespace
			}
			if ns != "" && u.Name == auth.ServiceAccountUser(ns, s.GetName()) {
				return true
			}
		}
	}
	return false
}

// RuleAllows reports whether rule covers the request: its verb, its API
// group, its resource (subresource included: "pods/log", or any resource's
// with "*/log"; "*" covers every resource and subresource) and, when the
// rule lists resourceNames, its object's name. A non-resource request
// (at.Path set) is covered by a rule whose verbs hold its verb and whose
// nonResourceURLs hold its path, "*", or a prefix of it ending in "*".
func RuleAllows(rule *rbacv1.PolicyRule, at auth.Attributes) bool {
	if !at.IsResourceRequest() {
		return matches(rule.GetVerbs(), at.Verb) && urlMatches(rule.GetNonResourceUrls(), at.Path)
	}
	if !matches(rule.GetVerbs(), at.Verb) || !matches(rule.GetApiGroups(), at.APIGroup) {
		return false
	}
	_, sub, _ := strings.Cut(at.Resource, "/")
	resourceOK := false
	for _, r := range rule.GetResources() {
		if r == "*" || r == at.Resource || (sub != "" && r == "*/"+sub) {
			resourceOK = true
			break
		}
	}
	if !resourceOK {
		return false
	}
	return len(rule.GetResourceNames()) == 0 || (at.Name != "" && slices.Contains(rule.GetResourceNames(), at.Name))
}

// matches: values holds want or "*".
func matches(values []string, want string) bool {
	return slices.Contains(values, "*") || slices.Contains(values, want)
}
