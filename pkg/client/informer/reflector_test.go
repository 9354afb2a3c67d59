package informer_test

import (
	"context"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/internal/clienttest"
)

func obj(name, rv string) *corev1.ConfigMap {
	return &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "ns", ResourceVersion: rv}}
}

// scriptedWatch replays events, then ends with err (or blocks until
// stopped when err is nil).
type scriptedWatch struct {
	events []client.Event[*corev1.ConfigMap]
	err    error
	ctx    context.Context
	cancel context.CancelFunc
}

func (w *scriptedWatch) Next() (client.Event[*corev1.ConfigMap], error) {
	if len(w.events) > 0 {
		ev := w.events[0]
		w.events = w.events[1:]
		return ev, nil
	}
	if w.err != nil {
		return client.Event[*corev1.ConfigMap]{}, w.err
	}
	<-w.ctx.Done()
	return client.Event[*corev1.ConfigMap]{}, w.ctx.Err()
}

func (w *scriptedWatch) Stop() { w.cancel() }

// scriptedLW answers Lists and Watches from scripts and records the
// resourceVersions the informer asked for.
type scriptedLW struct {
	mu      sync.Mutex
	lists   []*client.List[*corev1.ConfigMap]
	watches []*scriptedWatch
	asked   []string // "list" or "watch RV"
}

func (s *scriptedLW) List(ctx context.Context, _ client.ListOptions) (*client.List[*corev1.ConfigMap], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, "list")
	if len(s.lists) == 0 {
		return nil, apierrors.Unavailable("script over")
	}
	l := s.lists[0]
	s.lists = s.lists[1:]
	return l, nil
}

func (s *scriptedLW) Watch(ctx context.Context, opts client.WatchOptions) (client.Watcher[*corev1.ConfigMap], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, "watch "+opts.ResourceVersion)
	if !opts.AllowBookmarks {
		panic("informer watches without bookmarks")
	}
	w := &scriptedWatch{}
	if len(s.watches) > 0 {
		w = s.watches[0]
		s.watches = s.watches[1:]
	}
	w.ctx, w.cancel = context.WithCancel(ctx)
	return w, nil
}

func (s *scriptedLW) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

// TestReflectorErrors: a watcher cut off as too slow resumes from its last
// version, a stream that ended resumes from the last bookmark, and an
// expired version relists, turning objects missing from the list into
// deletes.
func TestReflectorErrors(t *testing.T) {
	ev := func(typ client.EventType, o *corev1.ConfigMap) client.Event[*corev1.ConfigMap] {
		return client.Event[*corev1.ConfigMap]{Type: typ, Object: o}
	}
	lw := &scriptedLW{
		lists: []*client.List[*corev1.ConfigMap]{
			{Items: []*corev1.ConfigMap{obj("a", "1")}, ResourceVersion: "5"},
			{Items: []*corev1.ConfigMap{obj("b", "6")}, ResourceVersion: "10"},
		},
		watches: []*scriptedWatch{
			{events: []client.Event[*corev1.ConfigMap]{ev(client.Added, obj("b", "6"))}, err: apierrors.TooManyRequests("too slow")},
			{events: []client.Event[*corev1.ConfigMap]{ev(client.Bookmark, obj("", "9"))}, err: io.EOF},
			{err: apierrors.Expired("too old")},
		},
	}
	inf := informer.New[*corev1.ConfigMap](lw, informer.Options[*corev1.ConfigMap]{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	rec := &recorder{}
	inf.AddEventHandler(rec)
	run(t, inf)
	want := []string{"list", "watch 5", "watch 6", "watch 9", "list", "watch 10"}
	clienttest.Eventually(t, wait, func() bool { return len(lw.log()) >= len(want) }, "calls so far: %q", lw.log())
	if got := lw.log(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
	rec.waitFor(t, "ADD a", "ADD b", "DELETE a")
	if got := rec.snapshot(); !slices.Equal(got, []string{"ADD a", "ADD b", "DELETE a"}) {
		t.Fatalf("events %q", got)
	}
	if inf.LastSyncResourceVersion() != "10" {
		t.Fatalf("resourceVersion %q", inf.LastSyncResourceVersion())
	}
}

// TestExpiredRelistsAtOnce: however long the back-off has grown, an
// expired watch (the server is back, without our version) relists without
// waiting.
func TestExpiredRelistsAtOnce(t *testing.T) {
	lw := &scriptedLW{
		lists: []*client.List[*corev1.ConfigMap]{
			{Items: []*corev1.ConfigMap{obj("a", "1")}, ResourceVersion: "5"},
			{Items: []*corev1.ConfigMap{obj("b", "6")}, ResourceVersion: "10"},
		},
		watches: []*scriptedWatch{{err: apierrors.Expired("too old")}},
	}
	// Any back-off at all would outlast the test.
	inf := informer.New[*corev1.ConfigMap](lw, informer.Options[*corev1.ConfigMap]{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	run(t, inf)
	want := []string{"list", "watch 5", "list", "watch 10"}
	clienttest.Eventually(t, wait, func() bool { return len(lw.log()) >= len(want) }, "calls so far: %q", lw.log())
	if got := lw.log(); !slices.Equal(got[:len(want)], want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

// TestListFailureRetried: a failing first list is retried; HasSynced waits
// for it.
func TestListFailureRetried(t *testing.T) {
	lw := &failingFirst{scriptedLW: scriptedLW{lists: []*client.List[*corev1.ConfigMap]{{Items: []*corev1.ConfigMap{obj("a", "1")}, ResourceVersion: "1"}}}}
	inf := informer.New[*corev1.ConfigMap](lw, informer.Options[*corev1.ConfigMap]{MinBackoff: time.Millisecond})
	run(t, inf)
	select {
	case <-inf.Synced():
	case <-time.After(wait):
		t.Fatal("never synced")
	}
	if _, ok := inf.Store().GetByName("ns", "a"); !ok {
		t.Fatal("object missing")
	}
}

type failingFirst struct {
	scriptedLW
	failed bool
}

func (f *failingFirst) List(ctx context.Context, opts client.ListOptions) (*client.List[*corev1.ConfigMap], error) {
	if !f.failed {
		f.failed = true
		return nil, apierrors.Unavailable("not yet")
	}
	return f.scriptedLW.List(ctx, opts)
}
