package rbac_test

import (
	"context"
	"strings"
	"testing"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/rbac"
)

// roles is a fixed set of roles and bindings.
type roles struct {
	clusterRoles map[string]*rbacv1.ClusterRole
	roles        map[string]*rbacv1.Role // "ns/name"
	crbs         []*rbacv1.ClusterRoleBinding
	rbs          map[string][]*rbacv1.RoleBinding
}

// Bindings returns every binding (of ns): more than apply, which the
// authorizer must sort out.
func (r roles) Bindings(_ auth.User, ns string) ([]*rbacv1.ClusterRoleBinding, []*rbacv1.RoleBinding) {
	return r.crbs, r.rbs[ns]
}
func (r roles) ClusterRole(name string) *rbacv1.ClusterRole { return r.clusterRoles[name] }
func (r roles) Role(ns, name string) *rbacv1.Role           { return r.roles[ns+"/"+name] }

// indexed is roles with its bindings found through an rbac.Index.
type indexed struct {
	roles
	ix *rbac.Index
}

func newIndexed(r roles) indexed {
	ix := rbac.NewIndex()
	ix.ReplaceClusterRoleBindings(r.crbs)
	var rbs []*rbacv1.RoleBinding
	for _, l := range r.rbs {
		rbs = append(rbs, l...)
	}
	ix.ReplaceRoleBindings(rbs)
	return indexed{r, ix}
}

func (i indexed) Bindings(u auth.User, ns string) ([]*rbacv1.ClusterRoleBinding, []*rbacv1.RoleBinding) {
	return i.ix.Bindings(u, ns)
}

func meta(ns, name string) *metav1.ObjectMeta { return &metav1.ObjectMeta{Namespace: ns, Name: name} }

func rule(verbs, groups, resources, names []string) *rbacv1.PolicyRule {
	return &rbacv1.PolicyRule{Verbs: verbs, ApiGroups: groups, Resources: resources, ResourceNames: names}
}

func ref(kind, name string) *rbacv1.RoleRef {
	return &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: kind, Name: name}
}

func TestAuthorize(t *testing.T) {
	cluster := roles{
		clusterRoles: map[string]*rbacv1.ClusterRole{
			"cluster-admin": {Metadata: &metav1.ObjectMeta{Name: "cluster-admin"}, Rules: []*rbacv1.PolicyRule{rule([]string{"*"}, []string{"*"}, []string{"*"}, nil)}},
			"view":          {Metadata: &metav1.ObjectMeta{Name: "view"}, Rules: []*rbacv1.PolicyRule{rule([]string{"get", "list", "watch"}, []string{"", "apps"}, []string{"pods", "deployments"}, nil)}},
			"scaler":        {Metadata: &metav1.ObjectMeta{Name: "scaler"}, Rules: []*rbacv1.PolicyRule{rule([]string{"update"}, []string{"apps"}, []string{"*/scale"}, nil)}},
			"monitoring":    {Metadata: &metav1.ObjectMeta{Name: "monitoring"}, Rules: []*rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceUrls: []string{"/metrics", "/healthz/*"}}}},
		},
		roles: map[string]*rbacv1.Role{
			"team/one-secret": {Rules: []*rbacv1.PolicyRule{rule([]string{"get"}, []string{""}, []string{"secrets"}, []string{"db"})}},
			"team/logs":       {Rules: []*rbacv1.PolicyRule{rule([]string{"get"}, []string{""}, []string{"pods/log"}, nil)}},
		},
		crbs: []*rbacv1.ClusterRoleBinding{
			{Metadata: meta("", "admins"), RoleRef: ref("ClusterRole", "cluster-admin"), Subjects: []*rbacv1.Subject{{Kind: "Group", Name: "system:masters"}}},
			{Metadata: meta("", "monitoring"), RoleRef: ref("ClusterRole", "monitoring"), Subjects: []*rbacv1.Subject{{Kind: "Group", Name: "system:monitoring"}}},
			{Metadata: meta("", "autoscaler"), RoleRef: ref("ClusterRole", "scaler"), Subjects: []*rbacv1.Subject{{Kind: "ServiceAccount", Name: "autoscaler", Namespace: "kube-system"}}},
			// A binding to a role that does not exist grants nothing.
			{Metadata: meta("", "eve"), RoleRef: ref("ClusterRole", "missing"), Subjects: []*rbacv1.Subject{{Kind: "User", Name: "eve"}}},
		},
		rbs: map[string][]*rbacv1.RoleBinding{
			"team": {
				{Metadata: meta("team", "alice-views"), RoleRef: ref("ClusterRole", "view"), Subjects: []*rbacv1.Subject{{Kind: "User", Name: "alice"}}},
				{Metadata: meta("team", "app-reads-db"), RoleRef: ref("Role", "one-secret"), Subjects: []*rbacv1.Subject{{Kind: "ServiceAccount", Name: "app"}}},
				{Metadata: meta("team", "devs-read-logs"), RoleRef: ref("Role", "logs"), Subjects: []*rbacv1.Subject{{Kind: "Group", Name: "devs"}}},
			},
		},
	}
	user := func(name string, groups ...string) auth.User { return auth.User{Name: name, Groups: groups} }
	for _, c := range []struct {
		name  string
		at    auth.Attributes
		allow bool
	}{
		{"a master does anything", auth.Attributes{User: user("root", "system:masters"), Verb: "delete", Resource: "nodes", Name: "n1"}, true},
		{"view in its namespace", auth.Attributes{User: user("alice"), Verb: "list", Resource: "pods", Namespace: "team"}, true},
		{"view through another group", auth.Attributes{User: user("alice"), Verb: "get", Resource: "deployments", APIGroup: "apps", Namespace: "team", Name: "web"}, true},
		{"view does not write", auth.Attributes{User: user("alice"), Verb: "delete", Resource: "pods", Namespace: "team", Name: "p"}, false},
		{"a RoleBinding stops at its namespace", auth.Attributes{User: user("alice"), Verb: "list", Resource: "pods", Namespace: "other"}, false},
		{"a RoleBinding grants nothing cluster-wide", auth.Attributes{User: user("alice"), Verb: "list", Resource: "pods"}, false},
		{"wrong API group", auth.Attributes{User: user("alice"), Verb: "list", Resource: "deployments", APIGroup: "extensions", Namespace: "team"}, false},
		{"a subresource needs its own rule", auth.Attributes{User: user("alice"), Verb: "get", Resource: "pods/log", Namespace: "team", Name: "p"}, false},
		{"a subresource rule", auth.Attributes{User: user("bob", "devs"), Verb: "get", Resource: "pods/log", Namespace: "team", Name: "p"}, true},
		{"a */subresource rule", auth.Attributes{User: user("system:serviceaccount:kube-system:autoscaler"), Verb: "update", Resource: "deployments/scale", APIGroup: "apps", Namespace: "team", Name: "web"}, true},
		{"a */subresource rule is not the resource", auth.Attributes{User: user("system:serviceaccount:kube-system:autoscaler"), Verb: "update", Resource: "deployments", APIGroup: "apps", Namespace: "team", Name: "web"}, false},
		{"service account of the binding's namespace, named object", auth.Attributes{User: user("system:serviceaccount:team:app"), Verb: "get", Resource: "secrets", Namespace: "team", Name: "db"}, true},
		{"resourceNames limit the objects", auth.Attributes{User: user("system:serviceaccount:team:app"), Verb: "get", Resource: "secrets", Namespace: "team", Name: "other"}, false},
		{"resourceNames do not cover a list", auth.Attributes{User: user("system:serviceaccount:team:app"), Verb: "list", Resource: "secrets", Namespace: "team"}, false},
		{"a same-named service account elsewhere", auth.Attributes{User: user("system:serviceaccount:other:app"), Verb: "get", Resource: "secrets", Namespace: "team", Name: "db"}, false},
		{"a binding to a missing role", auth.Attributes{User: user("eve"), Verb: "get", Resource: "pods", Namespace: "team", Name: "p"}, false},
		{"a non-resource URL", auth.Attributes{User: user("prom", "system:monitoring"), Verb: "get", Path: "/metrics"}, true},
		{"a non-resource URL under a trailing *", auth.Attributes{User: user("prom", "system:monitoring"), Verb: "get", Path: "/healthz/etcd"}, true},
		{"a trailing * is a prefix, not the path without its slash", auth.Attributes{User: user("prom", "system:monitoring"), Verb: "get", Path: "/healthzx"}, false},
		{"a non-resource URL with another verb", auth.Attributes{User: user("prom", "system:monitoring"), Verb: "post", Path: "/metrics"}, false},
		{"a non-resource URL not granted", auth.Attributes{User: user("prom", "system:monitoring"), Verb: "get", Path: "/debug/pprof/"}, false},
		{"a resource rule grants no URL", auth.Attributes{User: user("alice"), Verb: "get", Path: "/metrics"}, false},
		{"a URL rule grants no resource", auth.Attributes{User: user("prom", "system:monitoring"), Verb: "get", Resource: "metrics"}, false},
		{"nobody", auth.Attributes{User: user("mallory", "system:authenticated"), Verb: "get", Resource: "secrets", Namespace: "team", Name: "db"}, false},
	} {
		for _, r := range []rbac.Roles{cluster, newIndexed(cluster)} {
			got, _, err := rbac.Authorizer{Roles: r}.Authorize(context.Background(), c.at)
			if err != nil || got != c.allow {
				t.Errorf("%s (%T): allowed %v (%v), want %v", c.name, r, got, err, c.allow)
			}
		}
	}
}

func TestUncovered(t *testing.T) {
	owned := []*rbacv1.PolicyRule{
		rule([]string{"get", "list"}, []string{""}, []string{"pods", "*/log"}, nil),
		rule([]string{"get"}, []string{""}, []string{"secrets"}, []string{"db"}),
		{Verbs: []string{"get"}, NonResourceUrls: []string{"/healthz/*"}},
	}
	for _, c := range []struct {
		name      string
		requested *rbacv1.PolicyRule
		missing   int
	}{
		{"held", rule([]string{"list"}, []string{""}, []string{"pods"}, nil), 0},
		{"a subresource through */log", rule([]string{"get"}, []string{""}, []string{"pods/log"}, nil), 0},
		{"one named secret", rule([]string{"get"}, []string{""}, []string{"secrets"}, []string{"db"}), 0},
		{"every secret", rule([]string{"get"}, []string{""}, []string{"secrets"}, nil), 1},
		{"another verb and group", rule([]string{"delete"}, []string{"", "apps"}, []string{"pods"}, nil), 2},
		{"a wildcard needs a wildcard", rule([]string{"*"}, []string{""}, []string{"pods"}, nil), 1},
		{"a URL under a prefix", &rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceUrls: []string{"/healthz/etcd"}}, 0},
		{"another URL", &rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceUrls: []string{"/metrics"}}, 1},
	} {
		if got := rbac.Uncovered(owned, []*rbacv1.PolicyRule{c.requested}); len(got) != c.missing {
			t.Errorf("%s: uncovered %v, want %d", c.name, got, c.missing)
		}
	}
}

// TestIndexKeepsUp: the index follows binding creates, updates (subjects
// changed) and deletes, and returns exactly the bindings naming a caller.
func TestIndexKeepsUp(t *testing.T) {
	ix := rbac.NewIndex()
	names := func(u auth.User, ns string) string {
		crbs, rbs := ix.Bindings(u, ns)
		var out []string
		for _, b := range crbs {
			out = append(out, b.GetMetadata().GetName())
		}
		for _, b := range rbs {
			out = append(out, b.GetMetadata().GetNamespace()+"/"+b.GetMetadata().GetName())
		}
		return strings.Join(out, ",")
	}
	alice := auth.User{Name: "alice", Groups: []string{"devs", "system:authenticated"}}
	app := auth.User{Name: "system:serviceaccount:team:app", Groups: []string{"system:serviceaccounts", "system:authenticated"}}
	user := func(n string) *rbacv1.Subject { return &rbacv1.Subject{Kind: "User", Name: n} }
	group := func(n string) *rbacv1.Subject { return &rbacv1.Subject{Kind: "Group", Name: n} }
	sa := func(ns, n string) *rbacv1.Subject {
		return &rbacv1.Subject{Kind: "ServiceAccount", Namespace: ns, Name: n}
	}
	crb := func(name string, s ...*rbacv1.Subject) *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{Metadata: meta("", name), RoleRef: ref("ClusterRole", "view"), Subjects: s}
	}
	rb := func(ns, name string, s ...*rbacv1.Subject) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{Metadata: meta(ns, name), RoleRef: ref("ClusterRole", "view"), Subjects: s}
	}
	ix.ReplaceClusterRoleBindings([]*rbacv1.ClusterRoleBinding{crb("everyone", group("system:authenticated")), crb("bob", user("bob"))})
	// alice by name and by group: listed once.
	ix.ReplaceRoleBindings([]*rbacv1.RoleBinding{rb("team", "alice", user("alice"), group("devs")), rb("other", "devs", group("devs")),
		rb("team", "app", sa("", "app")), rb("team", "app-elsewhere", sa("other", "app"))})
	for _, step := range []struct {
		name   string
		change func()
		u      auth.User
		ns     string
		want   string
	}{
		{"initial, cluster scope", func() {}, alice, "", "everyone"},
		{"initial, in team", func() {}, alice, "team", "everyone,team/alice"},
		{"initial, in other", func() {}, alice, "other", "everyone,other/devs"},
		{"a service account of the binding's namespace", func() {}, app, "team", "everyone,team/app"},
		{"a ClusterRoleBinding created", func() { ix.SetClusterRoleBinding(crb("devs", group("devs"))) }, alice, "", "devs,everyone"},
		{"its subjects changed", func() { ix.SetClusterRoleBinding(crb("devs", group("ops"))) }, alice, "", "everyone"},
		{"a RoleBinding's subjects changed", func() { ix.SetRoleBinding(rb("team", "alice", user("carol"))) }, alice, "team", "everyone"},
		{"a RoleBinding created", func() { ix.SetRoleBinding(rb("team", "alice-2", user("alice"))) }, alice, "team", "everyone,team/alice-2"},
		{"a RoleBinding deleted", func() { ix.DeleteRoleBinding("team", "alice-2") }, alice, "team", "everyone"},
		{"a ClusterRoleBinding deleted", func() { ix.DeleteClusterRoleBinding("everyone") }, alice, "other", "other/devs"},
		{"deleting what is not there", func() { ix.DeleteClusterRoleBinding("nope"); ix.DeleteRoleBinding("team", "nope") }, app, "team", "team/app"},
		{"replaced", func() { ix.ReplaceRoleBindings(nil) }, app, "team", ""},
	} {
		step.change()
		if got := names(step.u, step.ns); got != step.want {
			t.Errorf("%s: bindings of %s in %q = %q, want %q", step.name, step.u.Name, step.ns, got, step.want)
		}
	}
}
