package apiserver

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/node"
	"keel.dev/keel/pkg/auth/rbac"
)

// Authorization modes (--authorization-mode), with Kubernetes' names.
const (
	ModeAlwaysAllow = "AlwaysAllow"
	ModeRBAC        = "RBAC"
	ModeNode        = "Node"
)

// DefaultAuthorizationModes is --authorization-mode's default, as
// Kubernetes' recommended setting: kubelets by the Node authorizer, every
// caller by RBAC.
var DefaultAuthorizationModes = []string{ModeNode, ModeRBAC}

// authorizer builds the authorizer of modes, asked in order: the first
// that allows a request allows it. As in Kubernetes, members of
// system:masters are allowed first, whatever the modes: the superuser
// group works before any role exists (the apiserver creates the bootstrap
// roles as one of them).
func (s *Server) authorizer(modes []string) (auth.Authorizer, error) {
	chain := []auth.Authorizer{auth.AuthorizerFunc(func(_ context.Context, a auth.Attributes) (bool, string, error) {
		return a.User.InGroup(auth.GroupMasters), "", nil
	})}
	for _, m := range modes {
		switch m {
		case ModeAlwaysAllow:
			chain = append(chain, auth.AlwaysAllow{})
		case ModeRBAC:
			chain = append(chain, rbac.Authorizer{Roles: cachedRoles{s}})
		case ModeNode:
			s.nodeGraph = node.NewGraph()
			chain = append(chain, node.New(s.nodeGraph))
		default:
			return nil, fmt.Errorf("unknown authorization mode %q (want %s, %s or %s)", m, ModeAlwaysAllow, ModeNode, ModeRBAC)
		}
	}
	decide := func(ctx context.Context, a auth.Attributes) (bool, string, error) {
		var reasons string
		for _, z := range chain {
			ok, why, err := z.Authorize(ctx, a)
			if err != nil || ok {
				return ok, why, err
			}
			if why != "" {
				reasons = why
			}
		}
		return false, reasons, nil
	}
	// A denial is decided again once the views it read (the node graph,
	// the RBAC index) have every change their caches had: see catchUp.
	return auth.AuthorizerFunc(func(ctx context.Context, a auth.Attributes) (bool, string, error) {
		ok, why, err := decide(ctx, a)
		if err != nil || ok {
			return ok, why, err
		}
		// Decided again even when no view is behind any more: one may
		// have caught up between the first decision and catchUp's look.
		s.catchUp(ctx)
		return decide(ctx, a)
	}), nil
}

// cachedRoles is rbac.Roles over the apiserver's watch caches of the RBAC
// kinds (kept decoded: see registry.Watchers.ReadByAPIServer): roles read
// from the caches, bindings found through the index that follows them.
type cachedRoles struct{ s *Server }

// rbacIndexFollowers keep ix in step with the caches of ClusterRoleBindings
// and RoleBindings (see follow), by resource.
func rbacIndexFollowers(ix *rbac.Index) map[string]follower {
	return map[string]follower{
		"clusterrolebindings": {
			what:    "RBAC index",
			replace: func(objs []proto.Message) { ix.ReplaceClusterRoleBindings(as[*rbacv1.ClusterRoleBinding](objs)) },
			set:     func(m proto.Message) { ix.SetClusterRoleBinding(m.(*rbacv1.ClusterRoleBinding)) },
			remove:  func(_, name string) { ix.DeleteClusterRoleBinding(name) },
		},
		"rolebindings": {
			what:    "RBAC index",
			replace: func(objs []proto.Message) { ix.ReplaceRoleBindings(as[*rbacv1.RoleBinding](objs)) },
			set:     func(m proto.Message) { ix.SetRoleBinding(m.(*rbacv1.RoleBinding)) },
			remove:  ix.DeleteRoleBinding,
		},
	}
}

// cachedOne reads one object of a cache; what it cannot read (a cache
// not synced yet) reads as nil.
func cachedOne[T proto.Message](s *Server, resource, namespace, name string) T {
	var zero T
	m, err := s.resources[resource].cachedGet(namespace, name)
	if m == nil || err != nil {
		return zero
	}
	return m.(T)
}

func (c cachedRoles) Bindings(u auth.User, namespace string) ([]*rbacv1.ClusterRoleBinding, []*rbacv1.RoleBinding) {
	return c.s.rbacIndex.Bindings(u, namespace)
}

func (c cachedRoles) ClusterRole(name string) *rbacv1.ClusterRole {
	return cachedOne[*rbacv1.ClusterRole](c.s, "clusterroles", "", name)
}

func (c cachedRoles) Role(namespace, name string) *rbacv1.Role {
	return cachedOne[*rbacv1.Role](c.s, "roles", namespace, name)
}
