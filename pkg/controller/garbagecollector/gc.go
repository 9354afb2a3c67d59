// Package garbagecollector deletes objects whose owners are gone, as
// Kubernetes' garbage collector does, from metadata.ownerReferences:
//
//   - background deletion (the default): once an owner is gone, its
//     dependents are deleted;
//   - foreground: an owner deleted with propagationPolicy Foreground carries
//     the "foregroundDeletion" finalizer; its dependents are deleted first
//     (those with blockOwnerDeletion also in the foreground), then the
//     finalizer is removed and the apiserver removes the owner;
//   - orphan: an owner deleted with propagationPolicy Orphan carries the
//     "orphan" finalizer; its dependents lose their reference to it, then
//     the finalizer is removed.
//
// An object with several owners is deleted only when every owner is gone;
// references to owners that are gone are removed from objects that keep
// another. Owners are confirmed gone with a live read, never from a cache
// alone; likewise foreground and orphan deletion finish on a live list of
// the owner's dependents, so a dependent the informers have not delivered
// yet is still waited for or orphaned.
//
// One goroutine keeps a graph of every watched object (uid, owners,
// dependents) from the informers' events; workers act on the uids it
// queues. The decisions are pure functions (decide.go) of what the graph
// and the live reads show; the workers do the reads and the writes.
package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// object is what the graph keeps of one object.
type object struct {
	kind       *scheme.Kind
	namespace  string
	name, uid  string
	owners     []*metav1.OwnerReference
	deleting   bool // deletionTimestamp set
	finalizers []string
}

// node is an object in the graph with its dependents.
type node struct {
	object
	dependents map[string]*node
}

// GC is the garbage collector. Create it with New, then Run.
type GC struct {
	client *client.Client
	log    *zap.Logger
	synced []func() bool
	// factory makes the informers of kinds Watch adds.
	factory *informer.Factory
	// kindsMu guards kinds, the kinds watched (Watch adds to them).
	kindsMu sync.Mutex
	kinds   []*scheme.Kind
	events  chan event
	queue   workqueue.Interface[string]
	mu      sync.Mutex
	nodes   map[string]*node
	// waiting holds, per owner uid not (yet) in the graph, the objects that
	// name it, linked to it when it appears.
	waiting map[string]map[string]*node
}

type event struct {
	obj     object
	deleted bool
}

// New watches, through f's informers, every kind whose registry strategy
// marks it garbage-collected (Watchers.GarbageCollected). log may be nil.
func New(c *client.Client, f *informer.Factory, log *zap.Logger) *GC {
	if log == nil {
		log = zap.NewNop()
	}
	gc := &GC{client: c, factory: f, log: log.Named("garbagecollector"), events: make(chan event, 1024),
		queue: workqueue.New[string]("garbagecollector"), nodes: map[string]*node{}, waiting: map[string]map[string]*node{}}
	for _, st := range registry.All() {
		if st.Watched().GarbageCollected {
			// Run starts work once these have listed.
			inf := informer.ForKind(f, st.Info())
			gc.synced = append(gc.synced, inf.HasSynced)
			watch(gc, st.Info(), inf)
		}
	}
	return gc
}

// Watch adds a kind served after New (a custom resource, see
// pkg/controller/customresources): its objects join the graph as its
// informer lists them; until then an owner of the kind is still confirmed
// gone only by a live read. Safe to call while the collector runs.
func (gc *GC) Watch(k *scheme.Kind) {
	watch(gc, k, informer.ForKind(gc.factory, k))
}

func watch(gc *GC, k *scheme.Kind, inf *informer.Informer[scheme.Object]) {
	gc.kindsMu.Lock()
	gc.kinds = append(gc.kinds, k)
	gc.kindsMu.Unlock()
	conv := func(obj scheme.Object) object {
		m := obj.GetMetadata()
		return object{kind: k, namespace: m.GetNamespace(), name: m.GetName(), uid: m.GetUid(),
			owners: m.GetOwnerReferences(), deleting: m.GetDeletionTimestamp() != nil, finalizers: m.GetFinalizers()}
	}
	inf.AddEventHandler(informer.HandlerFuncs[scheme.Object]{
		AddFunc:    func(obj scheme.Object) { gc.events <- event{obj: conv(obj)} },
		UpdateFunc: func(_, obj scheme.Object) { gc.events <- event{obj: conv(obj)} },
		DeleteFunc: func(obj scheme.Object) { gc.events <- event{obj: conv(obj), deleted: true} },
	})
}

// Synced reports whether every watched informer has listed.
func (gc *GC) Synced() bool {
	for _, s := range gc.synced {
		if !s() {
			return false
		}
	}
	return true
}

// Run builds the graph from the informers' events and runs workers until
// ctx ends. Work starts once every informer has listed, so that no owner
// is thought gone because its kind has not been listed yet.
func (gc *GC) Run(ctx context.Context, workers int) {
	go gc.buildGraph(ctx)
	if !informer.WaitForCacheSync(ctx, gc.synced...) {
		return
	}
	workqueue.Run(ctx, gc.queue, workers, gc.process)
}

// buildGraph applies every informer event to the graph, in order, and
// queues the uids whose handling it may change.
func (gc *GC) buildGraph(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-gc.events:
			gc.apply(ev)
		}
	}
}

func (gc *GC) apply(ev event) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	o := ev.obj
	n, exists := gc.nodes[o.uid]
	if ev.deleted {
		if !exists {
			return
		}
		delete(gc.nodes, o.uid)
		gc.unlinkLocked(n)
		for uid, d := range n.dependents {
			gc.queue.Add(uid) // their owner is gone
			gc.waitLocked(o.uid, d)
		}
		for _, r := range n.owners {
			gc.queue.Add(r.GetUid()) // a foreground owner may be done waiting
		}
		return
	}
	if !exists {
		n = &node{dependents: gc.waiting[o.uid]}
		if n.dependents == nil {
			n.dependents = map[string]*node{}
		}
		delete(gc.waiting, o.uid)
		gc.nodes[o.uid] = n
	} else {
		gc.unlinkLocked(n)
	}
	n.object = o
	for _, r := range o.owners {
		if owner, ok := gc.nodes[r.GetUid()]; ok {
			owner.dependents[o.uid] = n
			if owner.deleting && slices.Contains(owner.finalizers, api.FinalizerForeground) {
				gc.queue.Add(o.uid) // a dependent of an owner waiting for it
			}
		} else {
			gc.waitLocked(r.GetUid(), n)
			gc.queue.Add(o.uid) // an owner not seen: maybe gone
		}
	}
	if o.deleting && (slices.Contains(o.finalizers, api.FinalizerOrphan) || slices.Contains(o.finalizers, api.FinalizerForeground)) {
		gc.queue.Add(o.uid)
	}
}

// waitLocked records that n names owner, which is not in the graph.
func (gc *GC) waitLocked(owner string, n *node) {
	if gc.waiting[owner] == nil {
		gc.waiting[owner] = map[string]*node{}
	}
	gc.waiting[owner][n.uid] = n
}

// unlinkLocked removes n from its owners' dependents.
func (gc *GC) unlinkLocked(n *node) {
	for _, r := range n.owners {
		if owner, ok := gc.nodes[r.GetUid()]; ok {
			delete(owner.dependents, n.uid)
		} else if w := gc.waiting[r.GetUid()]; w != nil {
			delete(w, n.uid)
			if len(w) == 0 {
				delete(gc.waiting, r.GetUid())
			}
		}
	}
}

// snapshot copies what process needs of uid's node.
func (gc *GC) snapshot(uid string) (object, []object, bool) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	n, ok := gc.nodes[uid]
	if !ok {
		return object{}, nil, false
	}
	deps := make([]object, 0, len(n.dependents))
	for _, d := range n.dependents {
		deps = append(deps, d.object)
	}
	return n.object, deps, true
}

// process handles one uid: an owner being deleted in the foreground or
// orphaning, or a dependent whose owners may be gone.
func (gc *GC) process(ctx context.Context, uid string) error {
	o, deps, ok := gc.snapshot(uid)
	if !ok {
		return nil
	}
	w := decideWork(o)
	var errs []error
	switch {
	case w.Orphan:
		errs = append(errs, gc.orphan(ctx, o))
	case w.Foreground:
		errs = append(errs, gc.foreground(ctx, o, deps))
	}
	if w.Collect {
		errs = append(errs, gc.collect(ctx, o))
	}
	return errors.Join(errs...)
}

// present reports whether the graph holds the owner uid, not being deleted:
// the cache is trusted to say an owner exists, never that it is gone.
func (gc *GC) present(uid string) bool {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	n, ok := gc.nodes[uid]
	return ok && !n.deleting
}

func (gc *GC) ownerState(ctx context.Context, namespace string, ref *metav1.OwnerReference) (ownerState, error) {
	k := kindOf(ref)
	if k == nil {
		return ownerPresent, nil // a kind this cluster does not serve: leave it be
	}
	ns := namespace
	if !k.Namespaced {
		ns = ""
	}
	r, err := gc.client.Resource(k.Resource, ns)
	if err != nil {
		return ownerPresent, err
	}
	obj, err := r.Get(ctx, ref.GetName())
	if apierrors.IsNotFound(err) {
		return ownerGone, nil
	}
	if err != nil {
		return ownerPresent, err
	}
	m := scheme.Meta(obj)
	switch {
	case m.GetUid() != ref.GetUid():
		return ownerGone, nil // a new object of the same name
	case m.GetDeletionTimestamp() != nil && slices.Contains(m.GetFinalizers(), api.FinalizerForeground):
		return ownerWaiting, nil
	}
	return ownerPresent, nil
}

// collect reads o live and the states of its owners (present in the
// graph, else a live read), then does what decideCollect decides.
func (gc *GC) collect(ctx context.Context, o object) error {
	if goingAnyway(o) {
		return nil
	}
	// Decide on the object as it is now, not as the cache last showed it:
	// its owner references may have just changed (an orphaning owner
	// strips them before it goes).
	r, err := gc.client.Resource(o.kind.Resource, o.namespace)
	if err != nil {
		return err
	}
	live, err := r.Get(ctx, o.name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	m := scheme.Meta(live)
	if m.GetUid() != o.uid {
		return nil // another object of that name now
	}
	o.owners, o.deleting, o.finalizers = m.GetOwnerReferences(), m.GetDeletionTimestamp() != nil, m.GetFinalizers()
	if len(o.owners) == 0 || goingAnyway(o) {
		return nil // orphaned since, or already going
	}
	states := make([]ownerState, len(o.owners))
	for i, ref := range o.owners {
		if gc.present(ref.GetUid()) {
			continue // ownerPresent
		}
		if states[i], err = gc.ownerState(ctx, o.namespace, ref); err != nil {
			return err
		}
	}
	c := decideCollect(o, states)
	switch {
	case c.Delete:
		return gc.delete(ctx, o, m.GetResourceVersion(), c.Policy)
	case len(c.RemoveOwners) > 0:
		return gc.update(ctx, o, func(m *metav1.ObjectMeta) bool { return removeOwners(m, c.RemoveOwners...) })
	}
	return nil
}

// foreground deletes o's dependents, and once none that blocks its
// deletion is left (in the graph, then in a live list), removes o's
// foregroundDeletion finalizer.
func (gc *GC) foreground(ctx context.Context, o object, deps []object) error {
	queue, blocked := foregroundDependents(o, deps)
	for _, uid := range queue {
		gc.queue.Add(uid) // it finds its owner waiting and goes
	}
	if blocked {
		return nil // the dependents' deletion events bring o back here
	}
	live, err := gc.liveDependents(ctx, o)
	if err != nil {
		return err
	}
	if d := blockingDependent(o, live); d != nil {
		// Not in the graph yet: its arrival queues it for deletion, and
		// the error retries o with back-off meanwhile.
		return fmt.Errorf("%s %s/%s still waits for %s %s/%s", o.kind.Kind, o.namespace, o.name, d.kind.Kind, d.namespace, d.name)
	}
	return gc.update(ctx, o, func(m *metav1.ObjectMeta) bool {
		return removeFinalizer(m, api.FinalizerForeground)
	})
}

// liveDependents lists every watched kind that can depend on o (in o's
// namespace, or everywhere for a cluster-scoped o) and returns the objects
// naming o as an owner now. Foreground and orphan deletion finish on it
// rather than on the graph, which may not hold a dependent created just
// before its owner was deleted.
func (gc *GC) liveDependents(ctx context.Context, o object) ([]object, error) {
	var deps []object
	gc.kindsMu.Lock()
	kinds := slices.Clone(gc.kinds)
	gc.kindsMu.Unlock()
	for _, k := range kinds {
		if o.kind.Namespaced && !k.Namespaced {
			continue // a cluster-scoped object has no namespaced owner
		}
		r, err := gc.client.Resource(k.Resource, o.namespace)
		if err != nil {
			return nil, err
		}
		list, err := r.List(ctx, client.ListOptions{})
		if err != nil {
			return nil, err
		}
		for _, item := range list.Items {
			m := scheme.Meta(item)
			if refTo(m.GetOwnerReferences(), o.uid) != nil {
				deps = append(deps, object{kind: k, namespace: m.GetNamespace(), name: m.GetName(), uid: m.GetUid(), owners: m.GetOwnerReferences()})
			}
		}
	}
	return deps, nil
}

// orphan removes o from its dependents' owner references, then its orphan
// finalizer.
func (gc *GC) orphan(ctx context.Context, o object) error {
	deps, err := gc.liveDependents(ctx, o)
	if err != nil {
		return err
	}
	for _, d := range deps {
		if err := gc.update(ctx, d, func(m *metav1.ObjectMeta) bool { return removeOwners(m, o.uid) }); err != nil {
			return err
		}
	}
	return gc.update(ctx, o, func(m *metav1.ObjectMeta) bool { return removeFinalizer(m, api.FinalizerOrphan) })
}

// update reads o afresh, applies change to its metadata and writes it back
// if change reports a change; a conflict is retried on a fresh read, an
// object gone (or replaced by another of its name) is left alone.
func (gc *GC) update(ctx context.Context, o object, change func(*metav1.ObjectMeta) bool) error {
	r, err := gc.client.Resource(o.kind.Resource, o.namespace)
	if err != nil {
		return err
	}
	return client.RetryOnConflict(client.DefaultRetry, func() error {
		obj, err := r.Get(ctx, o.name)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		next := proto.Clone(obj)
		m := scheme.Meta(next)
		if m.GetUid() != o.uid || !change(m) {
			return nil
		}
		_, err = r.Update(ctx, next, client.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// delete deletes o if it is still at resourceVersion rv (the version the
// decision was made on); a change since re-queues it for a new decision.
func (gc *GC) delete(ctx context.Context, o object, rv, policy string) error {
	r, err := gc.client.Resource(o.kind.Resource, o.namespace)
	if err != nil {
		return err
	}
	_, _, err = r.Delete(ctx, o.name, client.DeleteOptions{PropagationPolicy: policy,
		Preconditions: &client.Preconditions{UID: o.uid, ResourceVersion: rv}})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting %s %s/%s: %w", o.kind.Kind, o.namespace, o.name, err)
	}
	gc.log.Info("deleted an object whose owners are gone", zap.String("kind", o.kind.Kind), zap.String("namespace", o.namespace),
		zap.String("name", o.name), zap.String("propagation", policy))
	return nil
}

// kindOf is the kind an owner reference names (a custom resource's once
// its definition is followed), or nil.
func kindOf(ref *metav1.OwnerReference) *scheme.Kind {
	if k, ok := scheme.ByGVK(ref.GetApiVersion(), ref.GetKind()); ok {
		return k.StorageKind()
	}
	return nil
}
