package apiserver_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	k8serrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// TestClientGo is a client-go program against an apiserver authorizing
// with Node,RBAC, configured from the kubeconfig Keel writes: a shared
// informer factory syncs the pods and sees them added, updated and
// deleted; the typed clientset (which sends Kubernetes' protobuf for
// built-in kinds) creates, updates, deletes, and lists with a label
// selector page by page (limit/continue); server-side apply through the
// typed Apply with field managers, a conflict and force; the dynamic
// client gets and lists; discovery lists every group and resource.
func TestClientGo(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	s.FailOnForbidden()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig(pki.AdminName))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A shared informer of the pods of default.
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("default"))
	defer factory.Shutdown()
	defer cancel() // runs first: stops the informers before Shutdown waits for them
	pods := factory.Core().V1().Pods()
	seen := make(chan string, 100)
	name := func(o any) string {
		if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		return o.(*corev1.Pod).Name
	}
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { seen <- "add " + name(o) },
		UpdateFunc: func(_, o any) { seen <- "update " + name(o) + " tier=" + o.(*corev1.Pod).Labels["tier"] },
		DeleteFunc: func(o any) { seen <- "delete " + name(o) },
	}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("the informer of %v did not sync", typ)
		}
	}
	expect := func(want string) {
		t.Helper()
		for {
			select {
			case got := <-seen:
				if got == want {
					return
				}
				if !strings.HasPrefix(got, "update ") { // status updates may come between
					t.Fatalf("the informer saw %q, want %q", got, want)
				}
			case <-ctx.Done():
				t.Fatalf("the informer did not see %q", want)
			}
		}
	}

	// The typed clientset: five pods created (protobuf bodies), seen by
	// the informer.
	podsAPI := cs.CoreV1().Pods("default")
	for i := range 5 {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Labels: map[string]string{"app": "cg"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.keel.test/busybox:1.35"}}},
		}
		got, err := podsAPI.Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating pod %s: %v", p.Name, err)
		}
		if got.UID == "" || got.Spec.RestartPolicy != corev1.RestartPolicyAlways || got.Spec.Containers[0].Image != p.Spec.Containers[0].Image {
			t.Errorf("created pod %s as %+v", p.Name, got)
		}
		expect("add " + p.Name)
	}
	// Updated: read, changed, written back with its resourceVersion; a
	// stale resourceVersion is a Conflict.
	p0, err := podsAPI.Get(ctx, "p0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stale := p0.DeepCopy()
	p0.Labels["tier"] = "web"
	if p0, err = podsAPI.Update(ctx, p0, metav1.UpdateOptions{}); err != nil || p0.Labels["tier"] != "web" {
		t.Fatalf("updating pod p0: %v %v", err, p0.GetLabels())
	}
	expect("update p0 tier=web")
	stale.Labels["tier"] = "db"
	if _, err := podsAPI.Update(ctx, stale, metav1.UpdateOptions{}); !k8serrors.IsConflict(err) {
		t.Errorf("an update with a stale resourceVersion: %v, want a Conflict", err)
	}
	testutil.Eventually(t, 30*time.Second, "the lister showing p0's label", func() error {
		p, err := pods.Lister().Pods("default").Get("p0")
		if err != nil || p.Labels["tier"] != "web" {
			return fmt.Errorf("lister: %v %v", err, p)
		}
		return nil
	})

	// Listed with a label selector, two at a time: three pages.
	var names []string
	pages := 0
	opts := metav1.ListOptions{LabelSelector: "app=cg", Limit: 2}
	for pages < 5 {
		l, err := podsAPI.List(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range l.Items {
			names = append(names, p.Name)
		}
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	if !slices.Equal(names, []string{"p0", "p1", "p2", "p3", "p4"}) || pages != 3 {
		t.Errorf("paged list: %v in %d pages; want p0…p4 in 3 pages", names, pages)
	}
	if l, err := podsAPI.List(ctx, metav1.ListOptions{LabelSelector: "app=cg,tier=web"}); err != nil || len(l.Items) != 1 || l.Items[0].Name != "p0" {
		t.Errorf("list app=cg,tier=web: %v %v", err, l)
	}
	// Deleted (DeleteOptions in the body, as protobuf).
	background := metav1.DeletePropagationBackground
	if err := podsAPI.Delete(ctx, "p1", metav1.DeleteOptions{PropagationPolicy: &background}); err != nil {
		t.Fatal(err)
	}
	expect("delete p1")
	if _, err := podsAPI.Get(ctx, "p1", metav1.GetOptions{}); !k8serrors.IsNotFound(err) {
		t.Errorf("get after delete: %v, want NotFound", err)
	}

	// Server-side apply through the typed Apply.
	cms := cs.CoreV1().ConfigMaps("default")
	cm, err := cms.Apply(ctx, corev1ac.ConfigMap("cfg", "default").WithData(map[string]string{"a": "1", "b": "2"}), metav1.ApplyOptions{FieldManager: "alpha"})
	if err != nil || cm.Data["a"] != "1" || cm.Data["b"] != "2" {
		t.Fatalf("the first apply: %v %v", err, cm)
	}
	beta := corev1ac.ConfigMap("cfg", "default").WithData(map[string]string{"a": "9"})
	_, err = cms.Apply(ctx, beta, metav1.ApplyOptions{FieldManager: "beta"})
	if !k8serrors.IsConflict(err) || !strings.Contains(err.Error(), `conflict with "alpha"`) || !strings.Contains(err.Error(), ".data.a") {
		t.Errorf("a second manager's apply of data.a: %v, want a conflict with alpha", err)
	}
	if cm, err = cms.Apply(ctx, beta, metav1.ApplyOptions{FieldManager: "beta", Force: true}); err != nil || cm.Data["a"] != "9" || cm.Data["b"] != "2" {
		t.Fatalf("the forced apply: %v %v", err, cm)
	}
	// alpha, applying c instead of b, drops b (it alone owned it); a
	// stays beta's.
	if cm, err = cms.Apply(ctx, corev1ac.ConfigMap("cfg", "default").WithData(map[string]string{"c": "3"}), metav1.ApplyOptions{FieldManager: "alpha"}); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"a": "9", "c": "3"}; fmt.Sprint(cm.Data) != fmt.Sprint(want) {
		t.Errorf("data after alpha's apply without b: %v, want %v", cm.Data, want)
	}
	var managers []string
	for _, mf := range cm.ManagedFields {
		managers = append(managers, mf.Manager+"/"+string(mf.Operation))
	}
	if slices.Sort(managers); !slices.Equal(managers, []string{"alpha/Apply", "beta/Apply"}) {
		t.Errorf("managedFields' managers: %v", managers)
	}
	ac, err := corev1ac.ExtractConfigMap(cm, "beta")
	if err != nil || fmt.Sprint(ac.Data) != "map[a:9]" {
		t.Errorf("beta's fields as extracted from managedFields: %v %v", err, ac)
	}

	// The dynamic client.
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("default").Get(ctx, "cfg", metav1.GetOptions{})
	if a, _, _ := unstructured.NestedString(u.UnstructuredContent(), "data", "a"); err != nil || a != "9" || u.GetKind() != "ConfigMap" {
		t.Errorf("dynamic get of configmap cfg: %v %v", err, u)
	}
	ul, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace("default").List(ctx, metav1.ListOptions{LabelSelector: "app=cg"})
	if err != nil || len(ul.Items) != 4 || ul.GetResourceVersion() == "" {
		t.Errorf("dynamic list of pods app=cg: %v %v", err, ul)
	}

	// Discovery.
	groups, resources, err := cs.Discovery().ServerGroupsAndResources()
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var groupNames []string
	for _, g := range groups {
		groupNames = append(groupNames, g.Name)
	}
	for _, want := range []string{"", "apps", "batch", "rbac.authorization.k8s.io"} {
		if !slices.Contains(groupNames, want) {
			t.Errorf("discovery lacks group %q: %v", want, groupNames)
		}
	}
	found := map[string]bool{}
	for _, rl := range resources {
		for _, r := range rl.APIResources {
			found[rl.GroupVersion+" "+r.Name+" "+r.Kind+" "+fmt.Sprint(r.Namespaced)] = true
		}
	}
	for _, want := range []string{"apps/v1 deployments Deployment true", "apps/v1 deployments/scale Scale true", "v1 pods Pod true", "v1 nodes Node false", "v1 pods/log Pod true"} {
		if !found[want] {
			t.Errorf("discovery lacks %q", want)
		}
	}
}
