// Package replicaset is the ReplicaSet controller: it keeps spec.replicas
// active pods from each ReplicaSet's template, adopts matching orphans,
// releases pods whose labels no longer match, and reports status. The
// same logic reconciles ReplicationControllers (NewReplicationController),
// seen as ReplicaSets whose selector is their label map.
//
// A sync is two pure decisions, each followed by its writes: DecideClaim
// (which pods to adopt and release) and Decide (how many pods to create,
// which to delete, the status); the executor writes through a narrow
// writer and keeps the expectations.
package replicaset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/controller"
	"keel.dev/keel/pkg/labelselector"
	"keel.dev/keel/pkg/scheme"
)

// BurstReplicas bounds the creates or deletes of one sync, as in
// Kubernetes; the next sync continues.
const BurstReplicas = 500

// Kind is what the controller needs of a kind it reconciles as a
// ReplicaSet.
type Kind[T scheme.Object] struct {
	// Name is the kind, as controller references name it.
	Name string
	// AsReplicaSet is obj seen as a ReplicaSet (metadata, spec and
	// status); it may share obj's fields and is never modified.
	AsReplicaSet func(obj T) *appsv1.ReplicaSet
	// WithStatus returns a copy of obj with status st.
	WithStatus func(obj T, st *appsv1.ReplicaSetStatus) T
}

// replicaSetKind is ReplicaSet itself.
var replicaSetKind = Kind[*appsv1.ReplicaSet]{
	Name:         "ReplicaSet",
	AsReplicaSet: func(rs *appsv1.ReplicaSet) *appsv1.ReplicaSet { return rs },
	WithStatus: func(rs *appsv1.ReplicaSet, st *appsv1.ReplicaSetStatus) *appsv1.ReplicaSet {
		next := proto.Clone(rs).(*appsv1.ReplicaSet)
		next.Status = st
		return next
	},
}

// Controller reconciles the objects of kind T (ReplicaSets or
// ReplicationControllers). Create it with New or
// NewReplicationController, then Run.
type Controller[T scheme.Object] struct {
	client     *client.Client
	kind       Kind[T]
	rs         *informer.Informer[T]
	pods       *informer.Informer[*corev1.Pod]
	queue      workqueue.Interface[string]
	exp        *controller.Expectations
	podControl controller.PodControl
	clock      clock.Clock
	log        *zap.Logger
}

// New registers the ReplicaSet controller's handlers on f's ReplicaSet
// and Pod informers. rec may be nil (no events); log may be nil.
func New(c *client.Client, f *informer.Factory, rec record.EventRecorder, log *zap.Logger) *Controller[*appsv1.ReplicaSet] {
	return newController(c, f, rec, log, "replicaset", replicaSetKind)
}

// newController registers the handlers of the controller of kind on f's
// informers of T and pods; name names its queue and logger.
func newController[T scheme.Object](c *client.Client, f *informer.Factory, rec record.EventRecorder, log *zap.Logger, name string, kind Kind[T]) *Controller[T] {
	if log == nil {
		log = zap.NewNop()
	}
	exp := controller.NewExpectations(nil)
	ctl := &Controller[T]{client: c, kind: kind, rs: informer.For[T](f), pods: f.Pods(), queue: workqueue.New[string](name),
		exp: exp, podControl: controller.PodControl{Client: c, Recorder: rec, Expectations: exp},
		clock: clock.RealClock{}, log: log.Named(name)}
	ctl.rs.AddEventHandler(informer.HandlerFuncs[T]{
		AddFunc:    func(rs T) { ctl.queue.Add(informer.KeyOf(rs)) },
		UpdateFunc: func(_, rs T) { ctl.queue.Add(informer.KeyOf(rs)) },
		DeleteFunc: func(rs T) {
			ctl.exp.Forget(informer.KeyOf(rs))
			ctl.queue.Add(informer.KeyOf(rs))
		},
	})
	ctl.pods.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
		AddFunc:    ctl.podAdded,
		UpdateFunc: ctl.podUpdated,
		DeleteFunc: ctl.podDeleted,
	})
	return ctl
}

// Run waits for the caches, then runs workers until ctx ends.
func (c *Controller[T]) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.rs.HasSynced, c.pods.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

// owner returns the key of the ReplicaSet that controls pod, if it is in
// the cache.
func (c *Controller[T]) owner(pod *corev1.Pod) (string, bool) {
	ref := api.ControllerRef(pod.GetMetadata())
	if ref == nil || ref.GetKind() != c.kind.Name {
		return "", false
	}
	rs, ok := c.rs.Store().GetByName(pod.GetMetadata().GetNamespace(), ref.GetName())
	if !ok || rs.GetMetadata().GetUid() != ref.GetUid() {
		return "", false
	}
	return informer.KeyOf(rs), true
}

// enqueueMatching queues every ReplicaSet whose selector matches an orphan
// pod, so that one may adopt it.
func (c *Controller[T]) enqueueMatching(pod *corev1.Pod) {
	selector := func(rs T) *metav1.LabelSelector { return c.kind.AsReplicaSet(rs).GetSpec().GetSelector() }
	if err := controller.EnqueueSelecting(c.queue, c.rs, selector, pod); err != nil {
		c.log.Error("listing ReplicaSets", zap.Error(err))
	}
}

func (c *Controller[T]) podAdded(pod *corev1.Pod) {
	if pod.GetMetadata().GetDeletionTimestamp() != nil {
		c.podDeleted(pod) // seen for the first time already being deleted
		return
	}
	if key, ok := c.owner(pod); ok {
		c.exp.CreationObserved(key)
		c.queue.Add(key)
		return
	}
	if api.ControllerRef(pod.GetMetadata()) == nil {
		c.enqueueMatching(pod)
	}
}

func (c *Controller[T]) podUpdated(old, pod *corev1.Pod) {
	if old.GetMetadata().GetResourceVersion() == pod.GetMetadata().GetResourceVersion() {
		return // a resync: nothing changed
	}
	key, owned := c.owner(pod)
	if pod.GetMetadata().GetDeletionTimestamp() != nil && owned {
		c.exp.DeletionObserved(key, pod.GetMetadata().GetUid())
	}
	if oldKey, ok := c.owner(old); ok && (!owned || oldKey != key) {
		c.queue.Add(oldKey) // released or moved: the old owner is short of a pod
	}
	switch {
	case owned:
		c.queue.Add(key)
		// A pod that just turned ready becomes available minReadySeconds
		// later: look again then.
		if !api.IsPodReady(old) && api.IsPodReady(pod) {
			if obj, ok := c.rs.Store().Get(key); ok && c.kind.AsReplicaSet(obj).GetSpec().GetMinReadySeconds() > 0 {
				c.queue.AddAfter(key, time.Duration(c.kind.AsReplicaSet(obj).GetSpec().GetMinReadySeconds())*time.Second+time.Second)
			}
		}
	case api.ControllerRef(pod.GetMetadata()) == nil:
		c.enqueueMatching(pod)
	}
}

func (c *Controller[T]) podDeleted(pod *corev1.Pod) {
	if key, ok := c.owner(pod); ok {
		c.exp.DeletionObserved(key, pod.GetMetadata().GetUid())
		c.queue.Add(key)
	}
}

// sync reconciles one ReplicaSet: it reads the caches, decides the claim
// (DecideClaim) and applies it, then decides the rest (Decide) and applies
// that.
func (c *Controller[T]) sync(ctx context.Context, key string) error {
	obj, ok := c.rs.Store().Get(key)
	if !ok {
		c.exp.Forget(key)
		return nil
	}
	rs := c.kind.AsReplicaSet(obj)
	sel, err := labelselector.Parse(rs.GetSpec().GetSelector())
	if err != nil {
		c.log.Warn("invalid selector; skipping", zap.String("replicaset", key), zap.Error(err))
		return nil
	}
	satisfied := c.exp.Satisfied(key)
	pods, err := c.pods.Store().ByIndex(informer.NamespaceIndex, rs.GetMetadata().GetNamespace())
	if err != nil {
		return err
	}
	w := clientWriter[T]{c.client, c.podControl}
	owned, err := controller.ApplyClaim(ctx, DecideClaim(rs, sel, pods), func(ctx context.Context, p *corev1.Pod, release bool) error {
		return w.setOwner(ctx, p, obj, release)
	})
	if err != nil {
		return err
	}
	plan := Decide(Input{RS: rs, Owned: owned, Satisfied: satisfied, Now: c.clock.Now()})
	if plan.Status != nil && proto.Equal(c.kind.AsReplicaSet(c.kind.WithStatus(obj, plan.Status)).GetStatus(), rs.GetStatus()) {
		plan.Status = nil // the kind's status cannot say what changed
	}
	return c.apply(ctx, w, key, obj, plan)
}

// writer is what the executor writes through, for owners of kind T.
type writer[T scheme.Object] interface {
	// setOwner makes rs the pod's controller, or with release removes
	// its controller reference; a pod gone is not an error.
	setOwner(ctx context.Context, p *corev1.Pod, rs T, release bool) error
	// createPod and deletePod create a pod of rs from its template and
	// delete one, under key's expectations, recording events.
	createPod(ctx context.Context, key string, rs T, t *corev1.PodTemplateSpec) error
	deletePod(ctx context.Context, key string, rs T, p *corev1.Pod) error
	// updateStatus writes rs's status; an owner gone is not an error.
	updateStatus(ctx context.Context, rs T) error
}

// apply performs plan: the creates (under expectations, in batches of 1,
// 2, 4, … that stop at the first failing batch, so a refused template
// fails fast) or the deletes (concurrently), then the status.
func (c *Controller[T]) apply(ctx context.Context, w writer[T], key string, rs T, plan Plan) error {
	var manageErr error
	switch {
	case plan.Create > 0:
		c.exp.Expect(key, plan.Create, nil)
		t := c.kind.AsReplicaSet(rs).GetSpec().GetTemplate()
		tried, err := slowStart(plan.Create, func() error { return w.createPod(ctx, key, rs, t) })
		for range plan.Create - tried {
			c.exp.CreationObserved(key) // never tried
		}
		manageErr = err
	case len(plan.Delete) > 0:
		uids := make([]string, len(plan.Delete))
		for i, p := range plan.Delete {
			uids[i] = p.GetMetadata().GetUid()
		}
		c.exp.Expect(key, 0, uids)
		errs := make([]error, len(plan.Delete))
		var wg sync.WaitGroup
		for i, p := range plan.Delete {
			wg.Go(func() { errs[i] = w.deletePod(ctx, key, rs, p) })
		}
		wg.Wait()
		manageErr = errors.Join(errs...)
	}
	if plan.Status != nil {
		if err := w.updateStatus(ctx, c.kind.WithStatus(rs, plan.Status)); err != nil {
			return errors.Join(manageErr, fmt.Errorf("updating status: %w", err))
		}
	}
	if manageErr == nil && plan.RequeueAfter > 0 {
		c.queue.AddAfter(key, plan.RequeueAfter)
	}
	return manageErr
}

// clientWriter writes through the API.
type clientWriter[T scheme.Object] struct {
	client     *client.Client
	podControl controller.PodControl
}

func (w clientWriter[T]) setOwner(ctx context.Context, p *corev1.Pod, rs T, release bool) error {
	if release {
		return controller.SetControllerRef(ctx, w.client, p, nil)
	}
	return controller.SetControllerRef(ctx, w.client, p, rs)
}

func (w clientWriter[T]) createPod(ctx context.Context, key string, rs T, t *corev1.PodTemplateSpec) error {
	return w.podControl.Create(ctx, key, rs, t)
}

func (w clientWriter[T]) deletePod(ctx context.Context, key string, rs T, p *corev1.Pod) error {
	return w.podControl.Delete(ctx, key, rs, p)
}

func (w clientWriter[T]) updateStatus(ctx context.Context, rs T) error {
	_, err := client.For[T](w.client, rs.GetMetadata().GetNamespace()).UpdateStatus(ctx, rs, client.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// slowStart calls f n times in batches of 1, 2, 4, …, the calls of a batch
// in parallel, and stops after the first batch with a failure. It returns
// how many calls it made and the errors of the failing batch.
func slowStart(n int, f func() error) (int, error) {
	tried := 0
	for batch := 1; tried < n; batch *= 2 {
		size := min(batch, n-tried)
		errs := make([]error, size)
		var wg sync.WaitGroup
		for i := range size {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = f()
			}()
		}
		wg.Wait()
		tried += size
		if err := errors.Join(errs...); err != nil {
			return tried, err
		}
	}
	return tried, nil
}
