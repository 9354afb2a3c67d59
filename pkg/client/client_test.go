package client_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/wait"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/internal/clienttest"
)

func configMap(name string, labels map[string]string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: name, Labels: labels}, Data: data}
}

func pod(name string) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}
}

func TestCRUD(t *testing.T) {
	_, a := testserver.StartAll(t, nil)
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, 30*time.Second)
	cms := c.ConfigMaps("default")

	in := configMap("web", map[string]string{"app": "web"}, map[string]string{"k": "v"})
	created, err := cms.Create(ctx, in, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if in.GetMetadata().GetNamespace() != "" {
		t.Errorf("Create modified its argument: namespace %q", in.GetMetadata().GetNamespace())
	}
	m := created.GetMetadata()
	if m.GetNamespace() != "default" || m.GetUid() == "" || m.GetResourceVersion() == "" {
		t.Fatalf("created metadata: %v", m)
	}
	if _, err := cms.Create(ctx, in, client.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: %v, want AlreadyExists", err)
	}
	if _, err := cms.Create(ctx, configMap("other", nil, nil), client.CreateOptions{DryRun: true}); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if _, err := cms.Get(ctx, "other"); !apierrors.IsNotFound(err) {
		t.Fatalf("dry-run object stored: %v", err)
	}

	got, err := cms.Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, created) {
		t.Fatalf("Get = %v, want %v", got, created)
	}
	if _, err := cms.Get(ctx, "missing"); !apierrors.IsNotFound(err) {
		t.Fatalf("Get missing: %v, want NotFound", err)
	} else if err.Error() != `configmaps "missing" not found` {
		t.Errorf("message %q", err.Error())
	}

	if _, err := cms.Create(ctx, configMap("db", map[string]string{"app": "db"}, nil), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := cms.List(ctx, client.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].GetMetadata().GetName() != "web" || list.ResourceVersion == "" {
		t.Fatalf("List app=web: %v (rv %q)", list.Items, list.ResourceVersion)
	}
	page, err := cms.List(ctx, client.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Continue == "" {
		t.Fatalf("first page: %d items, continue %q", len(page.Items), page.Continue)
	}
	page2, err := cms.List(ctx, client.ListOptions{Limit: 1, Continue: page.Continue})
	if err != nil {
		t.Fatal(err)
	}
	if len(page2.Items) != 1 || page2.Items[0].GetMetadata().GetName() == page.Items[0].GetMetadata().GetName() {
		t.Fatalf("second page: %v", page2.Items)
	}
	if _, err := cms.List(ctx, client.ListOptions{LabelSelector: "a b c"}); apierrors.ReasonOf(err) != apierrors.ReasonBadRequest {
		t.Fatalf("bad selector: %v", err)
	}

	got.Data["k"] = "v2"
	updated, err := cms.Update(ctx, got, client.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.GetData()["k"] != "v2" || updated.GetMetadata().GetResourceVersion() == got.GetMetadata().GetResourceVersion() {
		t.Fatalf("updated: %v", updated)
	}
	// got still carries the old resourceVersion.
	got.Data["k"] = "v3"
	if _, err := cms.Update(ctx, got, client.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: %v, want Conflict", err)
	}

	// Namespace mismatch is refused before the call.
	other := configMap("x", nil, nil)
	other.Metadata.Namespace = "kube-system"
	if _, err := cms.Create(ctx, other, client.CreateOptions{}); apierrors.ReasonOf(err) != apierrors.ReasonBadRequest {
		t.Fatalf("namespace mismatch: %v", err)
	}

	obj, deleted, err := cms.Delete(ctx, "web", client.DeleteOptions{Preconditions: &client.Preconditions{UID: "wrong"}})
	if !apierrors.IsConflict(err) {
		t.Fatalf("delete with a wrong uid: %v %v %v", obj, deleted, err)
	}
	obj, deleted, err = cms.Delete(ctx, "web", client.DeleteOptions{})
	if err != nil || !deleted || obj.GetMetadata().GetName() != "web" {
		t.Fatalf("delete: %v %v %v", obj, deleted, err)
	}
	if _, _, err := cms.Delete(ctx, "web", client.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestPodsStatusAndBind(t *testing.T) {
	_, a := testserver.StartAll(t, nil)
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, 30*time.Second)
	pods := c.Pods("default")
	p, err := pods.Create(ctx, pod("web"), client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bound, err := pods.Bind(ctx, "web", "node-1", p.GetMetadata().GetUid())
	if err != nil {
		t.Fatal(err)
	}
	if bound.GetSpec().GetNodeName() != "node-1" {
		t.Fatalf("bound to %q", bound.GetSpec().GetNodeName())
	}
	if _, err := pods.Bind(ctx, "web", "node-2", ""); !apierrors.IsConflict(err) {
		t.Fatalf("second bind: %v, want Conflict", err)
	}
	bound.Status.Phase = "Running"
	bound.Spec.NodeName = "ignored" // UpdateStatus changes only status
	st, err := pods.UpdateStatus(ctx, bound, client.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetStatus().GetPhase() != "Running" || st.GetSpec().GetNodeName() != "node-1" {
		t.Fatalf("after UpdateStatus: phase %q node %q", st.GetStatus().GetPhase(), st.GetSpec().GetNodeName())
	}
	byNode, err := c.Pods("").List(ctx, client.ListOptions{FieldSelector: "spec.nodeName=node-1"})
	if err != nil || len(byNode.Items) != 1 {
		t.Fatalf("list by node: %v %v", byNode, err)
	}
	// A bound, running pod is deleted gracefully.
	grace := int64(30)
	obj, deleted, err := pods.Delete(ctx, "web", client.DeleteOptions{GracePeriodSeconds: &grace})
	if err != nil || deleted || obj.GetMetadata().GetDeletionTimestamp() == nil {
		t.Fatalf("graceful delete: %v %v %v", obj, deleted, err)
	}
}

func TestDynamicAndClusterScoped(t *testing.T) {
	_, a := testserver.StartAll(t, nil)
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, 30*time.Second)

	r, err := c.Resource("cm", "default")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind().Kind != "ConfigMap" {
		t.Fatalf("kind %s", r.Kind().Kind)
	}
	if _, err := r.Create(ctx, configMap("dyn", nil, nil), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := r.Get(ctx, "dyn")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := obj.(*corev1.ConfigMap); !ok {
		t.Fatalf("dynamic Get returned %T", obj)
	}
	if _, err := r.Create(ctx, pod("wrong-kind"), client.CreateOptions{}); apierrors.ReasonOf(err) != apierrors.ReasonBadRequest {
		t.Fatalf("pod sent to configmaps: %v", err)
	}
	if _, err := c.Resource("widgets", ""); apierrors.ReasonOf(err) != apierrors.ReasonBadRequest {
		t.Fatalf("unknown resource: %v", err)
	}

	nss, err := c.Namespaces().List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nss.Items) < 4 {
		t.Fatalf("namespaces: %d", len(nss.Items))
	}
	if c.Namespaces().InNamespace("x").Namespace() != "" {
		t.Fatal("cluster-scoped resource kept a namespace")
	}
	if _, err := c.PriorityClasses().Get(ctx, "system-node-critical"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ConfigMaps("").Get(ctx, "dyn"); apierrors.ReasonOf(err) != apierrors.ReasonBadRequest {
		t.Fatalf("Get without a namespace: %v", err)
	}
}

func TestWatch(t *testing.T) {
	_, a := testserver.StartAll(t, nil)
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, 30*time.Second)
	cms := c.ConfigMaps("default")
	first, err := cms.Create(ctx, configMap("a", nil, nil), client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, client.WatchOptions{ResourceVersion: first.GetMetadata().GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	b, err := cms.Create(ctx, configMap("b", nil, nil), client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.Data = map[string]string{"x": "y"}
	if _, err := cms.Update(ctx, b, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cms.Delete(ctx, "a", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		typ  client.EventType
		name string
	}{{client.Added, "b"}, {client.Modified, "b"}, {client.Deleted, "a"}}
	for _, wnt := range want {
		ev, err := w.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type != wnt.typ || ev.Object.GetMetadata().GetName() != wnt.name {
			t.Fatalf("event %s %s, want %s %s", ev.Type, ev.Object.GetMetadata().GetName(), wnt.typ, wnt.name)
		}
	}
	w.Stop()
	if _, err := w.Next(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after Stop: %v", err)
	}

	// From "0": the current state first, then a bookmark when asked.
	w2, err := cms.Watch(ctx, client.WatchOptions{AllowBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	ev, err := w2.Next()
	if err != nil || ev.Type != client.Added || ev.Object.GetMetadata().GetName() != "b" {
		t.Fatalf("initial event: %v %v", ev, err)
	}
	ev, err = w2.Next()
	if err != nil || ev.Type != client.Bookmark || ev.Object.GetMetadata().GetResourceVersion() == "" {
		t.Fatalf("bookmark: %v %v", ev, err)
	}
	if err == io.EOF {
		t.Fatal("unexpected EOF")
	}
}

func TestWatchExpired(t *testing.T) {
	_, a := testserver.StartAll(t, func(cfg *apiserver.Config) { cfg.WatchCacheWindow = 3 })
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, 30*time.Second)
	cms := c.ConfigMaps("default")
	first, err := cms.Create(ctx, configMap("a", nil, nil), client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := cms.Create(ctx, configMap("n"+strconv.Itoa(i), nil, nil), client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := cms.Watch(ctx, client.WatchOptions{ResourceVersion: first.GetMetadata().GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := w.Next(); !apierrors.IsExpired(err) {
		t.Fatalf("watch from an old version: %v, want Expired", err)
	}
}

// TestRetryOnConflict has several writers increment one counter through
// read-modify-write updates; every increment must land exactly once.
func TestRetryOnConflict(t *testing.T) {
	_, a := testserver.StartAll(t, nil)
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, 60*time.Second)
	cms := c.ConfigMaps("default")
	if _, err := cms.Create(ctx, configMap("counter", nil, map[string]string{"n": "0"}), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const writers, each = 5, 10
	backoff := wait.Backoff{Steps: 100, Duration: time.Millisecond, Factor: 1.2, Jitter: 1, Cap: 50 * time.Millisecond}
	var conflicts sync.Map
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				tries := 0
				err := client.RetryOnConflict(backoff, func() error {
					tries++
					cm, err := cms.Get(ctx, "counter")
					if err != nil {
						return err
					}
					n, _ := strconv.Atoi(cm.Data["n"])
					cm.Data["n"] = strconv.Itoa(n + 1)
					_, err = cms.Update(ctx, cm, client.UpdateOptions{})
					return err
				})
				if tries > 1 {
					conflicts.Store(w*each+i, tries)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	cm, err := cms.Get(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["n"] != strconv.Itoa(writers*each) {
		t.Fatalf("counter = %s, want %d", cm.Data["n"], writers*each)
	}
	retried := 0
	conflicts.Range(func(any, any) bool { retried++; return true })
	t.Logf("%d of %d increments retried after a conflict", retried, writers*each)

	// Other errors are returned at once; conflicts until the steps run out.
	calls := 0
	notFound := apierrors.NotFound("configmaps", "x")
	if err := client.RetryOnConflict(client.DefaultRetry, func() error { calls++; return notFound }); err != notFound || calls != 1 {
		t.Fatalf("non-conflict error: %v after %d calls", err, calls)
	}
	calls = 0
	conflict := apierrors.ConflictModified("configmaps", "x")
	if err := client.RetryOnConflict(client.DefaultRetry, func() error { calls++; return conflict }); !apierrors.IsConflict(err) || calls != client.DefaultRetry.Steps {
		t.Fatalf("persistent conflict: %v after %d calls", err, calls)
	}
}

// TestFailover runs two apiservers on one etcd behind one connection and
// stops each in turn: calls keep succeeding on the other.
func TestFailover(t *testing.T) {
	etcd := testserver.StartEtcd(t)
	a := testserver.Start(t, etcd.Endpoint, nil)
	b := testserver.Start(t, etcd.Endpoint, nil)
	c := clienttest.Client(t, a.Addr, b.Addr)
	ctx := clienttest.Context(t, 60*time.Second)
	cms := c.ConfigMaps("default")

	n := 0
	calls := func(phase string, count int) {
		t.Helper()
		for i := 0; i < count; i++ {
			n++
			name := "cm-" + strconv.Itoa(n)
			if _, err := cms.Create(ctx, configMap(name, nil, nil), client.CreateOptions{}); err != nil {
				t.Fatalf("%s: create %d: %v", phase, i, err)
			}
			if _, err := cms.Get(ctx, name); err != nil {
				t.Fatalf("%s: get %d: %v", phase, i, err)
			}
			if _, err := cms.List(ctx, client.ListOptions{}); err != nil {
				t.Fatalf("%s: list %d: %v", phase, i, err)
			}
		}
	}
	calls("both up", 20)

	a.Stop()
	// Idempotent calls are retried on the other server by gRPC; by the
	// time they succeed the dead server has left the rotation.
	if _, err := cms.List(ctx, client.ListOptions{}); err != nil {
		t.Fatalf("first list after stopping a: %v", err)
	}
	calls("a stopped", 20)

	a.Start()
	b.Stop()
	// a reconnects after the client's back-off (at most 5s).
	clienttest.Eventually(t, 20*time.Second, func() bool {
		_, err := cms.List(ctx, client.ListOptions{})
		return err == nil
	}, "no apiserver answered after restarting a and stopping b")
	calls("b stopped, a restarted", 20)
}
