package validation_test

import (
	"sort"
	"strings"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// TestRBAC: roles and bindings report every bad field, with Kubernetes'
// paths, and roleRef cannot change.
func TestRBAC(t *testing.T) {
	meta := func(ns string) *metav1.ObjectMeta { return &metav1.ObjectMeta{Name: "x", Namespace: ns} }
	ref := func(kind string) *rbacv1.RoleRef {
		return &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: kind, Name: "r"}
	}
	user := &rbacv1.Subject{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: "jane"}
	for _, c := range []struct {
		name string
		obj  scheme.Object
		want []string // error paths, sorted
	}{
		{"service account with bad references", &corev1.ServiceAccount{Metadata: meta("ns"),
			Secrets:          []*corev1.ObjectReference{{Name: "ok"}, {Name: "Bad_Name"}},
			ImagePullSecrets: []*corev1.LocalObjectReference{{}}}, []string{"imagePullSecrets[0].name", "secrets[1].name"}},
		{"valid role", &rbacv1.Role{Metadata: meta("ns"), Rules: []*rbacv1.PolicyRule{{Verbs: []string{"get"}, ApiGroups: []string{""}, Resources: []string{"pods"}}}}, nil},
		{"bad role", &rbacv1.Role{Metadata: meta("ns"), Rules: []*rbacv1.PolicyRule{
			{},
			{Verbs: []string{"get"}, NonResourceUrls: []string{"/healthz"}},
		}}, []string{"rules[0].apiGroups", "rules[0].resources", "rules[0].verbs", "rules[1].nonResourceURLs"}},
		{"cluster role with URLs", &rbacv1.ClusterRole{Metadata: meta(""), Rules: []*rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceUrls: []string{"/metrics"}}}}, nil},
		{"cluster role mixing URLs and resources", &rbacv1.ClusterRole{Metadata: meta(""), Rules: []*rbacv1.PolicyRule{
			{Verbs: []string{"get"}, NonResourceUrls: []string{"/metrics"}, Resources: []string{"pods"}}}}, []string{"rules[0].nonResourceURLs"}},
		{"valid role binding to a cluster role", &rbacv1.RoleBinding{Metadata: meta("ns"), RoleRef: ref("ClusterRole"),
			Subjects: []*rbacv1.Subject{user, {Kind: "ServiceAccount", Name: "robot"}}}, nil},
		{"bad role binding", &rbacv1.RoleBinding{Metadata: meta("ns"), RoleRef: &rbacv1.RoleRef{Kind: "Pod"},
			Subjects: []*rbacv1.Subject{{Kind: "User", Name: "jane"}, {Kind: "Robot", Name: "r"}, {Kind: "ServiceAccount", ApiGroup: "x"}}},
			[]string{"roleRef.apiGroup", "roleRef.kind", "roleRef.name", "subjects[0].apiGroup", "subjects[1].kind", "subjects[2].apiGroup", "subjects[2].name"}},
		{"cluster role binding to a role, a service account without namespace", &rbacv1.ClusterRoleBinding{Metadata: meta(""), RoleRef: ref("Role"),
			Subjects: []*rbacv1.Subject{{Kind: "ServiceAccount", Name: "robot"}}}, []string{"roleRef.kind", "subjects[0].namespace"}},
	} {
		errs := registry.ValidateCreate(c.obj)
		var got []string
		for _, e := range errs {
			got = append(got, e.Field)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: errors at %v, want %v\n%v", c.name, got, c.want, errs)
		}
	}

	old := &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: "b", Namespace: "ns", ResourceVersion: "1"}, RoleRef: ref("Role"), Subjects: []*rbacv1.Subject{user}}
	changed := &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: "b", Namespace: "ns", ResourceVersion: "1"}, RoleRef: ref("ClusterRole"), Subjects: []*rbacv1.Subject{user}}
	if errs := registry.ValidateUpdate(changed, old); len(errs) != 1 || errs[0].Field != "roleRef" || !strings.Contains(errs[0].Error(), "cannot change roleRef") {
		t.Errorf("changing roleRef: %v", errs)
	}
}
