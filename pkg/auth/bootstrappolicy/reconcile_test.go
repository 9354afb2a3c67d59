package bootstrappolicy_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/auth/bootstrappolicy"
)

func TestReconcileClusterRole(t *testing.T) {
	podsRead := &rbacv1.PolicyRule{Verbs: []string{"get", "list"}, ApiGroups: []string{""}, Resources: []string{"pods"}}
	podsGet := &rbacv1.PolicyRule{Verbs: []string{"get"}, ApiGroups: []string{""}, Resources: []string{"pods"}}
	nodesList := &rbacv1.PolicyRule{Verbs: []string{"list"}, ApiGroups: []string{""}, Resources: []string{"nodes"}}
	secretsGet := &rbacv1.PolicyRule{Verbs: []string{"get"}, ApiGroups: []string{""}, Resources: []string{"secrets"}}
	everything := &rbacv1.PolicyRule{Verbs: []string{"*"}, ApiGroups: []string{"*"}, Resources: []string{"*"}}
	meta := func(labels, annotations map[string]string) *metav1.ObjectMeta {
		return &metav1.ObjectMeta{Name: "r", Uid: "u1", ResourceVersion: "7", Labels: labels, Annotations: annotations}
	}
	std := func() *metav1.ObjectMeta {
		return meta(map[string]string{bootstrappolicy.LabelBootstrapping: "rbac-defaults"}, map[string]string{bootstrappolicy.AnnotationAutoupdate: "true"})
	}
	sel := func(label string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{label: "true"}}
	}
	expected := &rbacv1.ClusterRole{Metadata: std(), Rules: []*rbacv1.PolicyRule{podsRead, nodesList}}
	aggregated := &rbacv1.ClusterRole{Metadata: std(), AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []*metav1.LabelSelector{sel("a")}}}

	for _, c := range []struct {
		name               string
		expected, existing *rbacv1.ClusterRole
		want               *rbacv1.ClusterRole // nil: nothing to write
	}{
		{"missing: created as expected", expected, nil, expected},
		{"as expected: nothing", expected, expected, nil},
		{"rules in another shape that cover: nothing", expected,
			&rbacv1.ClusterRole{Metadata: std(), Rules: []*rbacv1.PolicyRule{nodesList, podsGet, {Verbs: []string{"list"}, ApiGroups: []string{""}, Resources: []string{"pods"}}}}, nil},
		{"a wider rule covers: nothing", expected, &rbacv1.ClusterRole{Metadata: std(), Rules: []*rbacv1.PolicyRule{everything}}, nil},
		{"a missing rule restored, the operator's kept", expected,
			&rbacv1.ClusterRole{Metadata: std(), Rules: []*rbacv1.PolicyRule{podsGet, secretsGet}},
			&rbacv1.ClusterRole{Metadata: std(), Rules: []*rbacv1.PolicyRule{podsGet, secretsGet, podsRead, nodesList}}},
		{"labels and annotation added, the operator's kept", expected,
			&rbacv1.ClusterRole{Metadata: meta(map[string]string{"team": "x", bootstrappolicy.LabelBootstrapping: "mine"}, nil), Rules: []*rbacv1.PolicyRule{podsRead, nodesList}},
			&rbacv1.ClusterRole{Metadata: meta(map[string]string{"team": "x", bootstrappolicy.LabelBootstrapping: "mine"}, map[string]string{bootstrappolicy.AnnotationAutoupdate: "true"}),
				Rules: []*rbacv1.PolicyRule{podsRead, nodesList}}},
		{"autoupdate false: left alone", expected,
			&rbacv1.ClusterRole{Metadata: meta(nil, map[string]string{bootstrappolicy.AnnotationAutoupdate: "false"}), Rules: []*rbacv1.PolicyRule{podsGet}}, nil},
		{"aggregated: its rules are the controller's, nothing", aggregated,
			&rbacv1.ClusterRole{Metadata: std(), AggregationRule: aggregated.AggregationRule, Rules: []*rbacv1.PolicyRule{secretsGet}}, nil},
		{"aggregated: a missing selector added, the operator's kept", aggregated,
			&rbacv1.ClusterRole{Metadata: std(), AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []*metav1.LabelSelector{sel("b")}}, Rules: []*rbacv1.PolicyRule{secretsGet}},
			&rbacv1.ClusterRole{Metadata: std(), AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []*metav1.LabelSelector{sel("b"), sel("a")}}, Rules: []*rbacv1.PolicyRule{secretsGet}}},
		{"aggregation rule removed by hand: restored", aggregated,
			&rbacv1.ClusterRole{Metadata: std(), Rules: []*rbacv1.PolicyRule{secretsGet}},
			&rbacv1.ClusterRole{Metadata: std(), AggregationRule: aggregated.AggregationRule, Rules: []*rbacv1.PolicyRule{secretsGet}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var before *rbacv1.ClusterRole
			if c.existing != nil {
				before = proto.Clone(c.existing).(*rbacv1.ClusterRole)
			}
			got := bootstrappolicy.ReconcileClusterRole(c.expected, c.existing)
			if !proto.Equal(got, c.want) {
				t.Errorf("got  %v\nwant %v", got, c.want)
			}
			if c.existing != nil && !proto.Equal(before, c.existing) {
				t.Error("the existing role was modified")
			}
		})
	}
}

func TestReconcileClusterRoleBinding(t *testing.T) {
	group := func(name string) *rbacv1.Subject {
		return &rbacv1.Subject{Kind: "Group", ApiGroup: "rbac.authorization.k8s.io", Name: name}
	}
	user := func(name string) *rbacv1.Subject {
		return &rbacv1.Subject{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: name}
	}
	ref := func(name string) *rbacv1.RoleRef {
		return &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name}
	}
	std := func() *metav1.ObjectMeta {
		return &metav1.ObjectMeta{Name: "b", Labels: map[string]string{bootstrappolicy.LabelBootstrapping: "rbac-defaults"},
			Annotations: map[string]string{bootstrappolicy.AnnotationAutoupdate: "true"}}
	}
	stored := func() *metav1.ObjectMeta {
		m := std()
		m.Uid, m.ResourceVersion = "u1", "9"
		return m
	}
	binding := func(m *metav1.ObjectMeta, role string, subjects ...*rbacv1.Subject) *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{Metadata: m, RoleRef: ref(role), Subjects: subjects}
	}
	expected := binding(std(), "r", group("g1"), group("g2"))
	for _, c := range []struct {
		name         string
		existing     *rbacv1.ClusterRoleBinding
		want         *rbacv1.ClusterRoleBinding
		wantRecreate bool
	}{
		{"missing: created", nil, expected, false},
		{"as expected: nothing", binding(stored(), "r", group("g2"), group("g1")), nil, false},
		{"a missing subject restored, the operator's kept", binding(stored(), "r", user("alice"), group("g1")),
			binding(stored(), "r", user("alice"), group("g1"), group("g2")), false},
		{"autoupdate false: left alone", &rbacv1.ClusterRoleBinding{
			Metadata: &metav1.ObjectMeta{Name: "b", Annotations: map[string]string{bootstrappolicy.AnnotationAutoupdate: "false"}}, RoleRef: ref("other")}, nil, false},
		{"another role: recreated with every subject", binding(stored(), "other", user("alice")),
			binding(std(), "r", user("alice"), group("g1"), group("g2")), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, recreate := bootstrappolicy.ReconcileClusterRoleBinding(expected, c.existing)
			if !proto.Equal(got, c.want) || recreate != c.wantRecreate {
				t.Errorf("got %v (recreate %v)\nwant %v (recreate %v)", got, recreate, c.want, c.wantRecreate)
			}
		})
	}
}
