package apiserver_test

import (
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/auth/bootstrappolicy"
	"keel.dev/keel/pkg/auth/rbac"
)

// TestBootstrapPolicyReconciledAtStart: a fresh apiserver creates every
// bootstrap ClusterRole and ClusterRoleBinding; on the next start it
// restores a rule, selector, subject or role an operator removed, keeps
// what the operator added, recreates a binding made to another role, and
// leaves alone an object annotated autoupdate=false.
func TestBootstrapPolicyReconciledAtStart(t *testing.T) {
	t.Parallel()
	e := testserver.StartEtcd(t)
	a := testserver.Start(t, e.Endpoint, nil)
	c := newClient(t, a)
	for _, want := range bootstrappolicy.ClusterRoles() {
		got := mustGet[*rbacv1.ClusterRole](c, "", want.GetMetadata().GetName())
		if !proto.Equal(got.GetAggregationRule(), want.GetAggregationRule()) || got.GetMetadata().GetAnnotations()[bootstrappolicy.AnnotationAutoupdate] != "true" {
			t.Errorf("ClusterRole %s: %v", want.GetMetadata().GetName(), got)
		}
		if want.GetAggregationRule() == nil && !slices.EqualFunc(got.GetRules(), want.GetRules(), func(a, b *rbacv1.PolicyRule) bool { return proto.Equal(a, b) }) {
			t.Errorf("ClusterRole %s rules %v, want %v", want.GetMetadata().GetName(), got.GetRules(), want.GetRules())
		}
	}
	for _, want := range bootstrappolicy.ClusterRoleBindings() {
		got := mustGet[*rbacv1.ClusterRoleBinding](c, "", want.GetMetadata().GetName())
		if !proto.Equal(got.GetRoleRef(), want.GetRoleRef()) || len(got.GetSubjects()) != len(want.GetSubjects()) {
			t.Errorf("ClusterRoleBinding %s: %v", want.GetMetadata().GetName(), got)
		}
	}

	// The operator's changes.
	operatorRule := &rbacv1.PolicyRule{Verbs: []string{"get"}, ApiGroups: []string{""}, Resources: []string{"configmaps"}}
	sched := mustGet[*rbacv1.ClusterRole](c, "", bootstrappolicy.Scheduler)
	sched.Rules = append(sched.Rules[1:], operatorRule) // the first rule removed
	mustUpdate(c, sched)
	proxier := mustGet[*rbacv1.ClusterRole](c, "", bootstrappolicy.NodeProxier)
	proxier.Metadata.Annotations[bootstrappolicy.AnnotationAutoupdate] = "false"
	proxier.Rules = []*rbacv1.PolicyRule{operatorRule}
	mustUpdate(c, proxier)
	view := mustGet[*rbacv1.ClusterRole](c, "", bootstrappolicy.View)
	view.AggregationRule.ClusterRoleSelectors = []*metav1.LabelSelector{{MatchLabels: map[string]string{"example.com/view": "true"}}}
	mustUpdate(c, view)
	crb := mustGet[*rbacv1.ClusterRoleBinding](c, "", bootstrappolicy.Discovery)
	crb.Subjects = []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: "alice"}}
	mustUpdate(c, crb)
	mustDelete(c, &apiv1.DeleteRequest{Resource: "clusterroles", Name: bootstrappolicy.Monitoring})
	// A binding of the policy's name made again to another role.
	mustDelete(c, &apiv1.DeleteRequest{Resource: "clusterrolebindings", Name: bootstrappolicy.Scheduler})
	mustCreate(c, &rbacv1.ClusterRoleBinding{Metadata: &metav1.ObjectMeta{Name: bootstrappolicy.Scheduler},
		RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: bootstrappolicy.View},
		Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: "alice"}}})
	a.Stop()

	c = newClient(t, testserver.Start(t, e.Endpoint, nil))
	sched = mustGet[*rbacv1.ClusterRole](c, "", bootstrappolicy.Scheduler)
	if missing := rbac.Uncovered(sched.GetRules(), bootstrappolicy.SchedulerRules()); len(missing) > 0 {
		t.Errorf("the scheduler's removed rule is not restored: %v lacks %v", sched.GetRules(), missing)
	}
	if !slices.ContainsFunc(sched.GetRules(), func(r *rbacv1.PolicyRule) bool { return proto.Equal(r, operatorRule) }) {
		t.Errorf("the operator's rule is gone: %v", sched.GetRules())
	}
	if got := mustGet[*rbacv1.ClusterRole](c, "", bootstrappolicy.NodeProxier); len(got.GetRules()) != 1 || !proto.Equal(got.GetRules()[0], operatorRule) {
		t.Errorf("a protected role was changed: %v", got)
	}
	view = mustGet[*rbacv1.ClusterRole](c, "", bootstrappolicy.View)
	if sels := view.GetAggregationRule().GetClusterRoleSelectors(); len(sels) != 2 || sels[0].GetMatchLabels()["example.com/view"] != "true" ||
		sels[1].GetMatchLabels()[bootstrappolicy.LabelAggregateToView] != "true" {
		t.Errorf("view's selectors: %v", sels)
	}
	crb = mustGet[*rbacv1.ClusterRoleBinding](c, "", bootstrappolicy.Discovery)
	if subs := crb.GetSubjects(); len(subs) != 2 || subs[0].GetName() != "alice" || subs[1].GetName() != "system:authenticated" {
		t.Errorf("discovery's subjects: %v", subs)
	}
	mustGet[*rbacv1.ClusterRole](c, "", bootstrappolicy.Monitoring)
	crb = mustGet[*rbacv1.ClusterRoleBinding](c, "", bootstrappolicy.Scheduler)
	if subs := crb.GetSubjects(); crb.GetRoleRef().GetName() != bootstrappolicy.Scheduler || len(subs) != 2 || subs[0].GetName() != "alice" || subs[1].GetName() != "system:kube-scheduler" {
		t.Errorf("the scheduler's binding, made again to another role, is not recreated with every subject: %v", crb)
	}

	// RBAC names are path segments: "system:..." is valid, "a/b" is not.
	_, err := create(c, &rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: "a/b"}})
	wantCode(t, apierrors.ToStatus(err), codes.InvalidArgument)
}
