package apiserver_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/scheme"
)

func mustBind(c *client, ns, name, node string) *corev1.Pod {
	c.t.Helper()
	out, err := c.api.Bind(c.ctx, &apiv1.BindRequest{Namespace: ns, Name: name, NodeName: node})
	if err != nil {
		c.t.Fatalf("bind %s/%s to %s: %v", ns, name, node, err)
	}
	p, err := unpack[*corev1.Pod](out)
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

func setPhase(c *client, ns, name, phase string) *corev1.Pod {
	c.t.Helper()
	p := mustGet[*corev1.Pod](c, ns, name)
	p.Status.Phase = phase
	return mustUpdateStatus(c, p)
}

func deleteNow(c *client, resource, ns, name string) *apiv1.DeleteResponse {
	c.t.Helper()
	zero := int64(0)
	return mustDelete(c, &apiv1.DeleteRequest{Resource: resource, Namespace: ns, Name: name, GracePeriodSeconds: &zero})
}

// currentRV is a List's resourceVersion: a watch from it sees every later
// change.
func currentRV(c *client, resource string) string {
	c.t.Helper()
	resp, err := c.api.List(c.ctx, &apiv1.ListRequest{Resource: resource})
	if err != nil {
		c.t.Fatalf("list %s: %v", resource, err)
	}
	return resp.ResourceVersion
}

func TestWatchFromZeroSendsStateThenChanges(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	ns := mustNamespace(c, "w")
	a := mustCreate(c, configMap(ns, "a", map[string]string{"k": "1"}))
	b := mustCreate(c, configMap(ns, "b", nil))
	mustCreate(c, configMap("default", "elsewhere", nil)) // other namespace: never seen

	for _, rv := range []string{"", "0"} {
		w := watch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: ns, ResourceVersion: rv})
		assertEqual(t, "initial a", a, w.expect("ADDED", "a").Obj)
		assertEqual(t, "initial b", b, w.expect("ADDED", "b").Obj)
		w.cancel()
	}

	w, initial := syncedWatch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: ns})
	if len(initial) != 2 || initial[0].Type != "ADDED" || initial[0].name() != "a" || initial[1].name() != "b" {
		t.Fatalf("initial events %v, want ADDED a, ADDED b", initial)
	}
	c3 := mustCreate(c, configMap(ns, "c", nil))
	assertEqual(t, "live ADDED", c3, w.expect("ADDED", "c").Obj)
	a.Data["k"] = "2"
	a = mustUpdate(c, a)
	assertEqual(t, "MODIFIED", a, w.expect("MODIFIED", "a").Obj)
	mustDelete(c, &apiv1.DeleteRequest{Resource: "configmaps", Namespace: ns, Name: "b"})
	w.expect("DELETED", "b")
}

// TestWatchDeletedEventCarriesDeleteRevision: as in Kubernetes, the object
// of a DELETED event has the deletion's resourceVersion, so a client that
// resumes from the last version it saw does not get the deletion again.
func TestWatchDeletedEventCarriesDeleteRevision(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	cm := mustCreate(c, configMap("default", "gone", nil))
	w := watch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: "default", ResourceVersion: cm.Metadata.ResourceVersion})
	mustCreate(c, configMap("default", "unrelated", nil))
	w.expect("ADDED", "unrelated")
	del := mustDelete(c, &apiv1.DeleteRequest{Resource: "configmaps", Namespace: "default", Name: "gone"})
	delRV := scheme.Meta(mustUnpack(t, del.Object)).GetResourceVersion()
	e := w.expect("DELETED", "gone")
	if got := scheme.Meta(e.Obj).GetResourceVersion(); got != delRV {
		t.Errorf("DELETED event object has resourceVersion %s, want the deletion's %s", got, delRV)
	}
	// Resuming from the DELETED event's version must not replay it.
	w2 := watch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: "default", ResourceVersion: scheme.Meta(e.Obj).GetResourceVersion()})
	mustCreate(c, configMap("default", "marker", nil))
	if e := w2.next(); e.Type != "ADDED" || e.name() != "marker" {
		t.Errorf("resuming after the DELETED event replayed %s %s", e.Type, e.name())
	}
}

func mustUnpack(t testing.TB, a interface {
	GetTypeUrl() string
	GetValue() []byte
}) proto.Message {
	t.Helper()
	m, err := unpack[proto.Message](a)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWatchResumeGetsExactlyLaterEvents(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	ns := mustNamespace(c, "resume")
	a := mustCreate(c, configMap(ns, "a", nil))
	from := a.Metadata.ResourceVersion
	a.Data = map[string]string{"v": "2"}
	a2 := mustUpdate(c, a)
	b := mustCreate(c, configMap(ns, "b", nil))
	mustCreate(c, configMap("default", "other-ns", nil))
	mustDelete(c, &apiv1.DeleteRequest{Resource: "configmaps", Namespace: ns, Name: "a"})

	w := watch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: ns, ResourceVersion: from})
	assertEqual(t, "resumed MODIFIED", a2, w.expect("MODIFIED", "a").Obj)
	assertEqual(t, "resumed ADDED", b, w.expect("ADDED", "b").Obj)
	w.expect("DELETED", "a")
	// Nothing else was replayed: the next event is a new change.
	mustCreate(c, configMap(ns, "marker", nil))
	w.expect("ADDED", "marker")

	// Resuming from the last event's version replays nothing.
	w2 := watch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: ns, ResourceVersion: strconv.FormatInt(rvOf(b), 10)})
	w2.expect("DELETED", "a")
	w2.expect("ADDED", "marker")
}

func TestWatchLabelSelectorTransitions(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	ns := mustNamespace(c, "labels")
	w := watch[*corev1.Pod](c, &apiv1.WatchRequest{Namespace: ns, LabelSelector: "app=web", ResourceVersion: currentRV(c, "pods")})

	mustCreate(c, pod(ns, "p1", map[string]string{"app": "web"}))
	w.expect("ADDED", "p1")
	mustCreate(c, pod(ns, "p2", map[string]string{"app": "db"})) // not selected
	p2 := mustGet[*corev1.Pod](c, ns, "p2")
	p2.Metadata.Labels["app"] = "web"
	mustUpdate(c, p2)
	w.expect("ADDED", "p2") // entered the selection
	p1 := mustGet[*corev1.Pod](c, ns, "p1")
	p1.Metadata.Labels["app"] = "db"
	mustUpdate(c, p1)
	if e := w.expect("DELETED", "p1"); scheme.Meta(e.Obj).GetLabels()["app"] != "db" {
		t.Fatalf("DELETED for leaving the selection carries %v, want the new labels", scheme.Meta(e.Obj).GetLabels())
	}
	p1 = mustGet[*corev1.Pod](c, ns, "p1")
	p1.Metadata.Labels["tier"] = "x" // still not selected
	mustUpdate(c, p1)
	p2 = mustGet[*corev1.Pod](c, ns, "p2")
	p2.Metadata.Labels["tier"] = "y"
	mustUpdate(c, p2)
	w.expect("MODIFIED", "p2")
	deleteNow(c, "pods", ns, "p2")
	w.expect("DELETED", "p2")
}

func TestWatchFieldSelectors(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	ns := mustNamespace(c, "fields")
	rv := currentRV(c, "pods")
	onNode1 := watch[*corev1.Pod](c, &apiv1.WatchRequest{Namespace: ns, FieldSelector: "spec.nodeName=node-1", ResourceVersion: rv})
	unbound := watch[*corev1.Pod](c, &apiv1.WatchRequest{Namespace: ns, FieldSelector: "spec.nodeName=", ResourceVersion: rv})
	running := watch[*corev1.Pod](c, &apiv1.WatchRequest{Namespace: ns, FieldSelector: "status.phase=Running", ResourceVersion: rv})
	byName := watch[*corev1.Pod](c, &apiv1.WatchRequest{Namespace: ns, FieldSelector: "metadata.name=f2", ResourceVersion: rv})

	mustCreate(c, pod(ns, "f1", nil))
	unbound.expect("ADDED", "f1")
	mustBind(c, ns, "f1", "node-1")
	if e := onNode1.expect("ADDED", "f1"); e.Obj.(*corev1.Pod).Spec.NodeName != "node-1" {
		t.Fatalf("ADDED without nodeName")
	}
	unbound.expect("DELETED", "f1") // left the selection when bound

	mustCreate(c, pod(ns, "f2", nil))
	unbound.expect("ADDED", "f2")
	byName.expect("ADDED", "f2")
	mustBind(c, ns, "f2", "node-2") // not node-1
	unbound.expect("DELETED", "f2")
	byName.expect("MODIFIED", "f2")

	setPhase(c, ns, "f1", "Running")
	running.expect("ADDED", "f1")
	onNode1.expect("MODIFIED", "f1")
	setPhase(c, ns, "f2", "Running")
	running.expect("ADDED", "f2")
	byName.expect("MODIFIED", "f2")
	setPhase(c, ns, "f1", "Succeeded")
	running.expect("DELETED", "f1") // left status.phase=Running
	onNode1.expect("MODIFIED", "f1")

	deleteNow(c, "pods", ns, "f2")
	running.expect("DELETED", "f2")
	byName.expect("DELETED", "f2")
	deleteNow(c, "pods", ns, "f1")
	onNode1.expect("DELETED", "f1")
	// Markers: each watch's next event is this one, so none saw anything else.
	mustCreate(c, pod(ns, "f2", nil))
	unbound.expect("ADDED", "f2")
	byName.expect("ADDED", "f2")
	mustBind(c, ns, "f2", "node-1")
	onNode1.expect("ADDED", "f2")
	setPhase(c, ns, "f2", "Running")
	running.expect("ADDED", "f2")
}

func TestWatchExpiredAndRelist(t *testing.T) {
	t.Parallel()
	c := start(t, func(cfg *apiserver.Config) { cfg.WatchCacheWindow = 5 })
	ns := mustNamespace(c, "expiry")
	var created []*corev1.ConfigMap
	for i := 0; i < 12; i++ {
		created = append(created, mustCreate(c, configMap(ns, fmt.Sprintf("cm-%02d", i), nil)))
	}

	// The first versions are out of the 5-event window.
	w := watch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: ns, ResourceVersion: created[0].Metadata.ResourceVersion})
	err := w.end()
	wantCode(t, err, codes.OutOfRange)
	if !apierrors.IsExpired(err) {
		t.Fatalf("not Expired: %v", err)
	}
	// A version inside the window still resumes.
	w = watch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: ns, ResourceVersion: created[9].Metadata.ResourceVersion})
	w.expect("ADDED", "cm-10")
	w.expect("ADDED", "cm-11")

	// Relist and watch from the list's version: nothing missed, nothing twice.
	items, rv := mustList[*corev1.ConfigMap](c, &apiv1.ListRequest{Namespace: ns})
	if len(items) != len(created) {
		t.Fatalf("relist: %d items, want %d", len(items), len(created))
	}
	for i := range items {
		assertEqual(t, "relisted", created[i], items[i])
	}
	w = watch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: ns, ResourceVersion: rv})
	mustCreate(c, configMap(ns, "after-relist", nil))
	w.expect("ADDED", "after-relist")
}

func TestWatchBookmarks(t *testing.T) {
	t.Parallel()
	c := start(t, func(cfg *apiserver.Config) { cfg.BookmarkInterval = 100 * time.Millisecond })
	ns := mustNamespace(c, "bm")
	base := mustCreate(c, configMap(ns, "base", nil))
	from := base.Metadata.ResourceVersion

	with := watch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: ns, ResourceVersion: from, AllowBookmarks: true})
	with.keepBookmarks = true
	without := watch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: ns, ResourceVersion: from})
	without.keepBookmarks = true

	last := rvOf(base)
	for i := 0; i < 3; i++ {
		e := with.next()
		if e.Type != "BOOKMARK" {
			t.Fatalf("got %s %s, want BOOKMARK", e.Type, e.name())
		}
		if e.name() != "" || e.rv() < last {
			t.Fatalf("bookmark %d: name %q rv %d, want no name and rv >= %d", i, e.name(), e.rv(), last)
		}
		last = e.rv()
	}
	// After a change, a bookmark carries at least its version.
	cm := mustCreate(c, configMap(ns, "later", nil))
	// Bookmarks sent before the change are of older versions.
	for {
		e := with.next()
		if e.Type == "BOOKMARK" && e.rv() < rvOf(cm) {
			continue
		}
		if e.Type != "ADDED" || e.name() != "later" {
			t.Fatalf("got %s %s (rv %d), want ADDED later", e.Type, e.name(), e.rv())
		}
		break
	}
	for {
		e := with.next()
		if e.Type == "BOOKMARK" && e.rv() >= rvOf(cm) {
			break
		}
		if e.Type != "BOOKMARK" {
			t.Fatalf("unexpected %s %s", e.Type, e.name())
		}
	}
	// The watch that did not ask for bookmarks got none in all that time.
	without.expect("ADDED", "later")
}

// TestSlowWatcherEvicted: a watcher that stops reading is closed with
// ResourceExhausted once its buffer overflows, while a reading watcher gets
// every event; the slow one resumes from its last version.
func TestSlowWatcherEvicted(t *testing.T) {
	t.Parallel()
	c := start(t, func(cfg *apiserver.Config) { cfg.WatcherBuffer = 8 })
	ns := mustNamespace(c, "slow")
	rv := currentRV(c, "configmaps")

	// The slow watcher's connection has fixed 64 KiB HTTP/2 windows (no BDP
	// growth), so a stream nobody reads blocks the server's Send quickly.
	conn, err := grpc.NewClient(c.srv.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	slow, err := apiv1.NewAPIClient(conn).Watch(c.ctx, &apiv1.WatchRequest{Resource: "configmaps", Namespace: ns, ResourceVersion: rv})
	if err != nil {
		t.Fatal(err)
	}
	fast := watch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: ns, ResourceVersion: rv})

	const n = 60
	big := strings.Repeat("x", 50<<10)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("big-%02d", i)
		mustCreate(c, configMap(ns, name, map[string]string{"data": big}))
		fast.expect("ADDED", name)
	}

	// Drain the slow one: a prefix of the events, then ResourceExhausted.
	got := 0
	var lastRV string
	for {
		ev, err := slow.Recv()
		if err != nil {
			if status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("slow watcher ended with %v after %d events, want ResourceExhausted", err, got)
			}
			break
		}
		obj := mustUnpack(t, ev.Object)
		if want := fmt.Sprintf("big-%02d", got); ev.Type != "ADDED" || scheme.Meta(obj).GetName() != want {
			t.Fatalf("slow watcher event %d: %s %s, want ADDED %s", got, ev.Type, scheme.Meta(obj).GetName(), want)
		}
		lastRV = scheme.Meta(obj).GetResourceVersion()
		got++
	}
	if got >= n {
		t.Fatalf("slow watcher received all %d events; it was never evicted", n)
	}
	t.Logf("slow watcher evicted after %d of %d events", got, n)

	// It resumes from the last version it saw and gets exactly the rest.
	if lastRV == "" {
		lastRV = rv
	}
	w := watch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: ns, ResourceVersion: lastRV})
	for i := got; i < n; i++ {
		w.expect("ADDED", fmt.Sprintf("big-%02d", i))
	}
}

// TestWatchFromFutureVersionTimesOut: a resourceVersion no apiserver has
// reached is refused after a short wait instead of hanging the watch.
func TestWatchFromFutureVersionTimesOut(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	future := etcdRevision(c) + 1000
	start := time.Now()
	w := watch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: "default", ResourceVersion: fmt.Sprint(future)})
	err := w.end()
	wantCode(t, err, codes.DeadlineExceeded)
	if !strings.Contains(err.Error(), "Too large resource version") {
		t.Fatalf("error %v does not say the version is too large", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("refused only after %v", d)
	}
}
