package apiserver_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	kubeletv1 "keel.dev/keel/pkg/apis/kubelet/v1"
	metricsv1beta1 "keel.dev/keel/pkg/apis/metrics/v1beta1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/bootstrappolicy"
	keelclient "keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/controller/clusterroleaggregation"
	kubeletserver "keel.dev/keel/pkg/kubelet/server"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/scheme"
)

// fixedStats is a kubelet's StatsSource that always tells the same.
type fixedStats struct{ sum *kubeletv1.StatsSummary }

func (f fixedStats) Summary(context.Context) *kubeletv1.StatsSummary {
	return proto.Clone(f.sum).(*kubeletv1.StatsSummary)
}

func statsCPU(at time.Time, nanoCores uint64) *kubeletv1.CPUStats {
	return &kubeletv1.CPUStats{Time: timestamppb.New(at), UsageCoreNanoSeconds: 1e12, UsageNanoCores: &nanoCores, Window: durationpb.New(10 * time.Second)}
}

func statsMemory(at time.Time, ws uint64) *kubeletv1.MemoryStats {
	return &kubeletv1.MemoryStats{Time: timestamppb.New(at), WorkingSetBytes: ws, UsageBytes: ws}
}

// startStatsKubelet serves the kubelet API of node (its serving
// certificate from pkiDir) answering Stats with sum, and returns its port.
func startStatsKubelet(t *testing.T, pkiDir, node string, sum *kubeletv1.StatsSummary) int {
	t.Helper()
	serving := pki.KubeletServingName(node)
	stc, err := pki.ServerTLSConfig(pki.CertPath(pkiDir, serving), pki.KeyPath(pkiDir, serving), pki.CertPath(pkiDir, pki.CAName))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- kubeletserver.NewServer(kubeletserver.Config{TLS: stc, Pods: &fakePods{}, Stats: fixedStats{sum}}).Serve(ctx, l)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

// TestMetricsAPI: metrics.k8s.io is discovered, and its NodeMetrics and
// PodMetrics are computed from the kubelets' stats, shaped as
// metrics-server's, through Node,RBAC authorization: a user bound to view
// (which system:aggregated-metrics-reader aggregates into) may read them,
// one without a binding may not; a node whose kubelet does not answer is
// left out, and so are pods without figures yet.
func TestMetricsAPI(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, []string{"node-1", "node-2"}, nil)
	c := newRESTClient(t, s)
	at := time.Now().Add(-2 * time.Second).UTC().Truncate(time.Second)
	port := startStatsKubelet(t, s.PKIDir, "node-1", &kubeletv1.StatsSummary{
		Node: &kubeletv1.NodeStats{NodeName: "node-1", Cpu: statsCPU(at, 250_000_000), Memory: statsMemory(at, 512<<20)},
		Pods: []*kubeletv1.PodStats{
			{Namespace: "team", Name: "web", Containers: []*kubeletv1.ContainerStats{
				{Name: "app", Cpu: statsCPU(at, 1_500_000), Memory: statsMemory(at, 3<<20)},
				{Name: "side", Cpu: statsCPU(at, 0), Memory: statsMemory(at, 1<<20)},
			}},
			// Sampled once only: no rate yet.
			{Namespace: "team", Name: "new", Containers: []*kubeletv1.ContainerStats{
				{Name: "app", Cpu: &kubeletv1.CPUStats{Time: timestamppb.New(at), UsageCoreNanoSeconds: 5}, Memory: statsMemory(at, 1<<20)}}},
		},
	})
	// node-2's kubelet does not answer (nothing listens on its port).
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := dead.Addr().(*net.TCPAddr).Port
	dead.Close()

	for i, n := range []struct {
		name string
		port int
	}{{"node-1", port}, {"node-2", deadPort}} {
		c.want(201, "POST", "/api/v1/nodes", "application/json", fmt.Sprintf(`{"apiVersion":"v1","kind":"Node","metadata":{"name":%q,"labels":{"zone":"z%d"}}}`, n.name, i))
		c.want(200, "PUT", "/api/v1/nodes/"+n.name+"/status", "application/json", fmt.Sprintf(`{"apiVersion":"v1","kind":"Node","metadata":{"name":%q,"labels":{"zone":"z%d"}},
		  "status":{"addresses":[{"type":"InternalIP","address":"127.0.0.1"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":%d}}}}`, n.name, i, n.port))
	}
	c.want(201, "POST", "/api/v1/namespaces", "application/json", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"team"}}`)
	c.want(201, "POST", "/api/v1/namespaces/team/serviceaccounts", "application/json", `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default"}}`)
	for _, p := range []struct{ name, node string }{{"web", "node-1"}, {"new", "node-1"}, {"lost", "node-2"}, {"pending", ""}} {
		c.want(201, "POST", "/api/v1/namespaces/team/pods", "application/json", fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod",
		  "metadata":{"name":%q,"labels":{"app":%q}},
		  "spec":{"nodeName":%q,"containers":[{"name":"app","image":"busybox"},{"name":"side","image":"busybox"}]}}`, p.name, p.name, p.node))
		if p.node != "" {
			obj := c.want(200, "GET", "/api/v1/namespaces/team/pods/"+p.name, "", "")
			obj["status"] = map[string]any{"phase": "Running"}
			c.want(200, "PUT", "/api/v1/namespaces/team/pods/"+p.name+"/status", "application/json", string(mustJSON(t, obj)))
		}
	}

	// Discovery, aggregated too.
	g := c.want(200, "GET", "/apis/metrics.k8s.io/v1beta1", "", "")
	var res []string
	for _, r := range dig(g, "resources").([]any) {
		res = append(res, fmt.Sprintf("%v:%v:%v:%v", dig(r, "name"), dig(r, "kind"), dig(r, "namespaced"), dig(r, "verbs")))
	}
	if want := []string{"nodes:NodeMetrics:false:[get list]", "pods:PodMetrics:true:[get list]"}; !slices.Equal(res, want) {
		t.Errorf("metrics.k8s.io/v1beta1 resources %v, want %v", res, want)
	}
	agg := c.want(200, "GET", "/apis", "", "", "Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
	found := false
	for _, item := range dig(agg, "items").([]any) {
		if dig(item, "metadata", "name") == "metrics.k8s.io" && dig(item, "versions", 0, "version") == "v1beta1" {
			found = true
		}
	}
	if !found {
		t.Errorf("aggregated discovery lacks metrics.k8s.io/v1beta1: %s", mustJSON(t, agg))
	}

	// As system:masters: node-1 only (node-2's kubelet does not answer).
	nodes := c.want(200, "GET", "/apis/metrics.k8s.io/v1beta1/nodes", "", "")
	if dig(nodes, "kind") != "NodeMetricsList" || dig(nodes, "apiVersion") != "metrics.k8s.io/v1beta1" {
		t.Errorf("nodes list: %s", mustJSON(t, nodes))
	}
	items := dig(nodes, "items").([]any)
	if len(items) != 1 {
		t.Fatalf("node metrics %s, want node-1's only", mustJSON(t, nodes))
	}
	n1 := items[0]
	for _, chk := range []struct {
		path []any
		want any
	}{
		{[]any{"metadata", "name"}, "node-1"},
		{[]any{"metadata", "labels", "zone"}, "z0"},
		{[]any{"timestamp"}, at.Format(time.RFC3339)},
		{[]any{"window"}, "10s"},
		{[]any{"usage", "cpu"}, "250m"},
		{[]any{"usage", "memory"}, "512Mi"},
	} {
		if got := dig(n1, chk.path...); got != chk.want {
			t.Errorf("node-1 metrics %v = %v, want %v", chk.path, got, chk.want)
		}
	}
	if dig(n1, "metadata", "creationTimestamp") == nil {
		t.Errorf("node-1 metrics have no creationTimestamp: %s", mustJSON(t, n1))
	}
	one := c.want(200, "GET", "/apis/metrics.k8s.io/v1beta1/nodes/node-1", "", "")
	if dig(one, "kind") != "NodeMetrics" || dig(one, "usage", "cpu") != "250m" {
		t.Errorf("get node-1: %s", mustJSON(t, one))
	}
	c.want(404, "GET", "/apis/metrics.k8s.io/v1beta1/nodes/node-2", "", "")
	if got := dig(c.want(200, "GET", "/apis/metrics.k8s.io/v1beta1/nodes?labelSelector=zone%3Dz1", "", ""), "items"); got != nil && len(got.([]any)) != 0 {
		t.Errorf("nodes with zone=z1: %v, want none", got)
	}

	pods := c.want(200, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/team/pods", "", "")
	items = dig(pods, "items").([]any)
	if dig(pods, "kind") != "PodMetricsList" || len(items) != 1 || dig(items[0], "metadata", "name") != "web" {
		t.Fatalf("pod metrics %s, want web's only", mustJSON(t, pods))
	}
	web := items[0]
	for _, chk := range []struct {
		path []any
		want any
	}{
		{[]any{"metadata", "namespace"}, "team"},
		{[]any{"metadata", "labels", "app"}, "web"},
		{[]any{"containers", 0, "name"}, "app"},
		{[]any{"containers", 0, "usage", "cpu"}, "1500u"},
		{[]any{"containers", 0, "usage", "memory"}, "3Mi"},
		{[]any{"containers", 1, "name"}, "side"},
		{[]any{"containers", 1, "usage", "cpu"}, "0"},
	} {
		if got := dig(web, chk.path...); got != chk.want {
			t.Errorf("web metrics %v = %v, want %v", chk.path, got, chk.want)
		}
	}
	all := c.want(200, "GET", "/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3Dweb", "", "")
	if items := dig(all, "items").([]any); len(items) != 1 {
		t.Errorf("pods with app=web across namespaces: %s", mustJSON(t, all))
	}
	c.want(200, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/team/pods/web", "", "")
	c.want(404, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/team/pods/new", "", "")
	c.want(200, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/team/pods?fieldSelector=metadata.name%3Dweb", "", "")
	c.want(400, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/team/pods?fieldSelector=spec.nodeName%3Dnode-1", "", "")
	// Only get and list.
	c.want(405, "DELETE", "/apis/metrics.k8s.io/v1beta1/namespaces/team/pods/web", "", "")
	c.want(405, "GET", "/apis/metrics.k8s.io/v1beta1/nodes?watch=true", "", "")
	// The core group's pods are still the bare name's.
	if got := dig(c.want(200, "GET", "/api/v1/namespaces/team/pods/web", "", ""), "kind"); got != "Pod" {
		t.Errorf("core pods answer kind %v", got)
	}

	// The same over gRPC, through the client (keelctl top's path), which
	// names the kinds pods.metrics.k8s.io and nodes.metrics.k8s.io.
	cl := s.Client(pki.AdminName)
	pm, err := keelclient.For[*metricsv1beta1.PodMetrics](cl, "team").List(context.Background(), keelclient.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(pm.Items) != 1 || pm.Items[0].GetContainers()[0].GetUsage()["memory"].GetString_() != "3Mi" {
		t.Errorf("client list of PodMetrics: %v %v", pm, err)
	}
	if nm, err := keelclient.For[*metricsv1beta1.NodeMetrics](cl, "").Get(context.Background(), "node-1"); err != nil || nm.GetUsage()["cpu"].GetString_() != "250m" {
		t.Errorf("client get of NodeMetrics node-1: %v %v", nm, err)
	}
	if pods, err := keelclient.For[*corev1.Pod](cl, "team").List(context.Background(), keelclient.ListOptions{}); err != nil || len(pods.Items) != 4 {
		t.Errorf("client list of pods: %d %v", len(pods.Items), err)
	}

	// RBAC: bob has no binding, alice is bound to view in team. view
	// holds system:aggregated-metrics-reader's rules once aggregated (the
	// controller-manager's clusterrole-aggregation controller does it in a
	// cluster; here Decide, the controller's core).
	admin := auth.WithUser(context.Background(), auth.User{Name: "admin", Groups: []string{auth.GroupMasters}})
	resp, err := s.Server.List(admin, &apiv1.ListRequest{Resource: "clusterroles"})
	if err != nil {
		t.Fatal(err)
	}
	var roles []*rbacv1.ClusterRole
	var view *rbacv1.ClusterRole
	for _, a := range resp.GetItems() {
		m, _, err := scheme.Unpack(a)
		if err != nil {
			t.Fatal(err)
		}
		r := m.(*rbacv1.ClusterRole)
		roles = append(roles, r)
		if r.GetMetadata().GetName() == bootstrappolicy.View {
			view = r
		}
	}
	view = clusterroleaggregation.Decide(view, roles)
	obj, err := scheme.Pack(view)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Server.Update(admin, &apiv1.UpdateRequest{Resource: "clusterroles", Object: obj}); err != nil {
		t.Fatal(err)
	}
	c.want(201, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings", "application/json",
		`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"alice-views"},
		  "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},
		  "subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"alice"}]}`)

	c.as = "alice"
	eventually(t, "alice (view) may list the pod metrics of team", func() bool {
		return c.do("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/team/pods", "", "").code == 200
	})
	if items := dig(c.want(200, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/team/pods", "", ""), "items").([]any); len(items) != 1 {
		t.Errorf("alice sees %d pod metrics, want 1", len(items))
	}
	c.want(200, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/team/pods/web", "", "")
	c.want(403, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods", "", "")
	c.want(403, "GET", "/apis/metrics.k8s.io/v1beta1/nodes", "", "") // view is bound in team only
	c.as = "bob"
	st := c.want(403, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/team/pods", "", "")
	if want := `pods.metrics.k8s.io is forbidden: User "bob" cannot list resource "pods" in API group "metrics.k8s.io" in the namespace "team"`; dig(st, "message") != want {
		t.Errorf("bob's refusal: %v, want %q", dig(st, "message"), want)
	}
	c.want(403, "GET", "/apis/metrics.k8s.io/v1beta1/nodes/node-1", "", "")
}
