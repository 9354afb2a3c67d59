package admission

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/rbac"
	"keel.dev/keel/pkg/scheme"
)

// RuleResolver says what rules a user holds and a role grants (the RBAC
// authorizer).
type RuleResolver interface {
	// RulesFor is every rule u holds in namespace ("" for cluster-wide).
	RulesFor(u auth.User, namespace string) []*rbacv1.PolicyRule
	// RulesOf is what a binding in namespace ("" for a ClusterRoleBinding)
	// to ref grants.
	RulesOf(ref *rbacv1.RoleRef, namespace string) []*rbacv1.PolicyRule
}

// RBACEscalation keeps RBAC from being a way up: a user may create or
// update a Role or ClusterRole only with rules it holds itself (or with
// the escalate verb on it), and a binding only to a role whose rules it
// holds (or with the bind verb on that role), as Kubernetes' RBAC does.
// Members of system:masters are not checked. It runs with the RBAC
// authorization mode.
type RBACEscalation struct {
	Rules      RuleResolver
	Authorizer auth.Authorizer
}

var _ Validator = RBACEscalation{}

// Name implements Validator.
func (RBACEscalation) Name() string { return "RBACEscalation" }

// Validate implements Validator.
func (p RBACEscalation) Validate(ctx context.Context, a *Attributes, _ Objects) error {
	if a.Operation != Create && a.Operation != Update {
		return nil
	}
	u, _ := auth.UserFrom(ctx)
	if u.InGroup(auth.GroupMasters) || a.Operation == Update && onlyGCFieldsChanged(a.Object, a.OldObject) {
		// The garbage collector removes owner references and finalizers
		// from roles that grant more than it holds, as in Kubernetes.
		return nil
	}
	var (
		requested []*rbacv1.PolicyRule
		ns        = a.Namespace
		// The verb that lets a user write it regardless, on which object.
		verb, resource, name string
	)
	switch o := a.Object.(type) {
	case *rbacv1.Role:
		requested, verb, resource, name = o.GetRules(), "escalate", "roles", a.Name
	case *rbacv1.ClusterRole:
		requested, verb, resource, name = o.GetRules(), "escalate", "clusterroles", a.Name
	case *rbacv1.RoleBinding:
		ref := o.GetRoleRef()
		requested, verb, resource, name = p.Rules.RulesOf(ref, ns), "bind", strings.ToLower(ref.GetKind())+"s", ref.GetName()
	case *rbacv1.ClusterRoleBinding:
		ref := o.GetRoleRef()
		requested, verb, resource, name = p.Rules.RulesOf(ref, ""), "bind", "clusterroles", ref.GetName()
	default:
		return nil
	}
	if ok, _, err := p.Authorizer.Authorize(ctx, auth.Attributes{User: u, Verb: verb, APIGroup: api.GroupRBAC,
		Resource: resource, Namespace: ns, Name: name}); err == nil && ok {
		return nil
	}
	missing := rbac.Uncovered(p.Rules.RulesFor(u, ns), requested)
	if len(missing) == 0 {
		return nil
	}
	return apierrors.Forbidden(a.Kind.QualifiedResource(), a.Name,
		fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s", u.Name, u.Groups, strings.Join(missing, "\n")))
}

// onlyGCFieldsChanged: obj differs from old at most in
// metadata.ownerReferences, metadata.finalizers and resourceVersion.
func onlyGCFieldsChanged(obj, old proto.Message) bool {
	if obj == nil || old == nil {
		return false
	}
	a, b := proto.Clone(obj), proto.Clone(old)
	for _, m := range []proto.Message{a, b} {
		meta := scheme.Meta(m)
		meta.OwnerReferences, meta.Finalizers, meta.ResourceVersion = nil, nil, ""
	}
	return proto.Equal(a, b)
}
