package watchcache_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/etcdserver"
	"keel.dev/keel/pkg/storage"
	"keel.dev/keel/pkg/watchcache"
)

const prefix = "/test/things/"

// decode makes an entry whose label "v" is the stored value.
func decode(key string, value []byte, rev int64) (*watchcache.Entry, error) {
	if string(value) == "undecodable" {
		return nil, errors.New("bad value")
	}
	return &watchcache.Entry{Key: key, Name: key[len(prefix):], Raw: value, Rev: rev, Labels: labels.Set{"v": string(value)}}, nil
}

type env struct {
	store storage.Interface
	cache *watchcache.Cache
	ctx   context.Context
}

func setup(t *testing.T, cfg watchcache.Config) *env {
	t.Helper()
	srv, err := etcdserver.Start(etcdserver.Options{DataDir: t.TempDir(), UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	client, err := storage.Dial([]string{srv.Endpoint}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cfg.Store, cfg.Prefix, cfg.Decode, cfg.Resource = storage.NewEtcd(client), prefix, decode, "things"
	c := watchcache.New(cfg)
	go c.Run(ctx)
	if err := c.WaitForRevision(ctx, 1); err != nil {
		t.Fatal(err)
	}
	return &env{store: cfg.Store, cache: c, ctx: ctx}
}

func (e *env) put(t *testing.T, name, value string) int64 {
	t.Helper()
	kv, err := e.store.Get(e.ctx, prefix+name)
	var rev int64
	switch {
	case errors.Is(err, storage.ErrNotFound):
		rev, err = e.store.Create(e.ctx, prefix+name, []byte(value))
	case err == nil:
		rev, err = e.store.Update(e.ctx, prefix+name, kv.ModRevision, []byte(value))
	}
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func (e *env) del(t *testing.T, name string) int64 {
	t.Helper()
	rev, err := e.store.Delete(e.ctx, prefix+name, 0)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// next reads one event or fails after a deadline.
func next(t *testing.T, w *watchcache.Watcher) watchcache.Event {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		if !ok {
			t.Fatalf("watcher closed: %v", w.Err())
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return watchcache.Event{}
}

func describe(ev watchcache.Event) string {
	if ev.Object == nil {
		return string(ev.Type)
	}
	return fmt.Sprintf("%s %s=%s", ev.Type, ev.Object.Name, ev.Object.Raw)
}

func TestListFollowsStore(t *testing.T) {
	e := setup(t, watchcache.Config{})
	e.put(t, "a", "1")
	e.put(t, "b", "2")
	e.put(t, "a", "3")
	rev := e.del(t, "b")
	if err := e.cache.WaitForRevision(e.ctx, rev); err != nil {
		t.Fatal(err)
	}
	items, listRev, err := e.cache.List(watchcache.Predicate{})
	if err != nil {
		t.Fatal(err)
	}
	if listRev < rev || len(items) != 1 || items[0].Name != "a" || string(items[0].Raw) != "3" {
		t.Fatalf("list at %d = %v", listRev, items)
	}
}

func TestWaitForRevisionUsesProgress(t *testing.T) {
	e := setup(t, watchcache.Config{})
	// A write outside the prefix moves etcd's revision but sends the cache
	// no event: only a progress notification can tell it.
	rev, err := e.store.Create(e.ctx, "/elsewhere/x", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	if err := e.cache.WaitForRevision(ctx, rev); err != nil {
		t.Fatalf("cache never reached revision %d (at %d): %v", rev, e.cache.Revision(), err)
	}
}

func TestWatchInitialStateThenChanges(t *testing.T) {
	e := setup(t, watchcache.Config{})
	e.put(t, "a", "1")
	rev := e.put(t, "b", "2")
	if err := e.cache.WaitForRevision(e.ctx, rev); err != nil {
		t.Fatal(err)
	}
	w, err := e.cache.Watch(e.ctx, 0, watchcache.Predicate{}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var got []string
	for _, ev := range w.Initial {
		got = append(got, describe(ev))
	}
	want := []string{"ADDED a=1", "ADDED b=2", "BOOKMARK"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("initial = %v, want %v", got, want)
	}
	if last := w.Initial[len(w.Initial)-1]; last.Rev < rev {
		t.Errorf("initial bookmark at %d, before the state's revision %d", last.Rev, rev)
	}
	e.put(t, "a", "5")
	delRev := e.del(t, "b")
	var ev watchcache.Event
	for _, want := range []string{"MODIFIED a=5", "DELETED b=2"} {
		if ev = next(t, w); describe(ev) != want {
			t.Fatalf("got %s, want %s", describe(ev), want)
		}
	}
	// Clients resume from a DELETED event's revision: it must be the delete's.
	if ev.Rev != delRev || ev.Object.Rev != delRev {
		t.Errorf("DELETED event at %d (object %d), want the delete's revision %d", ev.Rev, ev.Object.Rev, delRev)
	}
}

func TestWatchResumeAndSelectorTransitions(t *testing.T) {
	e := setup(t, watchcache.Config{})
	from := e.put(t, "a", "red")
	e.put(t, "a", "blue") // leaves the selection
	e.put(t, "b", "red")  // enters it
	e.put(t, "a", "red")  // re-enters
	rev := e.del(t, "b")
	if err := e.cache.WaitForRevision(e.ctx, rev); err != nil {
		t.Fatal(err)
	}
	sel := labels.SelectorFromSet(labels.Set{"v": "red"})
	w, err := e.cache.Watch(e.ctx, from, watchcache.Predicate{Label: sel}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var got []string
	for _, ev := range w.Initial {
		got = append(got, describe(ev))
	}
	want := []string{"DELETED a=blue", "ADDED b=red", "ADDED a=red", "DELETED b=red"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replay = %v, want %v", got, want)
	}
}

func TestWatchTooOldIsExpired(t *testing.T) {
	e := setup(t, watchcache.Config{WindowSize: 5})
	first := e.put(t, "a", "0")
	var rev int64
	for i := 1; i <= 20; i++ {
		rev = e.put(t, "a", fmt.Sprint(i))
	}
	if err := e.cache.WaitForRevision(e.ctx, rev); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cache.Watch(e.ctx, first, watchcache.Predicate{}, false); !errors.Is(err, watchcache.ErrExpired) {
		t.Fatalf("watch from %d with a window of 5: %v, want ErrExpired", first, err)
	}
	// The last five are still there.
	w, err := e.cache.Watch(e.ctx, rev-5, watchcache.Predicate{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if len(w.Initial) != 5 {
		t.Fatalf("replayed %d events, want 5", len(w.Initial))
	}
}

func TestSlowWatcherIsClosedWithoutSlowingOthers(t *testing.T) {
	e := setup(t, watchcache.Config{WatcherBuffer: 3})
	slow, err := e.cache.Watch(e.ctx, 0, watchcache.Predicate{}, false)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := e.cache.Watch(e.ctx, 0, watchcache.Predicate{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Stop()
	for i := 0; i < 10; i++ {
		e.put(t, fmt.Sprint("k", i), "x")
		if ev := next(t, fast); ev.Object.Name != fmt.Sprint("k", i) {
			t.Fatalf("fast watcher got %s", describe(ev))
		}
	}
	// The slow one got its three buffered events, then was closed.
	n := 0
	for range slow.Events() {
		n++
	}
	if n != 3 || !errors.Is(slow.Err(), watchcache.ErrTooSlow) {
		t.Fatalf("slow watcher: %d events, err %v; want 3 and ErrTooSlow", n, slow.Err())
	}
	if c := e.cache.WatcherCount(); c != 1 {
		t.Fatalf("%d watchers registered, want 1", c)
	}
}

func TestPeriodicBookmarks(t *testing.T) {
	e := setup(t, watchcache.Config{BookmarkInterval: 50 * time.Millisecond})
	rev := e.put(t, "a", "1")
	w, err := e.cache.Watch(e.ctx, rev, watchcache.Predicate{}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := next(t, w)
	if ev.Type != watchcache.Bookmark || ev.Rev < rev {
		t.Fatalf("got %s at %d, want a bookmark at >= %d", describe(ev), ev.Rev, rev)
	}
}

func TestUndecodableValueIsSkipped(t *testing.T) {
	e := setup(t, watchcache.Config{})
	e.put(t, "bad", "undecodable")
	rev := e.put(t, "good", "1")
	if err := e.cache.WaitForRevision(e.ctx, rev); err != nil {
		t.Fatal(err)
	}
	items, _, _ := e.cache.List(watchcache.Predicate{})
	if len(items) != 1 || items[0].Name != "good" {
		t.Fatalf("list = %v", items)
	}
}

// TestListAtRebuildsPastRevision: pages of a list at an earlier revision
// show the objects as they were then, whatever changed since, until the
// window no longer reaches back to it.
func TestListAtRebuildsPastRevision(t *testing.T) {
	e := setup(t, watchcache.Config{WindowSize: 6})
	e.put(t, "a", "1")
	e.put(t, "b", "1")
	then := e.put(t, "c", "1")
	e.put(t, "a", "2")
	e.del(t, "b")
	e.put(t, "d", "1")
	now := e.put(t, "c", "2")
	if err := e.cache.WaitForRevision(e.ctx, now); err != nil {
		t.Fatal(err)
	}
	page := func(rev int64, p watchcache.Predicate, from string, limit int) (string, string) {
		t.Helper()
		entries, next, err := e.cache.ListAt(rev, p, from, limit)
		if err != nil {
			t.Fatalf("ListAt(%d, %q, %d): %v", rev, from, limit, err)
		}
		got := ""
		for _, en := range entries {
			got += en.Name + "=" + string(en.Raw) + " "
		}
		return got, next
	}
	got, next := page(then, watchcache.Predicate{}, "", 2)
	if got != "a=1 b=1 " || next != prefix+"c" {
		t.Fatalf("first page at %d: %q, next %q; want a=1 b=1, next c", then, got, next)
	}
	if got, next = page(then, watchcache.Predicate{}, next, 2); got != "c=1 " || next != "" {
		t.Fatalf("second page at %d: %q, next %q; want c=1 and no more", then, got, next)
	}
	if got, _ = page(now, watchcache.Predicate{}, "", 0); got != "a=2 c=2 d=1 " {
		t.Fatalf("at %d: %q, want a=2 c=2 d=1", now, got)
	}
	// Items the selector drops do not count towards the limit.
	ones := watchcache.Predicate{Label: labels.SelectorFromSet(labels.Set{"v": "1"})}
	if got, next = page(then, ones, prefix+"b", 1); got != "b=1 " || next != prefix+"c" {
		t.Fatalf("v=1 from b at %d: %q, next %q; want b=1, next c", then, got, next)
	}
	if got, next = page(now, ones, "", 1); got != "d=1 " || next != "" {
		t.Fatalf("v=1 at %d: %q, next %q; want d=1 only", now, got, next)
	}

	if _, _, err := e.cache.ListAt(now+100, watchcache.Predicate{}, "", 0); !errors.Is(err, watchcache.ErrNotReached) {
		t.Fatalf("ListAt ahead of the cache: %v, want ErrNotReached", err)
	}
	var rev int64
	for i := range 6 {
		rev = e.put(t, "a", fmt.Sprint(i+3))
	}
	if err := e.cache.WaitForRevision(e.ctx, rev); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.cache.ListAt(then, watchcache.Predicate{}, "", 0); !errors.Is(err, watchcache.ErrExpired) {
		t.Fatalf("ListAt(%d) once the window moved past it: %v, want ErrExpired", then, err)
	}
}
