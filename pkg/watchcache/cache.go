// Package watchcache keeps one resource's objects in memory, fed by a single
// etcd watch, and serves the apiserver's Lists and Watches from it.
//
// One goroutine (Run) owns every change: it lists the prefix, then applies
// watch events in revision order to the store and a bounded window of recent
// events, and fans each event out to the matching watchers. Readers take a
// read lock. Each watcher has its own bounded buffer; a watcher whose buffer
// is full is closed with ErrTooSlow and never blocks the fan-out.
package watchcache

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/storage"
)

// Entry is one object as the cache holds it. Entries are immutable once
// published: readers may keep them without locking.
type Entry struct {
	Key       string
	Namespace string
	Name      string
	// Raw is the object's protobuf encoding with metadata.resourceVersion set.
	Raw []byte
	// Rev is the object's ModRevision (for a deletion event: the delete's).
	Rev    int64
	Labels labels.Set
	Fields fields.Set
	// Object, when the Decoder sets it, is the decoded object, for kinds
	// read on every request (admission's namespaces and priority classes).
	// It is shared: readers must not modify it.
	Object any
}

// Decoder turns a stored value into an Entry: the object's encoding with its
// resourceVersion set to rev, and the labels and fields it is selected by.
type Decoder func(key string, value []byte, rev int64) (*Entry, error)

// EventType is a watch event's type, as sent to clients.
type EventType string

const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
	Bookmark EventType = "BOOKMARK"
)

// Event is one change as delivered to a watcher.
type Event struct {
	Type EventType
	// Object is the new state; for Deleted the last state; nil for Bookmark.
	Object *Entry
	// Rev is the revision of the change (or, for Bookmark, the revision up to
	// which the watcher has seen every change).
	Rev int64
}

// change is one entry of the history window.
type change struct {
	rev     int64
	key     string
	obj     *Entry // nil for a delete
	prev    *Entry // nil for a create
	deleted bool
}

// Predicate selects objects: namespace ("" for all), labels and fields.
type Predicate struct {
	Namespace string
	Label     labels.Selector // nil: everything
	Field     fields.Selector // nil: everything
}

// Matches reports whether the entry is selected.
func (p Predicate) Matches(e *Entry) bool {
	if p.Namespace != "" && e.Namespace != p.Namespace {
		return false
	}
	if p.Label != nil && !p.Label.Empty() && !p.Label.Matches(e.Labels) {
		return false
	}
	if p.Field != nil && !p.Field.Empty() && !p.Field.Matches(e.Fields) {
		return false
	}
	return true
}

// Errors that end a watcher or a call.
var (
	// ErrTooSlow closes a watcher whose buffer overflowed; it should resume
	// from the last revision it saw.
	ErrTooSlow = errors.New("watcher fell too far behind and was closed; resume from the last resourceVersion")
	// ErrExpired is a resourceVersion older than the window: relist.
	ErrExpired = errors.New("too old resource version")
	// ErrRelisted closes every watcher when the cache had to relist from etcd.
	ErrRelisted = errors.New("watch cache reinitialized; resume from the last resourceVersion")
	// ErrNotReached is a revision the cache has not reached yet.
	ErrNotReached = errors.New("watch cache has not reached the resource version yet")
	// ErrNotReady is returned before the first list completes.
	ErrNotReady = errors.New("watch cache is not ready")
	// ErrStopped closes watchers when the cache stops.
	ErrStopped = errors.New("watch cache stopped")
)

// Config configures a cache.
type Config struct {
	// Resource names the cache in logs and metrics ("pods").
	Resource string
	// Prefix is the etcd key prefix, with a trailing slash.
	Prefix string
	Store  storage.Interface
	Decode Decoder
	// WindowSize is how many recent events are kept for resuming watches.
	WindowSize int
	// WatcherBuffer is each watcher's buffer, in events.
	WatcherBuffer int
	// BookmarkInterval is how often watchers that asked for bookmarks get one.
	BookmarkInterval time.Duration
	Logger           *zap.Logger
}

// Cache is one resource's watch cache.
type Cache struct {
	cfg Config

	mu       sync.RWMutex
	objects  map[string]*Entry
	rev      int64 // every change up to rev is applied
	ready    bool
	window   []change // ring buffer
	wStart   int      // index of the oldest change in window
	wLen     int
	oldest   int64 // every change after oldest is in the window
	last     int64 // revision of the newest change delivered (or of the list)
	watchers map[*Watcher]struct{}
	revCh    chan struct{} // closed and replaced whenever rev advances

	progress chan struct{} // asks Run to request an etcd progress notification
}

// New makes a cache; call Run to fill it.
func New(cfg Config) *Cache {
	if cfg.WindowSize <= 0 {
		cfg.WindowSize = 10000
	}
	if cfg.WatcherBuffer <= 0 {
		cfg.WatcherBuffer = 1000
	}
	if cfg.BookmarkInterval <= 0 {
		cfg.BookmarkInterval = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Cache{
		cfg:      cfg,
		objects:  map[string]*Entry{},
		window:   make([]change, cfg.WindowSize),
		watchers: map[*Watcher]struct{}{},
		revCh:    make(chan struct{}),
		progress: make(chan struct{}, 1),
	}
}

// Run lists and watches until ctx ends, relisting after a broken watch.
func (c *Cache) Run(ctx context.Context) {
	log := c.cfg.Logger.With(zap.String("resource", c.cfg.Resource))
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := c.listAndWatch(ctx)
		if ctx.Err() != nil {
			break
		}
		log.Warn("watch cache relisting", zap.Error(err))
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
	}
	c.mu.Lock()
	c.closeAllLocked(ErrStopped)
	c.mu.Unlock()
}

func (c *Cache) listAndWatch(ctx context.Context) error {
	list, err := c.cfg.Store.List(ctx, c.cfg.Prefix, storage.ListOptions{})
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	objects := make(map[string]*Entry, len(list.Items))
	for _, kv := range list.Items {
		e, err := c.cfg.Decode(kv.Key, kv.Value, kv.ModRevision)
		if err != nil {
			c.cfg.Logger.Error("skipping undecodable object", zap.String("key", kv.Key), zap.Error(err))
			continue
		}
		objects[kv.Key] = e
	}
	c.mu.Lock()
	if c.ready {
		// Watchers may have missed changes between the broken watch and
		// this list: end them so that they resume or relist.
		c.closeAllLocked(ErrRelisted)
	}
	c.objects = objects
	c.wLen, c.wStart = 0, 0
	c.oldest = list.Revision
	c.last = list.Revision
	c.setRevLocked(list.Revision)
	c.ready = true
	c.mu.Unlock()

	w := c.cfg.Store.Watch(ctx, c.cfg.Prefix, list.Revision)
	defer w.Stop()
	ticker := time.NewTicker(c.cfg.BookmarkInterval)
	defer ticker.Stop()
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return fmt.Errorf("watch: %w", w.Err())
			}
			c.apply(ev)
		case <-ticker.C:
			c.sendBookmarks()
			_ = w.RequestProgress(ctx)
		case <-c.progress:
			_ = w.RequestProgress(ctx)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// apply handles one storage event; called only from Run's goroutine.
func (c *Cache) apply(ev storage.Event) {
	if ev.Type == storage.EventProgress {
		c.mu.Lock()
		c.setRevLocked(ev.ModRevision)
		c.mu.Unlock()
		return
	}
	var ch change
	ch.rev, ch.key = ev.ModRevision, ev.Key
	// For a delete, the object's last state stamped with the delete's
	// revision: clients resume from the resourceVersion they last saw, so
	// that of a DELETED event must be the deletion's.
	obj, err := c.cfg.Decode(ev.Key, ev.Value, ev.ModRevision)
	if ev.Type == storage.EventPut {
		if err != nil {
			c.cfg.Logger.Error("skipping undecodable object", zap.String("key", ev.Key), zap.Error(err))
			c.mu.Lock()
			c.setRevLocked(ev.ModRevision)
			c.mu.Unlock()
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ch.prev = c.objects[ev.Key]
	if ev.Type == storage.EventDelete {
		if ch.prev == nil {
			c.setRevLocked(ev.ModRevision)
			return
		}
		ch.deleted = true
		if err != nil || len(ev.Value) == 0 {
			// No usable last value from etcd: send the cached state.
			last := *ch.prev
			last.Rev = ev.ModRevision
			obj = &last
		}
		ch.obj = obj
		delete(c.objects, ev.Key)
	} else {
		ch.obj = obj
		c.objects[ev.Key] = obj
	}
	c.pushLocked(ch)
	for w := range c.watchers {
		if e, ok := w.translate(ch); ok {
			w.deliverLocked(c, e)
		}
	}
	c.setRevLocked(ev.ModRevision)
}

func (c *Cache) pushLocked(ch change) {
	n := len(c.window)
	if c.wLen == n {
		c.oldest = c.window[c.wStart].rev
		c.window[c.wStart] = change{}
		c.wStart = (c.wStart + 1) % n
		c.wLen--
	}
	c.window[(c.wStart+c.wLen)%n] = ch
	c.wLen++
	c.last = ch.rev
}

func (c *Cache) setRevLocked(rev int64) {
	if rev <= c.rev {
		return
	}
	c.rev = rev
	close(c.revCh)
	c.revCh = make(chan struct{})
}

func (c *Cache) sendBookmarks() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for w := range c.watchers {
		if w.bookmarks {
			// A bookmark is a hint: never close a watcher over one.
			select {
			case w.ch <- Event{Type: Bookmark, Rev: c.rev}:
			default:
			}
		}
	}
}

func (c *Cache) closeAllLocked(err error) {
	for w := range c.watchers {
		w.closeLocked(c, err)
	}
}

// Ready reports whether the first list has completed.
func (c *Cache) Ready() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ready
}

// Revision is the revision up to which the cache has applied every change.
func (c *Cache) Revision() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.rev
}

// LastChange is the revision of the newest change the cache has sent its
// watchers (after a list: the list's revision). A watcher that has seen
// an event or bookmark at LastChange or later has seen every change the
// cache had when LastChange was read.
func (c *Cache) LastChange() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.last
}

// Reached reports whether the cache has listed and applied every change up
// to rev: WaitForRevision's answer when it need not wait.
func (c *Cache) Reached(rev int64) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ready && c.rev >= rev
}

// progressRetry is how often a wait repeats its request for a progress
// notification: one sent before the etcd watch stream is up is lost.
const progressRetry = 200 * time.Millisecond

// WaitForRevision blocks until the cache has applied every change up to rev,
// asking etcd for a progress notification (again every progressRetry) when
// the prefix itself is quiet.
func (c *Cache) WaitForRevision(ctx context.Context, rev int64) error {
	var retry <-chan time.Time
	for {
		c.mu.RLock()
		cur, ready, ch := c.rev, c.ready, c.revCh
		c.mu.RUnlock()
		if ready && cur >= rev {
			return nil
		}
		if ready && retry == nil {
			c.askProgress()
			t := time.NewTicker(progressRetry)
			defer t.Stop()
			retry = t.C
		}
		select {
		case <-ch:
		case <-retry:
			c.askProgress()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// askProgress asks Run to request a progress notification (one pending
// request is enough).
func (c *Cache) askProgress() {
	select {
	case c.progress <- struct{}{}:
	default:
	}
}

// Get returns the cached entry for key.
func (c *Cache) Get(key string) (*Entry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.objects[key]
	return e, ok
}

// List returns the matching entries sorted by key, and the cache revision
// they reflect.
func (c *Cache) List(p Predicate) ([]*Entry, int64, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.ready {
		return nil, 0, ErrNotReady
	}
	out := c.snapshotLocked(p)
	return out, c.rev, nil
}

// ListAt is one page of a list as the cache held it at revision rev: the
// entries p selects whose keys sort at or after from ("" for the first
// page), sorted by key, at most limit of them (0: all), and the key the
// next page starts at ("" when none follows). The cache rebuilds that
// state by undoing the changes after rev from its window, so rev must lie
// in it: ErrExpired when the window no longer reaches back to rev,
// ErrNotReached when the cache has not reached rev yet, ErrNotReady before
// the first list. The caller then reads etcd instead.
func (c *Cache) ListAt(rev int64, p Predicate, from string, limit int) (entries []*Entry, next string, err error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	switch {
	case !c.ready:
		return nil, "", ErrNotReady
	case rev < c.oldest:
		return nil, "", ErrExpired
	case rev > c.rev:
		return nil, "", ErrNotReached
	}
	// Undo the window's changes after rev, newest first: the oldest of a
	// key's changes leaves it as it was at rev (nil: it did not exist).
	undone := map[string]*Entry{}
	for i := c.wLen - 1; i >= 0; i-- {
		ch := c.window[(c.wStart+i)%len(c.window)]
		if ch.rev <= rev {
			break
		}
		undone[ch.key] = ch.prev
	}
	keep := func(e *Entry) {
		if e != nil && e.Key >= from && p.Matches(e) {
			entries = append(entries, e)
		}
	}
	for k, e := range c.objects {
		if _, ok := undone[k]; !ok {
			keep(e)
		}
	}
	for _, e := range undone {
		keep(e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
	if limit > 0 && len(entries) > limit {
		return entries[:limit], entries[limit].Key, nil
	}
	return entries, "", nil
}

func (c *Cache) snapshotLocked(p Predicate) []*Entry {
	out := make([]*Entry, 0, len(c.objects))
	for _, e := range c.objects {
		if p.Matches(e) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Watcher is one client watch.
type Watcher struct {
	pred      Predicate
	bookmarks bool
	// Initial holds the events to send before anything from Events: the
	// current state as Added events (watch from revision 0) or the replayed
	// window (watch from a revision).
	Initial []Event
	ch      chan Event
	closed  bool
	err     error
	cache   *Cache
}

// Events delivers live events in revision order, after Initial. It is closed
// when the watcher ends; Err tells why.
func (w *Watcher) Events() <-chan Event { return w.ch }

// Err is why the watcher ended (nil while it runs, or after Stop).
func (w *Watcher) Err() error {
	w.cache.mu.RLock()
	defer w.cache.mu.RUnlock()
	return w.err
}

// Stop ends the watcher; safe to call more than once.
func (w *Watcher) Stop() {
	w.cache.mu.Lock()
	w.closeLocked(w.cache, nil)
	w.cache.mu.Unlock()
}

func (w *Watcher) closeLocked(c *Cache, err error) {
	if w.closed {
		return
	}
	w.closed = true
	w.err = err
	delete(c.watchers, w)
	close(w.ch)
}

func (w *Watcher) deliverLocked(c *Cache, e Event) {
	select {
	case w.ch <- e:
	default:
		w.closeLocked(c, ErrTooSlow)
	}
}

// translate turns a change into the event this watcher sees, following
// Kubernetes: an object entering the selection is Added, one leaving it is
// Deleted, one staying in it is Modified.
func (w *Watcher) translate(ch change) (Event, bool) {
	newOK := !ch.deleted && w.pred.Matches(ch.obj)
	oldOK := ch.prev != nil && w.pred.Matches(ch.prev)
	switch {
	case ch.deleted:
		if oldOK {
			return Event{Type: Deleted, Object: ch.obj, Rev: ch.rev}, true
		}
	case newOK && oldOK:
		return Event{Type: Modified, Object: ch.obj, Rev: ch.rev}, true
	case newOK:
		return Event{Type: Added, Object: ch.obj, Rev: ch.rev}, true
	case oldOK:
		return Event{Type: Deleted, Object: ch.obj, Rev: ch.rev}, true
	}
	return Event{}, false
}

// Watch starts a watcher. With fromRev 0 it first gets the current matching
// state as Added events; with fromRev > 0 it gets every matching change after
// fromRev (ErrExpired if the window no longer reaches back that far; a
// fromRev ahead of the cache waits for it until ctx ends).
func (c *Cache) Watch(ctx context.Context, fromRev int64, p Predicate, bookmarks bool) (*Watcher, error) {
	if fromRev > 0 {
		if err := c.WaitForRevision(ctx, fromRev); err != nil {
			return nil, fmt.Errorf("waiting for resource version %d: %w", fromRev, err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ready {
		return nil, ErrNotReady
	}
	w := &Watcher{pred: p, bookmarks: bookmarks, ch: make(chan Event, c.cfg.WatcherBuffer), cache: c}
	if fromRev == 0 {
		for _, e := range c.snapshotLocked(p) {
			w.Initial = append(w.Initial, Event{Type: Added, Object: e, Rev: e.Rev})
		}
		if bookmarks {
			// Tells the client the revision the initial state reflects.
			w.Initial = append(w.Initial, Event{Type: Bookmark, Rev: c.rev})
		}
	} else {
		if fromRev < c.oldest {
			return nil, fmt.Errorf("%w: %d (the oldest available is %d)", ErrExpired, fromRev, c.oldest+1)
		}
		n := len(c.window)
		for i := 0; i < c.wLen; i++ {
			ch := c.window[(c.wStart+i)%n]
			if ch.rev <= fromRev {
				continue
			}
			if e, ok := w.translate(ch); ok {
				w.Initial = append(w.Initial, e)
			}
		}
	}
	c.watchers[w] = struct{}{}
	return w, nil
}

// WatcherCount is the number of open watchers.
func (c *Cache) WatcherCount() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.watchers)
}

// Len is the number of cached objects.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.objects)
}
