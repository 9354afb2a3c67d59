package informer_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/labels"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/internal/clienttest"
)

const wait = 20 * time.Second

func cm(name string, data string) *corev1.ConfigMap {
	return &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "x"}}, Data: map[string]string{"d": data}}
}

// recorder is a handler that logs what it sees as "ADD name", "UPDATE name
// data", "DELETE name".
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

func (r *recorder) OnAdd(o *corev1.ConfigMap) { r.add("ADD " + o.GetMetadata().GetName()) }
func (r *recorder) OnUpdate(old, o *corev1.ConfigMap) {
	r.add("UPDATE " + o.GetMetadata().GetName() + " " + o.GetData()["d"])
}
func (r *recorder) OnDelete(o *corev1.ConfigMap) { r.add("DELETE " + o.GetMetadata().GetName()) }

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) has(s string) bool { return slices.Contains(r.snapshot(), s) }

func (r *recorder) waitFor(t *testing.T, want ...string) {
	t.Helper()
	clienttest.Eventually(t, wait, func() bool {
		for _, w := range want {
			if !r.has(w) {
				return false
			}
		}
		return true
	}, "handler events %q lack some of %q", r.snapshot(), want)
}

func run[T interface{ Run(context.Context) }](t *testing.T, inf T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		inf.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func TestInformerHandlers(t *testing.T) {
	_, a := testserver.StartAll(t, nil)
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, wait)
	cms := c.ConfigMaps("default")
	for _, n := range []string{"a", "b"} {
		if _, err := cms.Create(ctx, cm(n, "0"), client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	inf := informer.New[*corev1.ConfigMap](cms, informer.Options[*corev1.ConfigMap]{})
	rec := &recorder{}
	reg := inf.AddEventHandler(rec)
	if inf.HasSynced() || reg.HasSynced() {
		t.Fatal("synced before running")
	}
	run(t, inf)
	if !informer.WaitForCacheSync(ctx, inf.HasSynced, reg.HasSynced) {
		t.Fatal("no sync")
	}
	if inf.Store().Len() != 2 {
		t.Fatalf("store has %d objects", inf.Store().Len())
	}
	got := rec.snapshot()
	sort.Strings(got)
	if !slices.Equal(got, []string{"ADD a", "ADD b"}) {
		t.Fatalf("initial events %q", got)
	}

	if _, err := cms.Create(ctx, cm("c", "0"), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b, _ := cms.Get(ctx, "b")
	b.Data["d"] = "1"
	if _, err := cms.Update(ctx, b, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cms.Delete(ctx, "a", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "ADD c", "UPDATE b 1", "DELETE a")
	// Order is preserved per handler.
	ev := rec.snapshot()[2:]
	if !slices.Equal(ev, []string{"ADD c", "UPDATE b 1", "DELETE a"}) {
		t.Fatalf("events out of order: %q", ev)
	}
	if keys := inf.Store().ListKeys(); !slices.Equal(keys, []string{"default/b", "default/c"}) {
		t.Fatalf("store keys %q", keys)
	}
	obj, ok := inf.Store().GetByName("default", "b")
	if !ok || obj.GetData()["d"] != "1" {
		t.Fatalf("cached b: %v", obj)
	}
	if inf.LastSyncResourceVersion() == "" {
		t.Fatal("no resourceVersion")
	}

	// A handler added late gets the cache as adds, then live events.
	late := &recorder{}
	lreg := inf.AddEventHandler(late)
	late.waitFor(t, "ADD b", "ADD c")
	clienttest.Eventually(t, wait, lreg.HasSynced, "late handler never synced")
	if _, _, err := cms.Delete(ctx, "c", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	late.waitFor(t, "DELETE c")
	rec.waitFor(t, "DELETE c")

	// A removed handler hears nothing more.
	inf.RemoveEventHandler(lreg)
	if _, err := cms.Create(ctx, cm("d", "0"), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "ADD d")
	if late.has("ADD d") {
		t.Fatal("removed handler still called")
	}
}

// gatedLW lets a test cut an informer off: Close stops the current watch and
// holds new ones until Open.
type gatedLW[T interface {
	proto.Message
	GetMetadata() *metav1.ObjectMeta
}] struct {
	inner   informer.ListerWatcher[T]
	mu      sync.Mutex
	open    chan struct{}
	current client.Watcher[T]
	watches atomic.Int32
}

func newGated[T interface {
	proto.Message
	GetMetadata() *metav1.ObjectMeta
}](inner informer.ListerWatcher[T]) *gatedLW[T] {
	g := &gatedLW[T]{inner: inner, open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gatedLW[T]) List(ctx context.Context, opts client.ListOptions) (*client.List[T], error) {
	return g.inner.List(ctx, opts)
}

func (g *gatedLW[T]) Watch(ctx context.Context, opts client.WatchOptions) (client.Watcher[T], error) {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	w, err := g.inner.Watch(ctx, opts)
	if err == nil {
		g.mu.Lock()
		g.current = w
		g.mu.Unlock()
		g.watches.Add(1)
	}
	return w, err
}

func (g *gatedLW[T]) Close() {
	g.mu.Lock()
	g.open = make(chan struct{})
	cur := g.current
	g.mu.Unlock()
	cur.Stop()
}

func (g *gatedLW[T]) Open() {
	g.mu.Lock()
	close(g.open)
	g.mu.Unlock()
}

// TestInformerRelistAfterExpiry disconnects an informer while more changes
// happen than the apiserver's watch window holds: on reconnection its watch
// has expired, it lists again, and the differences reach the handlers,
// including the deletion it missed.
func TestInformerRelistAfterExpiry(t *testing.T) {
	_, a := testserver.StartAll(t, func(cfg *apiserver.Config) { cfg.WatchCacheWindow = 5 })
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, wait)
	cms := c.ConfigMaps("default")
	for _, n := range []string{"a", "b", "c"} {
		if _, err := cms.Create(ctx, cm(n, "0"), client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	g := newGated[*corev1.ConfigMap](cms)
	inf := informer.New[*corev1.ConfigMap](g, informer.Options[*corev1.ConfigMap]{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	rec := &recorder{}
	inf.AddEventHandler(rec)
	run(t, inf)
	rec.waitFor(t, "ADD a", "ADD b", "ADD c")
	clienttest.Eventually(t, wait, func() bool { return g.watches.Load() == 1 }, "no watch")

	g.Close()
	if _, _, err := cms.Delete(ctx, "a", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, cm("d", "0"), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ { // more changes than the window of 5
		b, err := cms.Get(ctx, "b")
		if err != nil {
			t.Fatal(err)
		}
		b.Data["d"] = strconv.Itoa(i)
		if _, err := cms.Update(ctx, b, client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if inf.Lists() != 1 {
		t.Fatalf("%d lists before reconnecting", inf.Lists())
	}
	g.Open()
	rec.waitFor(t, "DELETE a", "ADD d", "UPDATE b 10")
	clienttest.Eventually(t, wait, func() bool { return inf.Lists() == 2 }, "no relist (lists: %d)", inf.Lists())
	for _, e := range rec.snapshot() {
		if e == "UPDATE b 1" || e == "UPDATE c 0" {
			t.Errorf("relist produced %q: only the net differences are expected", e)
		}
	}
	if keys := inf.Store().ListKeys(); !slices.Equal(keys, []string{"default/b", "default/c", "default/d"}) {
		t.Fatalf("store keys %q", keys)
	}
	// Live again.
	if _, err := cms.Create(ctx, cm("e", "0"), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "ADD e")
}

// TestInformerResumesAfterBrokenStream: a watch that breaks while the
// server still holds its version resumes without a relist.
func TestInformerResumesAfterBrokenStream(t *testing.T) {
	_, a := testserver.StartAll(t, nil)
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, wait)
	cms := c.ConfigMaps("default")
	g := newGated[*corev1.ConfigMap](cms)
	inf := informer.New[*corev1.ConfigMap](g, informer.Options[*corev1.ConfigMap]{MinBackoff: 10 * time.Millisecond})
	rec := &recorder{}
	inf.AddEventHandler(rec)
	run(t, inf)
	clienttest.Eventually(t, wait, func() bool { return g.watches.Load() == 1 }, "no watch")
	g.Close()
	if _, err := cms.Create(ctx, cm("while-away", "0"), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	g.Open()
	rec.waitFor(t, "ADD while-away")
	if inf.Lists() != 1 || g.watches.Load() != 2 {
		t.Fatalf("lists %d, watches %d: want 1 and 2", inf.Lists(), g.watches.Load())
	}
}

// TestInformerAPIServerRestart: the informer's only apiserver stops, the
// cluster changes through another one, and the first comes back on the same
// address: the informer catches up.
func TestInformerAPIServerRestart(t *testing.T) {
	etcd := testserver.StartEtcd(t)
	a := testserver.Start(t, etcd.Endpoint, nil)
	b := testserver.Start(t, etcd.Endpoint, nil)
	ca := clienttest.Client(t, a.Addr)
	cb := clienttest.Client(t, b.Addr)
	ctx := clienttest.Context(t, 2*wait)
	for _, n := range []string{"a", "b"} {
		if _, err := cb.ConfigMaps("default").Create(ctx, cm(n, "0"), client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	inf := informer.New[*corev1.ConfigMap](ca.ConfigMaps("default"), informer.Options[*corev1.ConfigMap]{MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	rec := &recorder{}
	inf.AddEventHandler(rec)
	run(t, inf)
	rec.waitFor(t, "ADD a", "ADD b")

	a.Stop()
	other := cb.ConfigMaps("default")
	if _, _, err := other.Delete(ctx, "a", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Create(ctx, cm("c", "0"), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a.Start()
	rec.waitFor(t, "DELETE a", "ADD c")
	if keys := inf.Store().ListKeys(); !slices.Equal(keys, []string{"default/b", "default/c"}) {
		t.Fatalf("store keys %q", keys)
	}
	if _, err := other.Create(ctx, cm("d", "0"), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, "ADD d")
}

// TestSlowHandler: a handler that blocks holds back neither the cache nor
// the other handlers, and still gets every event in order afterwards.
func TestSlowHandler(t *testing.T) {
	_, a := testserver.StartAll(t, nil)
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, wait)
	cms := c.ConfigMaps("default")
	inf := informer.New[*corev1.ConfigMap](cms, informer.Options[*corev1.ConfigMap]{})
	release := make(chan struct{})
	var slowSeen []string
	var slowMu sync.Mutex
	slow := informer.HandlerFuncs[*corev1.ConfigMap]{AddFunc: func(o *corev1.ConfigMap) {
		<-release
		slowMu.Lock()
		slowSeen = append(slowSeen, o.GetMetadata().GetName())
		slowMu.Unlock()
	}}
	inf.AddEventHandler(slow)
	fast := &recorder{}
	inf.AddEventHandler(fast)
	run(t, inf)
	clienttest.Eventually(t, wait, inf.HasSynced, "no sync")
	var want []string
	for i := 0; i < 50; i++ {
		n := fmt.Sprintf("cm-%02d", i)
		want = append(want, n)
		if _, err := cms.Create(ctx, cm(n, "0"), client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	fast.waitFor(t, "ADD cm-49")
	clienttest.Eventually(t, wait, func() bool { return inf.Store().Len() == 50 }, "cache behind")
	close(release)
	clienttest.Eventually(t, wait, func() bool {
		slowMu.Lock()
		defer slowMu.Unlock()
		return len(slowSeen) == 50
	}, "slow handler did not catch up")
	slowMu.Lock()
	defer slowMu.Unlock()
	if !slices.Equal(slowSeen, want) {
		t.Fatalf("slow handler order: %q", slowSeen)
	}
}

func TestResync(t *testing.T) {
	_, a := testserver.StartAll(t, nil)
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, wait)
	cms := c.ConfigMaps("default")
	if _, err := cms.Create(ctx, cm("a", "0"), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	inf := informer.New[*corev1.ConfigMap](cms, informer.Options[*corev1.ConfigMap]{ResyncPeriod: 20 * time.Millisecond})
	var resyncs atomic.Int32
	inf.AddEventHandler(informer.HandlerFuncs[*corev1.ConfigMap]{UpdateFunc: func(old, o *corev1.ConfigMap) {
		if old == o {
			resyncs.Add(1)
		}
	}})
	run(t, inf)
	clienttest.Eventually(t, wait, func() bool { return resyncs.Load() >= 3 }, "no resyncs")
}

func podWith(ns, name, owner string, controller bool) *corev1.Pod {
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name[:1]}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}
	if owner != "" {
		p.Metadata.OwnerReferences = []*metav1.OwnerReference{{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", Uid: owner, Controller: proto.Bool(controller)}}
	}
	return p
}

func TestIndexers(t *testing.T) {
	_, a := testserver.StartAll(t, nil)
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, wait)
	for _, p := range []*corev1.Pod{
		podWith("default", "a1", "rs-1", true),
		podWith("default", "a2", "rs-1", true),
		podWith("default", "b1", "rs-2", false),
		podWith("kube-system", "c1", "", false),
	} {
		if _, err := c.Pods(p.Metadata.Namespace).Create(ctx, p, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Pods("default").Bind(ctx, "a1", "node-1", ""); err != nil {
		t.Fatal(err)
	}
	f := informer.NewFactory(c, 0)
	inf := f.Pods()
	if err := inf.AddIndexers(informer.Indexers[*corev1.Pod]{"app": func(p *corev1.Pod) []string {
		return []string{p.GetMetadata().GetLabels()["app"]}
	}}); err != nil {
		t.Fatal(err)
	}
	f.Start(ctx)
	defer f.Shutdown()
	if !f.WaitForCacheSync(ctx) {
		t.Fatal("no sync")
	}
	keys := func(index, value string) []string {
		t.Helper()
		k, err := inf.Store().IndexKeys(index, value)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	check := func(index, value string, want ...string) {
		t.Helper()
		if got := keys(index, value); !slices.Equal(got, want) {
			t.Errorf("%s=%s: %q, want %q", index, value, got, want)
		}
	}
	check(informer.NamespaceIndex, "default", "default/a1", "default/a2", "default/b1")
	check(informer.NamespaceIndex, "kube-system", "kube-system/c1")
	check(informer.NodeNameIndex, "node-1", "default/a1")
	check(informer.NodeNameIndex, "", "default/a2", "default/b1", "kube-system/c1")
	check(informer.ControllerUIDIndex, "rs-1", "default/a1", "default/a2")
	check(informer.ControllerUIDIndex, "rs-2")
	check(informer.OwnerUIDIndex, "rs-2", "default/b1")
	check("app", "a", "default/a1", "default/a2")
	if _, err := inf.Store().ByIndex("nope", "x"); err == nil {
		t.Error("unknown index accepted")
	}
	if err := inf.AddIndexers(informer.Indexers[*corev1.Pod]{"app": nil}); err == nil {
		t.Error("duplicate index accepted")
	}
	sel, _ := labels.Parse("app=a")
	if got := inf.Store().Select("default", sel); len(got) != 2 {
		t.Errorf("Select app=a in default: %d", len(got))
	}
	if got := inf.Store().Select("", nil); len(got) != 4 {
		t.Errorf("Select everything: %d", len(got))
	}

	// An index added after sync covers the cache; indexes follow changes.
	if err := inf.AddIndexers(informer.Indexers[*corev1.Pod]{"name-len": func(p *corev1.Pod) []string {
		return []string{strconv.Itoa(len(p.GetMetadata().GetName()))}
	}}); err != nil {
		t.Fatal(err)
	}
	check("name-len", "2", "default/a1", "default/a2", "default/b1", "kube-system/c1")
	if _, err := c.Pods("default").Bind(ctx, "a2", "node-1", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Pods("default").Delete(ctx, "b1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	clienttest.Eventually(t, wait, func() bool {
		return slices.Equal(keys(informer.NodeNameIndex, "node-1"), []string{"default/a1", "default/a2"}) &&
			slices.Equal(keys(informer.NodeNameIndex, ""), []string{"kube-system/c1"})
	}, "node index did not follow: %q / %q", keys(informer.NodeNameIndex, "node-1"), keys(informer.NodeNameIndex, ""))
	check(informer.OwnerUIDIndex, "rs-2")
	if vals := inf.Store().IndexValues(informer.OwnerUIDIndex); !slices.Equal(vals, []string{"rs-1"}) {
		t.Errorf("owner index values %q", vals)
	}
}

func TestFactoryShares(t *testing.T) {
	_, a := testserver.StartAll(t, nil)
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, wait)
	f := informer.NewFactory(c, 0)
	if f.Pods() != informer.For[*corev1.Pod](f) {
		t.Fatal("two pod informers in one factory")
	}
	if informer.ForScope[*corev1.Pod](f, informer.Scope{Namespace: "kube-system"}) == f.Pods() {
		t.Fatal("scoped informer shared with the unscoped one")
	}
	if informer.ForScope[*corev1.Node](f, informer.Scope{Namespace: "x"}) != f.Nodes() {
		t.Fatal("namespace should not split cluster-scoped informers")
	}
	f.Start(ctx)
	defer f.Shutdown()
	if !f.WaitForCacheSync(ctx) {
		t.Fatal("no sync")
	}
	// Requested after Start: started at once.
	ns := f.Namespaces()
	clienttest.Eventually(t, wait, ns.HasSynced, "late informer not started")
	if ns.Store().Len() < 4 {
		t.Fatalf("namespaces: %d", ns.Store().Len())
	}
}
