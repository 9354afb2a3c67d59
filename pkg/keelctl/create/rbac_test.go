package create_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
	"keel.dev/keel/pkg/manifest"
)

// TestCreateRBACGenerators: create serviceaccount, role, clusterrole,
// rolebinding and clusterrolebinding make the objects kubectl's do, and
// bad flags write nothing.
func TestCreateRBACGenerators(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	ctx := k.Ctx()
	for _, c := range []struct {
		args []string
		out  string
	}{
		{[]string{"create", "serviceaccount", "builder"}, "serviceaccount/builder created\n"},
		{[]string{"create", "role", "pod-reader", "--verb=get,list", "--resource=pods,pods/log,deployments.apps", "--resource-name=web"}, "role.rbac.authorization.k8s.io/pod-reader created\n"},
		{[]string{"create", "clusterrole", "health", "--verb=get", "--non-resource-url=/healthz,/readyz"}, "clusterrole.rbac.authorization.k8s.io/health created\n"},
		{[]string{"create", "clusterrole", "monitoring", "--aggregation-rule=rbac.example.com/aggregate-to-monitoring=true"}, "clusterrole.rbac.authorization.k8s.io/monitoring created\n"},
		{[]string{"create", "rolebinding", "read-pods", "--role=pod-reader", "--user=jane", "--group=devs", "--serviceaccount=default:builder"}, "rolebinding.rbac.authorization.k8s.io/read-pods created\n"},
		{[]string{"create", "clusterrolebinding", "health", "--clusterrole=health", "--group=system:authenticated"}, "clusterrolebinding.rbac.authorization.k8s.io/health created\n"},
	} {
		if out := k.Run(c.args...).OK(t); out != c.out {
			t.Errorf("%v: %q, want %q", c.args, out, c.out)
		}
	}
	if _, err := client.For[*corev1.ServiceAccount](k.C, "default").Get(ctx, "builder"); err != nil {
		t.Errorf("service account: %v", err)
	}
	role, err := client.For[*rbacv1.Role](k.C, "default").Get(ctx, "pod-reader")
	if err != nil {
		t.Fatal(err)
	}
	compact := func(obj proto.Message) string {
		b, err := manifest.MarshalJSON(obj)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := json.Compact(&out, b); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	got := compact(role)
	for _, want := range []string{`"apiGroups":[""],"resourceNames":["web"],"resources":["pods","pods/log"],"verbs":["get","list"]`,
		`"apiGroups":["apps"],"resourceNames":["web"],"resources":["deployments"],"verbs":["get","list"]`} {
		if !strings.Contains(got, want) {
			t.Errorf("role rules %s lack %s", got, want)
		}
	}
	b, err := client.For[*rbacv1.RoleBinding](k.C, "default").Get(ctx, "read-pods")
	if err != nil {
		t.Fatal(err)
	}
	got = compact(b)
	for _, want := range []string{`"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"pod-reader"}`,
		`{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"jane"}`, `{"kind":"ServiceAccount","name":"builder","namespace":"default"}`} {
		if !strings.Contains(got, want) {
			t.Errorf("role binding %s lacks %s", got, want)
		}
	}
	cr, err := client.For[*rbacv1.ClusterRole](k.C, "").Get(ctx, "monitoring")
	if err != nil || cr.GetAggregationRule().GetClusterRoleSelectors()[0].GetMatchLabels()["rbac.example.com/aggregate-to-monitoring"] != "true" {
		t.Errorf("aggregated cluster role: %v, %v", cr, err)
	}
	// get shows them with kubectl's columns.
	if out := k.Run("get", "rolebindings", "-o", "wide").OK(t); !keelctltest.HasLine(out, "read-pods") || !strings.Contains(out, "Role/pod-reader") || !strings.Contains(out, "default/builder") {
		t.Errorf("get rolebindings -o wide:\n%s", out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "role", "r", "--resource=pods"}, "at least one verb must be specified"},
		{[]string{"create", "role", "r", "--verb=get"}, "at least one resource must be specified"},
		{[]string{"create", "role", "r", "--verb=fly", "--resource=pods"}, "invalid verb: 'fly'"},
		{[]string{"create", "role", "r", "--verb=get", "--resource=widgets"}, `the server doesn't have a resource type "widgets"`},
		{[]string{"create", "role", "r", "--verb=get", "--resource=pods.apps"}, `the server doesn't have a resource type "pods.apps"`},
		{[]string{"create", "clusterrole", "c", "--verb=get", "--non-resource-url=healthz"}, `--non-resource-url "healthz"`},
		{[]string{"create", "clusterrole", "c", "--aggregation-rule=a=b", "--verb=get"}, "--aggregation-rule can't be combined"},
		{[]string{"create", "rolebinding", "b", "--user=u"}, "exactly one of clusterrole or role must be specified"},
		{[]string{"create", "rolebinding", "b", "--role=r", "--clusterrole=c"}, "exactly one of clusterrole or role must be specified"},
		{[]string{"create", "rolebinding", "b", "--role=r", "--serviceaccount=builder"}, "serviceaccount must be <namespace>:<name>"},
		{[]string{"create", "clusterrolebinding", "b", "--user=u"}, "--clusterrole is required"},
		{[]string{"create", "serviceaccount"}, "exactly one NAME is required, got 0"},
	} {
		k.Run(c.args...).Fails(t, c.want)
	}
	if l, err := client.For[*rbacv1.Role](k.C, "default").List(ctx, client.ListOptions{}); err != nil || len(l.Items) != 1 {
		t.Errorf("roles after refused creates: %v, %v", l, err)
	}
}
