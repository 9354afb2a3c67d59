// Package objectwatch keeps the kubelet's copies of the Secrets and
// ConfigMaps its pods use: one watch per referenced object, by name (the
// field selector metadata.name=NAME), started when the first pod
// referencing it is set and stopped when the last one is removed. A node
// may read only those objects (the Node authorizer), never list them all.
package objectwatch

import (
	"context"
	"slices"
	"sync"

	"go.uber.org/zap"

	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/scheme"
)

// Watcher watches the objects of kind T that pods reference. Safe for
// concurrent use.
type Watcher[T scheme.Object] struct {
	ctx     context.Context
	lw      func(namespace string) informer.ListerWatcher[T]
	changed func(namespace, name string)
	log     *zap.Logger

	mu   sync.Mutex
	objs map[key]*watched[T]
	pods map[string][]key // by pod UID
}

type key struct{ namespace, name string }

type watched[T scheme.Object] struct {
	inf    *informer.Informer[T]
	cancel context.CancelFunc
	refs   int
}

// New returns a Watcher whose watches run until ctx ends, each listing and
// watching through lw(namespace); changed is called (from the watch's
// goroutine) when a watched object is updated.
func New[T scheme.Object](ctx context.Context, lw func(namespace string) informer.ListerWatcher[T], changed func(namespace, name string), log *zap.Logger) *Watcher[T] {
	return &Watcher[T]{ctx: ctx, lw: lw, changed: changed, log: log, objs: map[key]*watched[T]{}, pods: map[string][]key{}}
}

// SetPod makes names (in namespace) the objects the pod uid references,
// replacing what it referenced before.
func (w *Watcher[T]) SetPod(uid, namespace string, names []string) {
	var keys []key
	for _, n := range names {
		if k := (key{namespace, n}); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range keys {
		w.acquireLocked(k)
	}
	w.releaseLocked(w.pods[uid])
	if len(keys) == 0 {
		delete(w.pods, uid)
	} else {
		w.pods[uid] = keys
	}
}

// RemovePod forgets the references of the pod uid.
func (w *Watcher[T]) RemovePod(uid string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.releaseLocked(w.pods[uid])
	delete(w.pods, uid)
}

// Get returns the watched object namespace/name, if its watch has it.
func (w *Watcher[T]) Get(namespace, name string) (T, bool) {
	w.mu.Lock()
	o := w.objs[key{namespace, name}]
	w.mu.Unlock()
	if o == nil {
		var zero T
		return zero, false
	}
	return o.inf.Store().GetByName(namespace, name)
}

func (w *Watcher[T]) acquireLocked(k key) {
	if o := w.objs[k]; o != nil {
		o.refs++
		return
	}
	inf := informer.New[T](w.lw(k.namespace), informer.Options[T]{FieldSelector: "metadata.name=" + k.name, Logger: w.log})
	inf.AddEventHandler(informer.HandlerFuncs[T]{UpdateFunc: func(_, _ T) { w.changed(k.namespace, k.name) }})
	ctx, cancel := context.WithCancel(w.ctx)
	go inf.Run(ctx)
	w.objs[k] = &watched[T]{inf: inf, cancel: cancel, refs: 1}
}

func (w *Watcher[T]) releaseLocked(keys []key) {
	for _, k := range keys {
		o := w.objs[k]
		if o.refs--; o.refs == 0 {
			o.cancel()
			delete(w.objs, k)
		}
	}
}
