package printers

import (
	"keel.dev/keel/pkg/api"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/registry"
)

// RoleColumns are the columns of `get role` and `get clusterrole`.
var RoleColumns = []registry.Column{{Name: "NAME"}, {Name: "CREATED AT"}}

// RoleRow returns the cells of a role's row under RoleColumns.
func RoleRow(r *rbacv1.Role, _ time.Time) []string {
	return []string{r.GetMetadata().GetName(), createdAt(r.GetMetadata().GetCreationTimestamp())}
}

// ClusterRoleRow returns the cells of a cluster role's row under
// RoleColumns.
func ClusterRoleRow(r *rbacv1.ClusterRole, _ time.Time) []string {
	return []string{r.GetMetadata().GetName(), createdAt(r.GetMetadata().GetCreationTimestamp())}
}

// RoleBindingColumns are the columns of `get rolebinding` and
// `get clusterrolebinding`.
var RoleBindingColumns = []registry.Column{{Name: "NAME"}, {Name: "ROLE"}, {Name: "AGE"},
	{Name: "USERS", Wide: true}, {Name: "GROUPS", Wide: true}, {Name: "SERVICEACCOUNTS", Wide: true}}

// RoleBindingRow returns the cells of a role binding's row under
// RoleBindingColumns.
func RoleBindingRow(b *rbacv1.RoleBinding, now time.Time) []string {
	return bindingRow(b.GetMetadata().GetName(), b.GetMetadata().GetCreationTimestamp(), b.GetRoleRef(), b.GetSubjects(), now)
}

// ClusterRoleBindingRow returns the cells of a cluster role binding's row
// under RoleBindingColumns.
func ClusterRoleBindingRow(b *rbacv1.ClusterRoleBinding, now time.Time) []string {
	return bindingRow(b.GetMetadata().GetName(), b.GetMetadata().GetCreationTimestamp(), b.GetRoleRef(), b.GetSubjects(), now)
}

func bindingRow(name string, created *timestamppb.Timestamp, ref *rbacv1.RoleRef, subs []*rbacv1.Subject, now time.Time) []string {
	var users, groups, sas []string
	for _, s := range subs {
		switch s.GetKind() {
		case api.SubjectKindUser:
			users = append(users, s.GetName())
		case api.SubjectKindGroup:
			groups = append(groups, s.GetName())
		case api.SubjectKindServiceAccount:
			sas = append(sas, s.GetNamespace()+"/"+s.GetName())
		}
	}
	return []string{name, ref.GetKind() + "/" + ref.GetName(), Age(created, now),
		strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
}

// createdAt is kubectl's CREATED AT cell: the RFC 3339 creation time.
func createdAt(t *timestamppb.Timestamp) string {
	if t == nil {
		return "<unknown>"
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}

// DescribeRole renders a Role as `describe` does.
func DescribeRole(r *rbacv1.Role, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		w.policyRules(r.GetMetadata().GetName(), r.GetMetadata().GetLabels(), r.GetMetadata().GetAnnotations(), r.GetRules())
	})
}

// DescribeClusterRole renders a ClusterRole as `describe` does.
func DescribeClusterRole(r *rbacv1.ClusterRole, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		w.policyRules(r.GetMetadata().GetName(), r.GetMetadata().GetLabels(), r.GetMetadata().GetAnnotations(), r.GetRules())
	})
}

// DescribeRoleBinding renders a RoleBinding as `describe` does.
func DescribeRoleBinding(b *rbacv1.RoleBinding, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		w.binding(b.GetMetadata().GetName(), b.GetMetadata().GetLabels(), b.GetMetadata().GetAnnotations(), b.GetRoleRef(), b.GetSubjects())
	})
}

// DescribeClusterRoleBinding renders a ClusterRoleBinding as `describe`
// does.
func DescribeClusterRoleBinding(b *rbacv1.ClusterRoleBinding, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		w.binding(b.GetMetadata().GetName(), b.GetMetadata().GetLabels(), b.GetMetadata().GetAnnotations(), b.GetRoleRef(), b.GetSubjects())
	})
}

func (w *dw) policyRules(name string, labels, annotations map[string]string, rules []*rbacv1.PolicyRule) {
	w.line(0, "Name:\t%s", name)
	w.labels(0, "Labels", labels)
	w.annotations(0, annotations)
	w.line(0, "PolicyRule:")
	w.line(1, "Resources\tNon-Resource URLs\tResource Names\tVerbs")
	w.line(1, "---------\t-----------------\t--------------\t-----")
	list := func(s []string) string { return "[" + strings.Join(s, " ") + "]" }
	for _, r := range rules {
		if len(r.GetResources()) == 0 {
			w.line(1, "\t%s\t%s\t%s", list(r.GetNonResourceUrls()), list(r.GetResourceNames()), list(r.GetVerbs()))
			continue
		}
		for _, res := range r.GetResources() {
			for _, g := range r.GetApiGroups() {
				name := res
				if g != "" {
					name = res + "." + g
				}
				w.line(1, "%s\t%s\t%s\t%s", name, list(r.GetNonResourceUrls()), list(r.GetResourceNames()), list(r.GetVerbs()))
			}
		}
	}
}

func (w *dw) binding(name string, labels, annotations map[string]string, ref *rbacv1.RoleRef, subs []*rbacv1.Subject) {
	w.line(0, "Name:\t%s", name)
	w.labels(0, "Labels", labels)
	w.annotations(0, annotations)
	w.line(0, "Role:")
	w.line(1, "Kind:\t%s", ref.GetKind())
	w.line(1, "Name:\t%s", ref.GetName())
	w.line(0, "Subjects:")
	w.line(1, "Kind\tName\tNamespace")
	w.line(1, "----\t----\t---------")
	for _, s := range subs {
		w.line(1, "%s\t%s\t%s", s.GetKind(), s.GetName(), s.GetNamespace())
	}
}
