package apiserver

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/auth/bootstrappolicy"
	"keel.dev/keel/pkg/scheme"
)

// reconcileAttempts bounds the retries of one object's reconciliation when
// another writer (another apiserver starting) changes it meanwhile.
const reconcileAttempts = 5

// reconcileRBAC brings the bootstrap ClusterRoles and ClusterRoleBindings
// to the policy (see bootstrappolicy.ReconcileClusterRole): it creates the
// missing ones and adds what existing ones lack, removing nothing, and
// returns once the caches the authorizer reads hold them. ctx must carry
// a user allowed everything.
func (s *Server) reconcileRBAC(ctx context.Context) error {
	for _, want := range bootstrappolicy.ClusterRoles() {
		if err := s.reconcileObject(ctx, "clusterroles", "", want.GetMetadata().GetName(), func(have proto.Message) (proto.Message, bool) {
			cur, _ := have.(*rbacv1.ClusterRole)
			if next := bootstrappolicy.ReconcileClusterRole(want, cur); next != nil {
				return next, false
			}
			return nil, false
		}); err != nil {
			return err
		}
	}
	for _, want := range bootstrappolicy.ClusterRoleBindings() {
		if err := s.reconcileObject(ctx, "clusterrolebindings", "", want.GetMetadata().GetName(), func(have proto.Message) (proto.Message, bool) {
			cur, _ := have.(*rbacv1.ClusterRoleBinding)
			if next, recreate := bootstrappolicy.ReconcileClusterRoleBinding(want, cur); next != nil {
				return next, recreate
			}
			return nil, false
		}); err != nil {
			return err
		}
	}
	// The RBAC authorizer reads the caches: a daemon calling the moment
	// the apiserver serves must find its role there.
	for _, res := range []string{"clusterroles", "clusterrolebindings"} {
		if err := s.resources[res].caughtUp(ctx); err != nil {
			return err
		}
	}
	return nil
}

// reconcileObject reads the object namespace/name of resource from etcd
// (nil when missing) and writes what decide makes of it: nothing
// (nil), a create (for a missing object), a delete then a create
// (recreate), or an update. A conflict with another writer starts again
// from a fresh read.
func (s *Server) reconcileObject(ctx context.Context, resource, namespace, name string, decide func(have proto.Message) (next proto.Message, recreate bool)) error {
	r := s.resources[resource]
	var err error
	for range reconcileAttempts {
		var have proto.Message
		have, _, err = s.read(ctx, r, namespace, name)
		if apierrors.IsNotFound(err) {
			have, err = nil, nil
		}
		if err != nil {
			return fmt.Errorf("reading %s %s: %w", r.kind.Kind, name, err)
		}
		next, recreate := decide(have)
		if next == nil {
			return nil
		}
		obj, perr := scheme.Pack(next)
		if perr != nil {
			return perr
		}
		action := "created"
		switch {
		case have == nil:
			_, err = s.Create(ctx, &apiv1.CreateRequest{Resource: resource, Namespace: namespace, Object: obj})
		case recreate:
			action = "recreated"
			_, err = s.Delete(ctx, &apiv1.DeleteRequest{Resource: resource, Namespace: namespace, Name: name,
				Preconditions: &apiv1.Preconditions{Uid: scheme.Meta(have).GetUid(), ResourceVersion: scheme.Meta(have).GetResourceVersion()}})
			if err == nil {
				_, err = s.Create(ctx, &apiv1.CreateRequest{Resource: resource, Namespace: namespace, Object: obj})
			}
		default:
			action = "updated"
			_, err = s.Update(ctx, &apiv1.UpdateRequest{Resource: resource, Object: obj})
		}
		switch {
		case err == nil:
			s.log.Info(r.kind.Kind+" "+action, zap.String("namespace", namespace), zap.String("name", name))
			return nil
		case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err), apierrors.IsNotFound(err):
			continue // another writer got there first: look again
		default:
			return fmt.Errorf("reconciling %s %s: %w", r.kind.Kind, name, err)
		}
	}
	return fmt.Errorf("reconciling %s %s: still conflicting after %d attempts: %w", r.kind.Kind, name, reconcileAttempts, err)
}
