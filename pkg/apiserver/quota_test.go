package apiserver_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/scheme"
)

// developer returns a function creating objects in ns as user "dev",
// whom RBAC lets create and read pods and configmaps there (and nothing
// about quotas or limit ranges).
func developer(t *testing.T, c *client, ns string) func(obj proto.Message) (proto.Message, error) {
	t.Helper()
	mustCreate(c, &rbacv1.Role{Metadata: &metav1.ObjectMeta{Name: "dev", Namespace: ns},
		Rules: []*rbacv1.PolicyRule{{Verbs: []string{"create", "get", "list"}, ApiGroups: []string{""}, Resources: []string{"pods", "configmaps"}}}})
	mustCreate(c, &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: "dev", Namespace: ns},
		RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "dev"},
		Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: "dev"}}})
	dev := auth.WithUser(c.ctx, auth.User{Name: "dev", Groups: []string{auth.GroupAuthenticated}})
	createAs := func(obj proto.Message) (proto.Message, error) {
		req := pack(t, obj)
		k, _ := scheme.ByMessage(obj)
		req.Resource, req.Namespace = k.Resource, ns
		out, err := c.srv.Server.Create(dev, req)
		if err != nil {
			return nil, err
		}
		return unpack[proto.Message](out)
	}
	eventually(t, "dev allowed to list pods", func() bool {
		_, err := c.srv.Server.List(dev, &apiv1.ListRequest{Resource: "pods", Namespace: ns})
		return err == nil
	})
	return createAs
}

func rbacServer(t *testing.T) *client {
	return start(t, func(cfg *apiserver.Config) { cfg.AuthorizationModes = []string{apiserver.ModeNode, apiserver.ModeRBAC} })
}

func wantForbidden(t *testing.T, err error, msg string) {
	t.Helper()
	wantCode(t, apierrors.ToStatus(err), codes.PermissionDenied)
	if !strings.Contains(err.Error(), msg) {
		t.Fatalf("error %q, want %q", err, msg)
	}
}

func quotaUsed(c *client, ns, name, resource string) string {
	return mustGet[*corev1.ResourceQuota](c, ns, name).GetStatus().GetUsed()[resource].GetString_()
}

// TestResourceQuotaAdmission: a quota refuses the create that would pass
// it with Kubernetes' message, charges what it admits, counts objects by
// count/<resource>, and demands limits of every container when it limits
// them.
func TestResourceQuotaAdmission(t *testing.T) {
	t.Parallel()
	c := rbacServer(t)
	ns := mustNamespace(c, "quota")
	createAs := developer(t, c, ns)

	mustCreate(c, fromYAML[*corev1.ResourceQuota](t, `
metadata: {name: q, namespace: quota}
spec: {hard: {pods: "2"}}`))
	// A dry run is admitted but not charged: p1 and p2 still fit.
	dry := pack(t, pod(ns, "dry", nil))
	dry.Resource, dry.DryRun = "pods", true
	if _, err := c.srv.Server.Create(auth.WithUser(c.ctx, auth.User{Name: "dev", Groups: []string{auth.GroupAuthenticated}}), dry); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	for _, name := range []string{"p1", "p2"} {
		if _, err := createAs(pod(ns, name, nil)); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	_, err := createAs(pod(ns, "p3", nil))
	wantForbidden(t, err, `pods "p3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`)
	if got := quotaUsed(c, ns, "q", "pods"); got != "2" {
		t.Errorf("status.used[pods] = %q, want 2", got)
	}
	if _, err := get[*corev1.Pod](c, ns, "p3"); !apierrors.IsNotFound(apierrors.FromStatus(err)) {
		t.Errorf("refused pod stored: %v", err)
	}

	// Object counts, by the count/ name.
	mustCreate(c, fromYAML[*corev1.ResourceQuota](t, `
metadata: {name: objects, namespace: quota}
spec: {hard: {count/configmaps: "1"}}`))
	if _, err := createAs(configMap(ns, "a", nil)); err != nil {
		t.Fatal(err)
	}
	_, err = createAs(configMap(ns, "b", nil))
	wantForbidden(t, err, `configmaps "b" is forbidden: exceeded quota: objects, requested: count/configmaps=1, used: count/configmaps=1, limited: count/configmaps=1`)

	// A quota on limits.cpu demands a cpu limit of every container.
	ns2 := mustNamespace(c, "quota-cpu")
	createAs2 := developer(t, c, ns2)
	mustCreate(c, fromYAML[*corev1.ResourceQuota](t, `
metadata: {name: cpu, namespace: quota-cpu}
spec: {hard: {limits.cpu: "1", requests.cpu: 500m}}`))
	_, err = createAs2(pod(ns2, "nolimit", nil))
	wantForbidden(t, err, `pods "nolimit" is forbidden: failed quota: cpu: must specify limits.cpu for: app; requests.cpu for: app`)
	withCPU := func(name, cpu string) *corev1.Pod {
		p := pod(ns2, name, nil)
		p.Spec.Containers[0].Resources = &corev1.ResourceRequirements{Limits: map[string]*metav1.Quantity{"cpu": {String_: cpu}}}
		return p
	}
	if _, err := createAs2(withCPU("small", "400m")); err != nil {
		t.Fatal(err)
	}
	_, err = createAs2(withCPU("big", "200m"))
	wantForbidden(t, err, `pods "big" is forbidden: exceeded quota: cpu, requested: requests.cpu=200m, used: requests.cpu=400m, limited: requests.cpu=500m`)
}

// TestResourceQuotaUpdates: an update is charged what it adds, as in
// Kubernetes: a Service turned NodePort or LoadBalancer counts its node
// ports and the load balancer, one that would pass the quota is refused
// and changes nothing, and an update adding nothing passes at the limit.
func TestResourceQuotaUpdates(t *testing.T) {
	t.Parallel()
	c := rbacServer(t)
	ns := mustNamespace(c, "quota-svc")
	mustCreate(c, fromYAML[*corev1.ResourceQuota](t, `
metadata: {name: svc, namespace: quota-svc}
spec: {hard: {services.nodeports: "3", services.loadbalancers: "1"}}`))
	a := mustCreate(c, service(ns, "a", "ClusterIP"))
	b := mustCreate(c, service(ns, "b", "ClusterIP"))
	if got := quotaUsed(c, ns, "svc", "services.nodeports"); got != "0" {
		t.Errorf("used nodeports %q after ClusterIP creates, want 0", got)
	}
	a.Spec.Type = "NodePort"
	a = mustUpdate(c, a)
	if got := quotaUsed(c, ns, "svc", "services.nodeports"); got != "2" {
		t.Errorf("used nodeports %q after a turned NodePort, want 2", got)
	}
	b.Spec.Type = "LoadBalancer"
	_, err := update(c, b)
	wantForbidden(t, err, `services "b" is forbidden: exceeded quota: svc, requested: services.nodeports=2, used: services.nodeports=2, limited: services.nodeports=3`)
	if got := mustGet[*corev1.Service](c, ns, "b").GetSpec().GetType(); got != "ClusterIP" {
		t.Errorf("refused update stored: type %s", got)
	}
	a.Spec.Type = "LoadBalancer" // its node ports are charged already
	a = mustUpdate(c, a)
	if got := quotaUsed(c, ns, "svc", "services.loadbalancers"); got != "1" {
		t.Errorf("used loadbalancers %q, want 1", got)
	}
	a.Metadata.Labels = map[string]string{"tier": "web"} // adds nothing
	mustUpdate(c, a)
	if got := quotaUsed(c, ns, "svc", "services.nodeports"); got != "2" {
		t.Errorf("used nodeports %q after a label change, want 2", got)
	}
}

// TestResourceQuotaConcurrentCreates: concurrent creates never pass the
// quota together: exactly hard of them succeed.
func TestResourceQuotaConcurrentCreates(t *testing.T) {
	t.Parallel()
	c := rbacServer(t)
	ns := mustNamespace(c, "race")
	createAs := developer(t, c, ns)
	mustCreate(c, fromYAML[*corev1.ResourceQuota](t, `
metadata: {name: q, namespace: race}
spec: {hard: {pods: "5"}}`))
	const tries = 20
	errs := make([]error, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() { _, errs[i] = createAs(pod(ns, "p"+strings.Repeat("x", i), nil)) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !strings.Contains(err.Error(), "exceeded quota: q"):
			t.Errorf("unexpected error: %v", err)
		}
	}
	pods, _ := mustList[*corev1.Pod](c, &apiv1.ListRequest{Resource: "pods", Namespace: ns})
	if ok != 5 || len(pods) != 5 {
		t.Fatalf("%d creates succeeded, %d pods stored; want 5", ok, len(pods))
	}
	if got := quotaUsed(c, ns, "q", "pods"); got != "5" {
		t.Errorf("status.used[pods] = %q, want 5", got)
	}
}

// TestLimitRangeAdmission: a LimitRange's defaults are stored in a new
// pod's containers, and a container outside its bounds is refused.
func TestLimitRangeAdmission(t *testing.T) {
	t.Parallel()
	c := rbacServer(t)
	ns := mustNamespace(c, "limits")
	createAs := developer(t, c, ns)
	mustCreate(c, fromYAML[*corev1.LimitRange](t, `
metadata: {name: lr, namespace: limits}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 128Mi}
    defaultRequest: {cpu: 100m}
    max: {cpu: "1"}
    min: {cpu: 50m}`))
	if _, err := createAs(pod(ns, "plain", nil)); err != nil {
		t.Fatal(err)
	}
	r := mustGet[*corev1.Pod](c, ns, "plain").GetSpec().GetContainers()[0].GetResources()
	got := map[string]string{"limits.cpu": r.GetLimits()["cpu"].GetString_(), "limits.memory": r.GetLimits()["memory"].GetString_(),
		"requests.cpu": r.GetRequests()["cpu"].GetString_(), "requests.memory": r.GetRequests()["memory"].GetString_()}
	want := map[string]string{"limits.cpu": "500m", "limits.memory": "128Mi", "requests.cpu": "100m", "requests.memory": "128Mi"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("stored pod's %s = %q, want %q (defaults from the LimitRange)", k, got[k], v)
		}
	}
	big := pod(ns, "big", nil)
	big.Spec.Containers[0].Resources = &corev1.ResourceRequirements{Limits: map[string]*metav1.Quantity{"cpu": {String_: "2"}}}
	_, err := createAs(big)
	wantForbidden(t, err, `pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2`)
}

// TestLimitRangeMinAboveMax: a LimitRange whose min passes its max is
// refused with the field path, and nothing is stored.
func TestLimitRangeMinAboveMax(t *testing.T) {
	t.Parallel()
	c := rbacServer(t)
	lr := fromYAML[*corev1.LimitRange](t, `
metadata: {name: bad, namespace: default}
spec:
  limits:
  - type: Container
    min: {cpu: "2"}
    max: {cpu: "1"}`)
	writesNothing(c, "an invalid LimitRange", func() {
		_, err := create(c, lr)
		wantCode(t, err, codes.InvalidArgument)
		// Defaulting (default from max, defaultRequest from min) adds
		// the errors of the defaults, as in Kubernetes.
		if f := fieldsOf(t, err); !slices.Contains(f, "spec.limits[0].min[cpu]") {
			t.Errorf("fields %v, want spec.limits[0].min[cpu] among them", f)
		}
		if !strings.Contains(err.Error(), "min value 2 is greater than max value 1") {
			t.Errorf("error %v", err)
		}
	})
}
