package apiserver_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	authenticationv1 "keel.dev/keel/pkg/apis/authentication/v1"
	authorizationv1 "keel.dev/keel/pkg/apis/authorization/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/scheme"
)

// review creates a review as the user of ctx and returns the answer.
func review[T proto.Message](t *testing.T, srv *apiserver.Server, ctx context.Context, ns string, obj T) (T, error) {
	t.Helper()
	req := pack(t, obj)
	k, _ := scheme.ByMessage(obj)
	req.Resource, req.Namespace = k.Resource, ns
	var zero T
	out, err := srv.Create(ctx, req)
	if err != nil {
		return zero, err
	}
	m := k.New()
	if err := out.UnmarshalTo(m); err != nil {
		t.Fatal(err)
	}
	return m.(T), nil
}

// TestReviews: under RBAC every authenticated user may ask what it may do
// (SelfSubjectAccessReview, SelfSubjectRulesReview) and who it is
// (SelfSubjectReview), and gets the authorizer's own answers; asking about
// another user (SubjectAccessReview) needs create on subjectaccessreviews.
func TestReviews(t *testing.T) {
	t.Parallel()
	c := start(t, func(cfg *apiserver.Config) { cfg.AuthorizationModes = []string{apiserver.ModeRBAC} })
	srv := c.srv.Server
	ns := mustNamespace(c, "team")
	admin := auth.WithUser(c.ctx, auth.User{Name: "admin", Groups: []string{auth.GroupMasters, auth.GroupAuthenticated}})
	alice := auth.WithUser(c.ctx, auth.User{Name: "alice", Groups: []string{"devs", auth.GroupAuthenticated}})
	mustCreate(c, &rbacv1.Role{Metadata: &metav1.ObjectMeta{Name: "pod-reader", Namespace: ns},
		Rules: []*rbacv1.PolicyRule{{Verbs: []string{"get", "list"}, ApiGroups: []string{""}, Resources: []string{"pods"}}}})
	mustCreate(c, &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: "devs-read-pods", Namespace: ns},
		RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pod-reader"},
		Subjects: []*rbacv1.Subject{{Kind: "Group", ApiGroup: "rbac.authorization.k8s.io", Name: "devs"}}})

	canI := func(verb, resource, namespace string) *authorizationv1.SubjectAccessReviewStatus {
		r, err := review(t, srv, alice, "", &authorizationv1.SelfSubjectAccessReview{Spec: &authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Resource: resource, Namespace: namespace}}})
		if err != nil {
			t.Fatalf("SelfSubjectAccessReview %s %s: %v", verb, resource, err)
		}
		return r.GetStatus()
	}
	eventually(t, "alice may list pods in team", func() bool { return canI("list", "pods", ns).GetAllowed() })
	if canI("delete", "pods", ns).GetAllowed() || canI("list", "pods", "default").GetAllowed() || canI("list", "secrets", ns).GetAllowed() {
		t.Error("alice may do more than her role grants")
	}
	// A non-resource URL: system:public-info-viewer grants /healthz to every user.
	r, err := review(t, srv, alice, "", &authorizationv1.SelfSubjectAccessReview{Spec: &authorizationv1.SelfSubjectAccessReviewSpec{
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Verb: "get", Path: "/healthz"}}})
	if err != nil || !r.GetStatus().GetAllowed() {
		t.Errorf("get /healthz: %v %v, want allowed", r.GetStatus(), err)
	}
	r, err = review(t, srv, alice, "", &authorizationv1.SelfSubjectAccessReview{Spec: &authorizationv1.SelfSubjectAccessReviewSpec{
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Verb: "get", Path: "/metrics"}}})
	if err != nil || r.GetStatus().GetAllowed() {
		t.Errorf("get /metrics: %v %v, want denied", r.GetStatus(), err)
	}
	// A review without a request is invalid.
	_, err = review(t, srv, alice, "", &authorizationv1.SelfSubjectAccessReview{})
	wantCode(t, apierrors.ToStatus(err), codes.InvalidArgument)

	// The rules alice holds in team: her role's, and the bootstrap
	// roles every authenticated user has.
	rr, err := review(t, srv, alice, "", &authorizationv1.SelfSubjectRulesReview{Spec: &authorizationv1.SelfSubjectRulesReviewSpec{Namespace: ns}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rr.GetStatus().GetResourceRules(), func(r *authorizationv1.ResourceRule) bool {
		return slices.Equal(r.GetVerbs(), []string{"get", "list"}) && slices.Equal(r.GetResources(), []string{"pods"})
	}) || !slices.ContainsFunc(rr.GetStatus().GetResourceRules(), func(r *authorizationv1.ResourceRule) bool {
		return slices.Contains(r.GetResources(), "selfsubjectaccessreviews")
	}) || !slices.ContainsFunc(rr.GetStatus().GetNonResourceRules(), func(r *authorizationv1.NonResourceRule) bool {
		return slices.Contains(r.GetNonResourceUrls(), "/healthz")
	}) || rr.GetStatus().GetIncomplete() {
		t.Errorf("rules of alice in team: %v", rr.GetStatus())
	}

	// Who am I.
	who, err := review(t, srv, alice, "", &authenticationv1.SelfSubjectReview{})
	if err != nil || who.GetStatus().GetUserInfo().GetUsername() != "alice" || !slices.Equal(who.GetStatus().GetUserInfo().GetGroups(), []string{"devs", auth.GroupAuthenticated}) {
		t.Errorf("SelfSubjectReview: %v %v", who.GetStatus(), err)
	}

	// Asking about someone else needs the verb; a master has it.
	sar := &authorizationv1.SubjectAccessReview{Spec: &authorizationv1.SubjectAccessReviewSpec{User: "bob", Groups: []string{"devs"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods", Namespace: ns, Name: "web"}}}
	_, err = review(t, srv, alice, "", sar)
	wantCode(t, apierrors.ToStatus(err), codes.PermissionDenied)
	got, err := review(t, srv, admin, "", sar)
	if err != nil || !got.GetStatus().GetAllowed() {
		t.Errorf("SubjectAccessReview of bob in devs: %v %v, want allowed", got.GetStatus(), err)
	}
	local, err := review(t, srv, admin, ns, &authorizationv1.LocalSubjectAccessReview{Spec: &authorizationv1.SubjectAccessReviewSpec{User: "bob",
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods", Namespace: ns}}})
	if err != nil || local.GetStatus().GetAllowed() {
		t.Errorf("LocalSubjectAccessReview of bob alone: %v %v, want denied", local.GetStatus(), err)
	}
	// A LocalSubjectAccessReview about another namespace is invalid.
	_, err = review(t, srv, admin, ns, &authorizationv1.LocalSubjectAccessReview{Spec: &authorizationv1.SubjectAccessReviewSpec{User: "bob",
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods", Namespace: "default"}}})
	wantCode(t, apierrors.ToStatus(err), codes.InvalidArgument)

	// Reviews are never stored: nothing to get or list.
	_, err = srv.List(c.ctx, &apiv1.ListRequest{Resource: "selfsubjectaccessreviews"})
	wantCode(t, apierrors.ToStatus(err), codes.Unimplemented)
}
