// Package informer keeps a local, indexed copy of one kind's objects in sync
// with the apiserver, and tells event handlers about every change.
//
// An Informer lists the objects, then watches from the list's
// resourceVersion. When the watch breaks (an apiserver stopped, a network
// error, the server ended the stream, or this watcher fell behind and was
// cut off with ResourceExhausted) it watches again from the last
// resourceVersion it saw, after a back-off (200ms doubling to 30s, reset by
// a watch that delivered something). When the server no longer holds that
// version (OutOfRange, apierrors.IsExpired) it lists again and compares the
// list with its cache: objects that changed while it was away produce
// updates, new ones adds, and objects deleted meanwhile produce deletes.
//
// Handlers. Each registered handler has its own unbounded queue and
// goroutine: the watch goroutine only appends to the queues, so a slow
// handler delays nobody but itself (its queue grows while it is slow). A
// handler sees the changes in the order they happened, one call at a time;
// different handlers run concurrently. A handler added after the informer
// has synced first receives an add for every cached object.
//
// Sharing. Objects handed to handlers and returned by the Store are shared
// by every handler and reader of the informer: never modify one. Clone it
// first (proto.Clone), then modify and send the clone.
//
// Use a Factory to share one informer per kind (and namespace and
// selectors) between all the controllers of a process.
package informer

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/scheme"
)

// ListerWatcher is what an informer lists and watches: a
// *client.Resource[T] (or a fake, in tests).
type ListerWatcher[T scheme.Object] interface {
	List(ctx context.Context, opts client.ListOptions) (*client.List[T], error)
	Watch(ctx context.Context, opts client.WatchOptions) (client.Watcher[T], error)
}

// Handler receives an informer's changes. See the package doc for the
// threading contract; objects are shared and must not be modified.
type Handler[T any] interface {
	// OnAdd is called for an object the informer did not have.
	OnAdd(obj T)
	// OnUpdate is called for a changed object, and with oldObj == newObj on
	// every resync.
	OnUpdate(oldObj, newObj T)
	// OnDelete is called with the last state of a deleted object. For an
	// object found missing by a relist, that is the last state the informer
	// saw, which may be older than the state the object was deleted in.
	OnDelete(obj T)
}

// HandlerFuncs adapts functions to a Handler; nil functions are skipped.
type HandlerFuncs[T any] struct {
	AddFunc    func(obj T)
	UpdateFunc func(oldObj, newObj T)
	DeleteFunc func(obj T)
}

func (h HandlerFuncs[T]) OnAdd(obj T) {
	if h.AddFunc != nil {
		h.AddFunc(obj)
	}
}

func (h HandlerFuncs[T]) OnUpdate(oldObj, newObj T) {
	if h.UpdateFunc != nil {
		h.UpdateFunc(oldObj, newObj)
	}
}

func (h HandlerFuncs[T]) OnDelete(obj T) {
	if h.DeleteFunc != nil {
		h.DeleteFunc(obj)
	}
}

// Options configure an informer.
type Options[T scheme.Object] struct {
	// LabelSelector and FieldSelector restrict the objects (see
	// client.ListOptions).
	LabelSelector string
	FieldSelector string
	// ResyncPeriod, when > 0, calls OnUpdate(obj, obj) for every cached
	// object that often, so that handlers can retry work that depends on
	// things other than the object.
	ResyncPeriod time.Duration
	// Indexers are added to DefaultIndexers.
	Indexers Indexers[T]
	// Logger logs list and watch failures (default: none).
	Logger *zap.Logger
	// MinBackoff and MaxBackoff bound the delay before a list or watch is
	// retried after a failure (default 200ms and 10s: after an apiserver
	// outage, an informer is back within about 10s).
	MinBackoff, MaxBackoff time.Duration
}

// Informer is a list+watch cache of one kind with event handlers.
type Informer[T scheme.Object] struct {
	lw    ListerWatcher[T]
	opts  Options[T]
	store *Store[T]
	log   *zap.Logger

	// mu serializes store changes with their delivery to listeners and
	// with handler registration, so that every handler sees a consistent
	// sequence.
	mu        sync.Mutex
	listeners []*listener[T]
	runCtx    context.Context // set by Run
	started   bool
	stopped   bool           // Run is returning: start no more goroutines
	wg        sync.WaitGroup // listener goroutines

	synced   atomic.Bool
	syncedCh chan struct{}
	lastRV   atomic.Value // string
	lists    atomic.Int64 // number of completed lists, for tests and metrics
}

// New returns an informer over lw. Start it with Run.
func New[T scheme.Object](lw ListerWatcher[T], opts Options[T]) *Informer[T] {
	ix := DefaultIndexers[T]()
	for name, f := range opts.Indexers {
		ix[name] = f
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 200 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	var zero T
	if any(zero) != nil { // T is a message type, not scheme.Object itself
		if k, ok := scheme.ByMessage(zero); ok {
			log = log.With(zap.String("resource", k.Resource))
		}
	}
	i := &Informer[T]{lw: lw, opts: opts, store: NewStore(ix), log: log, syncedCh: make(chan struct{})}
	i.lastRV.Store("")
	return i
}

// Store is the informer's cache (read-only; objects are shared).
func (i *Informer[T]) Store() *Store[T] { return i.store }

// AddIndexers adds indexes to the cache, at any time.
func (i *Informer[T]) AddIndexers(ix Indexers[T]) error { return i.store.AddIndexers(ix) }

// HasSynced reports whether the cache holds a complete first list. Handlers
// may still be processing it: see Registration.HasSynced.
func (i *Informer[T]) HasSynced() bool { return i.synced.Load() }

// Synced is closed once HasSynced is true.
func (i *Informer[T]) Synced() <-chan struct{} { return i.syncedCh }

// LastSyncResourceVersion is the resourceVersion of the last list or event
// applied to the cache.
func (i *Informer[T]) LastSyncResourceVersion() string { return i.lastRV.Load().(string) }

// Lists is the number of lists done so far (1 after the first sync; more
// after relists).
func (i *Informer[T]) Lists() int64 { return i.lists.Load() }

// Registration is a handler added to an informer.
type Registration interface {
	// HasSynced reports whether the handler has processed the adds of the
	// informer's first list (or, for a handler added later, of the cache
	// contents at the time).
	HasSynced() bool
}

// AddEventHandler registers h. If the informer has synced, h first gets an
// OnAdd for every cached object. It may be called before or after Run.
func (i *Informer[T]) AddEventHandler(h Handler[T]) Registration {
	l := newListener(h)
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.synced.Load() {
		for _, obj := range i.store.List() {
			l.push(notification[T]{op: opAdd, obj: obj})
		}
		l.push(notification[T]{op: opSynced})
	}
	i.listeners = append(i.listeners, l)
	if i.started && !i.stopped {
		i.startListener(l)
	}
	return l
}

// RemoveEventHandler unregisters a handler; its pending notifications are
// dropped. Unknown registrations are ignored.
func (i *Informer[T]) RemoveEventHandler(r Registration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for n, l := range i.listeners {
		if Registration(l) == r {
			i.listeners = append(i.listeners[:n], i.listeners[n+1:]...)
			l.close()
			return
		}
	}
}

func (i *Informer[T]) startListener(l *listener[T]) {
	ctx, cancel := context.WithCancel(i.runCtx)
	l.setCancel(cancel)
	i.wg.Add(1)
	go func() {
		defer i.wg.Done()
		l.run(ctx)
	}()
}

// Run lists, watches and delivers events until ctx ends, then waits for the
// handler goroutines to stop. An informer runs once; later calls return at
// once.
func (i *Informer[T]) Run(ctx context.Context) {
	i.mu.Lock()
	if i.started {
		i.mu.Unlock()
		return
	}
	i.started = true
	i.runCtx = ctx
	for _, l := range i.listeners {
		i.startListener(l)
	}
	i.mu.Unlock()

	if i.opts.ResyncPeriod > 0 {
		i.wg.Add(1)
		go func() {
			defer i.wg.Done()
			i.resyncLoop(ctx)
		}()
	}
	i.reflect(ctx)
	i.mu.Lock()
	i.stopped = true
	i.mu.Unlock()
	i.wg.Wait()
}

func (i *Informer[T]) resyncLoop(ctx context.Context) {
	t := time.NewTicker(i.opts.ResyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !i.synced.Load() {
			continue
		}
		i.mu.Lock()
		for _, obj := range i.store.List() {
			i.distributeLocked(notification[T]{op: opUpdate, old: obj, obj: obj})
		}
		i.mu.Unlock()
	}
}

// reflect is the list-and-watch loop.
func (i *Informer[T]) reflect(ctx context.Context) {
	b := backoff{min: i.opts.MinBackoff, max: i.opts.MaxBackoff}
	needList := true
	lastExpired := false // the previous watch ended expired
	for ctx.Err() == nil {
		if needList {
			list, err := i.lw.List(ctx, client.ListOptions{LabelSelector: i.opts.LabelSelector, FieldSelector: i.opts.FieldSelector})
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				i.log.Warn("list failed; retrying", zap.Error(err))
				b.wait(ctx, err)
				continue
			}
			i.replace(list)
			needList = false
		}
		delivered, err := i.watch(ctx)
		if ctx.Err() != nil {
			return
		}
		if delivered {
			b.reset()
		}
		expired := apierrors.IsExpired(err)
		switch {
		case expired:
			// The server answered but no longer holds our version (as after
			// it was down): list again at once, whatever the failures
			// before. Back off only if this keeps happening without
			// progress.
			i.log.Info("watch expired; relisting", zap.Error(err))
			needList = true
			if lastExpired && !delivered {
				b.wait(ctx, err)
			} else {
				b.reset()
			}
		case errors.Is(err, io.EOF) && delivered:
			// The server ended a healthy stream: resume at once.
		default:
			i.log.Info("watch ended; resuming", zap.String("resourceVersion", i.LastSyncResourceVersion()), zap.Error(err))
			b.wait(ctx, err)
		}
		lastExpired = expired
	}
}

// watch runs one watch from the last resourceVersion until it ends, and
// tells whether it delivered anything.
func (i *Informer[T]) watch(ctx context.Context) (delivered bool, err error) {
	w, err := i.lw.Watch(ctx, client.WatchOptions{
		LabelSelector:   i.opts.LabelSelector,
		FieldSelector:   i.opts.FieldSelector,
		ResourceVersion: i.LastSyncResourceVersion(),
		AllowBookmarks:  true,
	})
	if err != nil {
		return false, err
	}
	defer w.Stop()
	for {
		ev, err := w.Next()
		if err != nil {
			return delivered, err
		}
		delivered = true
		i.apply(ev)
	}
}

// apply applies one watch event to the cache and the handlers.
func (i *Informer[T]) apply(ev client.Event[T]) {
	meta := ev.Object.GetMetadata()
	i.mu.Lock()
	defer i.mu.Unlock()
	switch ev.Type {
	case client.Added, client.Modified:
		key := Key(meta.GetNamespace(), meta.GetName())
		if old, existed := i.store.upsert(key, ev.Object); existed {
			i.distributeLocked(notification[T]{op: opUpdate, old: old, obj: ev.Object})
		} else {
			i.distributeLocked(notification[T]{op: opAdd, obj: ev.Object})
		}
	case client.Deleted:
		key := Key(meta.GetNamespace(), meta.GetName())
		if _, existed := i.store.remove(key); existed {
			i.distributeLocked(notification[T]{op: opDelete, obj: ev.Object})
		}
	}
	if rv := meta.GetResourceVersion(); rv != "" {
		i.lastRV.Store(rv)
	}
}

// replace installs a list in the cache and tells handlers the differences.
func (i *Informer[T]) replace(list *client.List[T]) {
	items := make(map[string]T, len(list.Items))
	for _, obj := range list.Items {
		items[KeyOf(obj)] = obj
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, c := range i.store.replace(items) {
		i.distributeLocked(notification[T]{op: c.op, old: c.old, obj: c.obj})
	}
	i.lastRV.Store(list.ResourceVersion)
	i.lists.Add(1)
	if !i.synced.Load() {
		for _, l := range i.listeners {
			l.push(notification[T]{op: opSynced})
		}
		i.synced.Store(true)
		close(i.syncedCh)
	}
}

func (i *Informer[T]) distributeLocked(n notification[T]) {
	for _, l := range i.listeners {
		l.push(n)
	}
}

// backoff is a jittered exponential delay.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) reset() { b.cur = 0 }

// wait sleeps for the next delay, or until ctx ends. After an overload
// rejection (err with apierrors.RetryAfter's hint) the delay is at least
// the hint.
func (b *backoff) wait(ctx context.Context, err error) {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur *= 2
		if b.cur > b.max {
			b.cur = b.max
		}
	}
	d := b.cur/2 + rand.N(b.cur/2+1) // between half and all of cur
	if hint, ok := apierrors.RetryAfter(err); ok && d < hint {
		d = hint + rand.N(hint/2+1)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// WaitForCacheSync waits until every function returns true or ctx ends, and
// tells which happened.
func WaitForCacheSync(ctx context.Context, synced ...func() bool) bool {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		all := true
		for _, f := range synced {
			if !f() {
				all = false
				break
			}
		}
		if all {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}
