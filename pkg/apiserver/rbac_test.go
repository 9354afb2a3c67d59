package apiserver_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/scheme"
)

// TestRBACAuthorization: with --authorization-mode=RBAC a user is refused
// until a binding gives it a role, then allowed exactly what the role
// grants, and may grant only what it holds itself; system:masters may do
// anything, and the bootstrap cluster-admin role and binding exist.
func TestRBACAuthorization(t *testing.T) {
	t.Parallel()
	c := start(t, func(cfg *apiserver.Config) { cfg.AuthorizationModes = []string{apiserver.ModeRBAC} })
	srv := c.srv.Server
	ns := mustNamespace(c, "team") // the test's own client is system:masters
	alice := auth.WithUser(c.ctx, auth.User{Name: "alice", Groups: []string{auth.GroupAuthenticated}})

	list := func() error {
		_, err := srv.List(alice, &apiv1.ListRequest{Resource: "pods", Namespace: ns})
		return err
	}
	err := list()
	wantCode(t, apierrors.ToStatus(err), codes.PermissionDenied)
	if want := `pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "team"`; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q, want %q", err, want)
	}

	mustCreate(c, &rbacv1.Role{Metadata: &metav1.ObjectMeta{Name: "pod-reader", Namespace: ns},
		Rules: []*rbacv1.PolicyRule{{Verbs: []string{"get", "list", "watch"}, ApiGroups: []string{""}, Resources: []string{"pods"}}}})
	mustCreate(c, &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: "alice-reads-pods", Namespace: ns},
		RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pod-reader"},
		Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: "alice"}}})
	// The authorizer reads the watch cache, which the binding reaches soon.
	eventually(t, "alice allowed to list pods", func() bool { return list() == nil })
	// Only what the role grants.
	_, err = srv.List(alice, &apiv1.ListRequest{Resource: "secrets", Namespace: ns})
	wantCode(t, apierrors.ToStatus(err), codes.PermissionDenied)
	_, err = srv.List(alice, &apiv1.ListRequest{Resource: "pods", Namespace: "default"})
	wantCode(t, apierrors.ToStatus(err), codes.PermissionDenied)
	_, err = srv.Delete(alice, &apiv1.DeleteRequest{Resource: "namespaces", Name: ns})
	wantCode(t, apierrors.ToStatus(err), codes.PermissionDenied)

	// Escalation: alice may write roles and bindings in team, but grants
	// only what she holds herself.
	mustCreate(c, &rbacv1.Role{Metadata: &metav1.ObjectMeta{Name: "rbac-writer", Namespace: ns},
		Rules: []*rbacv1.PolicyRule{{Verbs: []string{"create", "update"}, ApiGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings"}}}})
	mustCreate(c, &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: "alice-writes-rbac", Namespace: ns},
		RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "rbac-writer"},
		Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: "alice"}}})
	createAs := func(obj proto.Message) error {
		req := pack(t, obj)
		k, _ := scheme.ByMessage(obj)
		req.Resource, req.Namespace = k.Resource, ns
		_, err := srv.Create(alice, req)
		return err
	}
	role := func(name, resource string) *rbacv1.Role {
		return &rbacv1.Role{Metadata: &metav1.ObjectMeta{Name: name},
			Rules: []*rbacv1.PolicyRule{{Verbs: []string{"get"}, ApiGroups: []string{""}, Resources: []string{resource}}}}
	}
	binding := func(name, kind, roleName string) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: name},
			RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: kind, Name: roleName},
			Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: "alice"}}}
	}
	eventually(t, "alice allowed a role within what she holds", func() bool { return createAs(role("pods-too", "pods")) == nil })
	for _, c := range []struct {
		name string
		obj  proto.Message
	}{
		{"a role granting secrets", role("secrets", "secrets")},
		{"a binding to cluster-admin", binding("root", "ClusterRole", "cluster-admin")},
	} {
		err := createAs(c.obj)
		wantCode(t, apierrors.ToStatus(err), codes.PermissionDenied)
		if !strings.Contains(err.Error(), "is attempting to grant RBAC permissions not currently held") {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if err := createAs(binding("reads-again", "Role", "pod-reader")); err != nil {
		t.Errorf("a binding to a role alice holds: %v", err)
	}

	// Removing owner references and finalizers from a role that grants
	// more than alice holds is not an escalation (the garbage collector
	// does it); changing its rules is.
	owned := mustCreate(c, &rbacv1.Role{Metadata: &metav1.ObjectMeta{Name: "owned", Namespace: ns, Finalizers: []string{"example.com/hold"},
		OwnerReferences: []*metav1.OwnerReference{{ApiVersion: "v1", Kind: "ConfigMap", Name: "owner", Uid: "u-1"}}},
		Rules: []*rbacv1.PolicyRule{{Verbs: []string{"get"}, ApiGroups: []string{""}, Resources: []string{"secrets"}}}})
	updateAs := func(r *rbacv1.Role) error {
		a, err := scheme.Pack(r)
		if err != nil {
			t.Fatal(err)
		}
		_, err = srv.Update(alice, &apiv1.UpdateRequest{Resource: "roles", Object: a})
		return err
	}
	grown := proto.Clone(owned).(*rbacv1.Role)
	grown.Rules[0].Verbs = append(grown.Rules[0].Verbs, "list")
	if err := updateAs(grown); !strings.Contains(fmt.Sprint(err), "is attempting to grant RBAC permissions not currently held") {
		t.Errorf("alice adding a rule she lacks to a role: %v", err)
	}
	freed := proto.Clone(owned).(*rbacv1.Role)
	freed.Metadata.OwnerReferences, freed.Metadata.Finalizers = nil, nil
	if err := updateAs(freed); err != nil {
		t.Errorf("alice removing only owner references and finalizers: %v", err)
	}

	// A member of system:masters may do anything.
	root := auth.WithUser(c.ctx, auth.User{Name: "root", Groups: []string{auth.GroupMasters, auth.GroupAuthenticated}})
	if _, err := srv.List(root, &apiv1.ListRequest{Resource: "secrets"}); err != nil {
		t.Fatalf("system:masters listing secrets: %v", err)
	}
	crb := mustGetAny(c, "clusterrolebindings", "", "cluster-admin").(*rbacv1.ClusterRoleBinding)
	if crb.GetRoleRef().GetName() != "cluster-admin" || crb.GetSubjects()[0].GetName() != auth.GroupMasters {
		t.Errorf("bootstrap binding %v", crb)
	}
}
