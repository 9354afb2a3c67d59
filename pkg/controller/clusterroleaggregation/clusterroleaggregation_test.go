package clusterroleaggregation_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/bootstrappolicy"
	"keel.dev/keel/pkg/auth/rbac"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/clusterroleaggregation"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

func rule(verb, resource string) *rbacv1.PolicyRule {
	return &rbacv1.PolicyRule{Verbs: []string{verb}, ApiGroups: []string{""}, Resources: []string{resource}}
}

func clusterRole(name string, labels map[string]string, rules ...*rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: name, Labels: labels}, Rules: rules}
}

func aggregated(name string, rules []*rbacv1.PolicyRule, selectors ...*metav1.LabelSelector) *rbacv1.ClusterRole {
	r := clusterRole(name, nil, rules...)
	r.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: selectors}
	return r
}

func labels(key string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{key: "true"}}
}

// describe is a rule list as "verb resource, ...".
func describe(rules []*rbacv1.PolicyRule) string {
	var out []string
	for _, r := range rules {
		out = append(out, strings.Join(r.GetVerbs(), "+")+" "+strings.Join(r.GetResources(), "+"))
	}
	return strings.Join(out, ", ")
}

func TestDecide(t *testing.T) {
	on := map[string]string{"a": "true"}
	b := clusterRole("b", on, rule("get", "pods"), rule("list", "pods"))
	a := clusterRole("a", on, rule("get", "secrets"), rule("get", "pods"))
	c := clusterRole("c", map[string]string{"c": "true"}, rule("get", "nodes"))
	off := clusterRole("off", map[string]string{"a": "false"}, rule("delete", "pods"))
	plain := clusterRole("plain", nil, rule("get", "pods"))
	for _, tc := range []struct {
		name string
		role *rbacv1.ClusterRole
		all  []*rbacv1.ClusterRole
		want string // "-": no update
	}{
		{"not aggregated", plain, []*rbacv1.ClusterRole{a, b}, "-"},
		{"matching roles by name, each rule once, others ignored", aggregated("agg", nil, labels("a")),
			[]*rbacv1.ClusterRole{b, off, c, a}, "get secrets, get pods, list pods"},
		{"selectors in order", aggregated("agg", nil, labels("c"), labels("a")),
			[]*rbacv1.ClusterRole{a, b, c}, "get nodes, get secrets, get pods, list pods"},
		{"match expressions", aggregated("agg", nil, &metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "a", Operator: "In", Values: []string{"false"}}}}),
			[]*rbacv1.ClusterRole{a, off}, "delete pods"},
		{"already up to date", aggregated("agg", []*rbacv1.PolicyRule{rule("get", "nodes")}, labels("c")), []*rbacv1.ClusterRole{c}, "-"},
		{"rules of a role no longer selected dropped", aggregated("agg", []*rbacv1.PolicyRule{rule("get", "nodes"), rule("get", "secrets")}, labels("c")),
			[]*rbacv1.ClusterRole{c}, "get nodes"},
		{"nothing selected: no rules", aggregated("agg", []*rbacv1.PolicyRule{rule("get", "nodes")}, labels("zzz")), []*rbacv1.ClusterRole{a}, ""},
		{"itself not included", func() *rbacv1.ClusterRole {
			r := aggregated("agg", []*rbacv1.PolicyRule{rule("get", "pods")}, labels("a"))
			r.Metadata.Labels = on
			return r
		}(), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := proto.Clone(tc.role)
			all := append(slices.Clone(tc.all), tc.role)
			got := clusterroleaggregation.Decide(tc.role, all)
			switch {
			case tc.want == "-" && got != nil:
				t.Errorf("update to %s, want none", describe(got.GetRules()))
			case tc.want != "-" && got == nil:
				t.Errorf("no update, want %s", tc.want)
			case got != nil && describe(got.GetRules()) != tc.want:
				t.Errorf("rules %s, want %s", describe(got.GetRules()), tc.want)
			}
			if !proto.Equal(before, tc.role) {
				t.Error("the role was modified")
			}
		})
	}
}

// aggregate runs Decide over roles until nothing changes, as the
// controller does, and returns the roles by name.
func aggregate(t *testing.T, roles []*rbacv1.ClusterRole) map[string]*rbacv1.ClusterRole {
	t.Helper()
	for range 10 {
		changed := false
		for i, r := range roles {
			if next := clusterroleaggregation.Decide(r, roles); next != nil {
				roles[i], changed = next, true
			}
		}
		if !changed {
			out := map[string]*rbacv1.ClusterRole{}
			for _, r := range roles {
				out[r.GetMetadata().GetName()] = r
			}
			return out
		}
	}
	t.Fatal("aggregation does not settle")
	return nil
}

// TestBootstrapUserRoles: admin, edit and view, aggregated, grant what
// Kubernetes' do on Keel's resources: view reads workloads but not
// Secrets; edit changes workloads and Secrets but not roles or bindings;
// admin also manages the namespace's roles and bindings; none touches
// nodes or escalates.
func TestBootstrapUserRoles(t *testing.T) {
	roles := aggregate(t, bootstrappolicy.ClusterRoles())
	type check struct {
		verb, group, resource string
		want                  bool
	}
	yes := func(verb, group, resource string) check { return check{verb, group, resource, true} }
	no := func(verb, group, resource string) check { return check{verb, group, resource, false} }
	cases := map[string][]check{
		bootstrappolicy.View: {
			yes("get", "", "pods"), yes("list", "", "pods"), yes("watch", "", "services"), yes("get", "", "pods/log"),
			yes("list", "", "configmaps"), yes("list", "", "events"), yes("get", "", "namespaces"), yes("list", "apps", "deployments"),
			yes("get", "apps", "replicasets"), yes("list", "batch", "jobs"), yes("list", "", "serviceaccounts"), yes("list", "", "endpoints"),
			no("get", "", "secrets"), no("list", "", "secrets"), no("create", "", "pods"), no("delete", "", "pods"),
			no("create", "", "pods/exec"), no("list", "rbac.authorization.k8s.io", "roles"), no("get", "coordination.k8s.io", "leases"),
			no("update", "apps", "deployments"), no("list", "", "nodes"),
		},
		bootstrappolicy.Edit: {
			yes("get", "", "pods"), yes("create", "", "pods"), yes("delete", "", "pods"), yes("create", "", "pods/exec"),
			yes("get", "", "secrets"), yes("create", "", "secrets"), yes("update", "", "configmaps"), yes("create", "", "services"),
			yes("update", "apps", "deployments"), yes("delete", "apps", "replicasets"), yes("create", "batch", "jobs"),
			yes("create", "", "serviceaccounts/token"), yes("impersonate", "", "serviceaccounts"),
			no("create", "rbac.authorization.k8s.io", "roles"), no("update", "rbac.authorization.k8s.io", "rolebindings"),
			no("get", "rbac.authorization.k8s.io", "roles"), no("update", "", "endpoints"), no("update", "", "namespaces"),
			no("list", "", "nodes"), no("update", "", "pods/status"),
		},
		bootstrappolicy.Admin: {
			yes("create", "", "pods"), yes("get", "", "secrets"), yes("create", "rbac.authorization.k8s.io", "roles"),
			yes("update", "rbac.authorization.k8s.io", "rolebindings"), yes("delete", "rbac.authorization.k8s.io", "rolebindings"),
			yes("list", "", "pods"), yes("create", "authorization.k8s.io", "localsubjectaccessreviews"),
			no("create", "rbac.authorization.k8s.io", "clusterroles"), no("create", "rbac.authorization.k8s.io", "clusterrolebindings"),
			no("escalate", "rbac.authorization.k8s.io", "roles"), no("bind", "rbac.authorization.k8s.io", "roles"),
			no("update", "", "namespaces"), no("delete", "", "namespaces"), no("list", "", "nodes"), no("update", "", "endpoints"),
			no("create", "scheduling.k8s.io", "priorityclasses"),
		},
	}
	for name, checks := range cases {
		rules := roles[name].GetRules()
		if len(rules) == 0 {
			t.Fatalf("%s has no rules after aggregation", name)
		}
		for _, c := range checks {
			a := auth.Attributes{Verb: c.verb, APIGroup: c.group, Resource: c.resource, Namespace: "team", Name: "x"}
			got := slices.ContainsFunc(rules, func(r *rbacv1.PolicyRule) bool { return rbac.RuleAllows(r, a) })
			if got != c.want {
				t.Errorf("%s: %s %s/%s allowed %v, want %v", name, c.verb, c.group, c.resource, got, c.want)
			}
		}
	}
	// admin holds everything edit does, edit everything view does.
	for _, pair := range [][2]string{{bootstrappolicy.Admin, bootstrappolicy.Edit}, {bootstrappolicy.Edit, bootstrappolicy.View}} {
		if missing := rbac.Uncovered(roles[pair[0]].GetRules(), roles[pair[1]].GetRules()); len(missing) > 0 {
			t.Errorf("%s lacks what %s grants: %v", pair[0], pair[1], missing)
		}
	}
}

// TestAggregationWithRBAC runs the controller as the controller-manager
// (its certificate, its bootstrap role) against an apiserver with RBAC on:
// admin, edit and view get their rules, which the authorizer then applies
// to a user bound to view; an operator's role labelled to join view adds
// to view, edit and admin, and leaves them when its label goes.
func TestAggregationWithRBAC(t *testing.T) {
	s := testserver.StartSecure(t, nil, nil)
	cm := s.Client(pki.ControllerManagerName)
	admin := s.Client(pki.AdminName)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := informer.NewFactory(cm, 0)
	ctl := clusterroleaggregation.New(cm, f, nil)
	f.Start(ctx)
	done := make(chan struct{})
	go func() { ctl.Run(ctx, 1); close(done) }()
	t.Cleanup(func() { cancel(); <-done; f.Shutdown() })

	roles := client.For[*rbacv1.ClusterRole](admin, "")
	holds := func(name string, want *rbacv1.PolicyRule, held bool) func() error {
		return func() error {
			r, err := roles.Get(ctx, name)
			if err != nil {
				return err
			}
			if got := len(rbac.Uncovered(r.GetRules(), []*rbacv1.PolicyRule{want})) == 0; got != held {
				return fmt.Errorf("%s holds %v: %v, want %v (rules: %s)", name, want, got, held, describe(r.GetRules()))
			}
			return nil
		}
	}
	listPods := rule("list", "pods")
	for _, name := range []string{bootstrappolicy.View, bootstrappolicy.Edit, bootstrappolicy.Admin} {
		testutil.Eventually(t, 30*time.Second, name+" aggregated", holds(name, listPods, true))
	}

	// The authorizer sees view's aggregated rules.
	if _, err := client.For[*rbacv1.RoleBinding](admin, "default").Create(ctx, &rbacv1.RoleBinding{
		Metadata: &metav1.ObjectMeta{Name: "alice-views"},
		RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: bootstrappolicy.View},
		Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: "alice"}},
	}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	alice := auth.WithUser(ctx, auth.User{Name: "alice", Groups: []string{auth.GroupAuthenticated}})
	list := func(resource string) error {
		_, err := s.Server.List(alice, &apiv1.ListRequest{Resource: resource, Namespace: "default"})
		return err
	}
	testutil.Eventually(t, 30*time.Second, "alice lists pods through view", func() error { return list("pods") })
	if err := list("secrets"); err == nil {
		t.Error("alice lists secrets through view")
	}

	// An operator's role joins view, and through it edit and admin.
	leases := &rbacv1.PolicyRule{Verbs: []string{"get", "list"}, ApiGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}}
	extra, err := roles.Create(ctx, clusterRole("leases-reader", map[string]string{bootstrappolicy.LabelAggregateToView: "true"}, leases), client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{bootstrappolicy.View, bootstrappolicy.Edit, bootstrappolicy.Admin} {
		testutil.Eventually(t, 30*time.Second, name+" holds the operator's rule", holds(name, leases, true))
	}
	testutil.Eventually(t, 30*time.Second, "alice lists leases through view", func() error { return list("leases") })
	extra.Metadata.Labels = nil
	if _, err := roles.Update(ctx, extra, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{bootstrappolicy.View, bootstrappolicy.Edit, bootstrappolicy.Admin} {
		testutil.Eventually(t, 30*time.Second, name+" without the operator's rule", holds(name, leases, false))
	}
}
