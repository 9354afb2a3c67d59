// Package replicaset is the ReplicaSet controller: it keeps spec.replicas
// active pods from each ReplicaSet's template, adopts matching orphans,
// releases pods whose labels no longer match, and reports status.
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
	"slices"
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
)

// BurstReplicas bounds the creates or deletes of one sync, as in
// Kubernetes; the next sync continues.
const BurstReplicas = 500

// Controller reconciles ReplicaSets. Create it with New, then Run.
type Controller struct {
	client     *client.Client
	rs         *informer.Informer[*appsv1.ReplicaSet]
	pods       *informer.Informer[*corev1.Pod]
	queue      workqueue.Interface[string]
	exp        *controller.Expectations
	podControl controller.PodControl
	clock      clock.Clock
	log        *zap.Logger
}

// New registers the controller's handlers on f's ReplicaSet and Pod
// informers. rec may be nil (no events); log may be nil.
func New(c *client.Client, f *informer.Factory, rec record.EventRecorder, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	exp := controller.NewExpectations(nil)
	ctl := &Controller{client: c, rs: f.ReplicaSets(), pods: f.Pods(), queue: workqueue.New[string]("replicaset"),
		exp: exp, podControl: controller.PodControl{Client: c, Recorder: rec, Expectations: exp},
		clock: clock.RealClock{}, log: log.Named("replicaset")}
	ctl.rs.AddEventHandler(informer.HandlerFuncs[*appsv1.ReplicaSet]{
		AddFunc:    func(rs *appsv1.ReplicaSet) { ctl.queue.Add(informer.KeyOf(rs)) },
		UpdateFunc: func(_, rs *appsv1.ReplicaSet) { ctl.queue.Add(informer.KeyOf(rs)) },
		DeleteFunc: func(rs *appsv1.ReplicaSet) {
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
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.rs.HasSynced, c.pods.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

// owner returns the key of the ReplicaSet that controls pod, if it is in
// the cache.
func (c *Controller) owner(pod *corev1.Pod) (string, bool) {
	ref := api.ControllerRef(pod.GetMetadata())
	if ref == nil || ref.GetKind() != "ReplicaSet" {
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
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	all, err := c.rs.Store().ByIndex(informer.NamespaceIndex, pod.GetMetadata().GetNamespace())
	if err != nil {
		c.log.Error("listing ReplicaSets", zap.Error(err))
		return
	}
	for _, rs := range all {
		if labelselector.Matches(rs.GetSpec().GetSelector(), pod.GetMetadata().GetLabels()) {
			c.queue.Add(informer.KeyOf(rs))
		}
	}
}

func (c *Controller) podAdded(pod *corev1.Pod) {
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

func (c *Controller) podUpdated(old, pod *corev1.Pod) {
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
			if rs, ok := c.rs.Store().Get(key); ok && rs.GetSpec().GetMinReadySeconds() > 0 {
				c.queue.AddAfter(key, time.Duration(rs.GetSpec().GetMinReadySeconds())*time.Second+time.Second)
			}
		}
	case api.ControllerRef(pod.GetMetadata()) == nil:
		c.enqueueMatching(pod)
	}
}

func (c *Controller) podDeleted(pod *corev1.Pod) {
	if key, ok := c.owner(pod); ok {
		c.exp.DeletionObserved(key, pod.GetMetadata().GetUid())
		c.queue.Add(key)
	}
}

// sync reconciles one ReplicaSet: it reads the caches, decides the claim
// (DecideClaim) and applies it, then decides the rest (Decide) and applies
// that.
func (c *Controller) sync(ctx context.Context, key string) error {
	rs, ok := c.rs.Store().Get(key)
	if !ok {
		c.exp.Forget(key)
		return nil
	}
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
	w := clientWriter{c.client, c.podControl}
	owned, err := applyClaim(ctx, w, rs, DecideClaim(rs, sel, pods))
	if err != nil {
		return err
	}
	plan := Decide(Input{RS: rs, Owned: owned, Satisfied: satisfied, Now: c.clock.Now()})
	return c.apply(ctx, w, key, rs, plan)
}

// writer is what the executor writes through.
type writer interface {
	// setOwner makes rs the pod's controller, or with rs nil removes its
	// controller reference; a pod gone is not an error.
	setOwner(ctx context.Context, p *corev1.Pod, rs *appsv1.ReplicaSet) error
	// createPod and deletePod create a pod of rs from its template and
	// delete one, under key's expectations, recording events.
	createPod(ctx context.Context, key string, rs *appsv1.ReplicaSet) error
	deletePod(ctx context.Context, key string, rs *appsv1.ReplicaSet, p *corev1.Pod) error
	// updateStatus writes rs's status; a ReplicaSet gone is not an error.
	updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) error
}

// applyClaim adopts and releases the claim's pods and returns the owned
// ones, without those whose adoption failed.
func applyClaim(ctx context.Context, w writer, rs *appsv1.ReplicaSet, claim controller.Claim[*corev1.Pod]) ([]*corev1.Pod, error) {
	var errs []error
	failed := map[*corev1.Pod]bool{}
	for _, p := range claim.Release {
		errs = append(errs, w.setOwner(ctx, p, nil))
	}
	for _, p := range claim.Adopt {
		if err := w.setOwner(ctx, p, rs); err != nil {
			errs = append(errs, err)
			failed[p] = true
		}
	}
	owned := slices.DeleteFunc(slices.Clone(claim.Owned), func(p *corev1.Pod) bool { return failed[p] })
	return owned, errors.Join(errs...)
}

// apply performs plan: the creates (under expectations, in batches of 1,
// 2, 4, … that stop at the first failing batch, so a refused template
// fails fast) or the deletes (concurrently), then the status.
func (c *Controller) apply(ctx context.Context, w writer, key string, rs *appsv1.ReplicaSet, plan Plan) error {
	var manageErr error
	switch {
	case plan.Create > 0:
		c.exp.Expect(key, plan.Create, nil)
		tried, err := slowStart(plan.Create, func() error { return w.createPod(ctx, key, rs) })
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
		next := proto.Clone(rs).(*appsv1.ReplicaSet)
		next.Status = plan.Status
		if err := w.updateStatus(ctx, next); err != nil {
			return errors.Join(manageErr, fmt.Errorf("updating status: %w", err))
		}
	}
	if manageErr == nil && plan.RequeueAfter > 0 {
		c.queue.AddAfter(key, plan.RequeueAfter)
	}
	return manageErr
}

// clientWriter writes through the API.
type clientWriter struct {
	client     *client.Client
	podControl controller.PodControl
}

func (w clientWriter) setOwner(ctx context.Context, p *corev1.Pod, rs *appsv1.ReplicaSet) error {
	next := proto.Clone(p).(*corev1.Pod)
	refs := slices.DeleteFunc(next.Metadata.OwnerReferences, func(r *metav1.OwnerReference) bool { return r.GetController() })
	if rs != nil {
		refs = append(refs, controller.NewControllerRef(rs))
	}
	next.Metadata.OwnerReferences = refs
	// The write carries the cached resourceVersion, so a pod changed
	// meanwhile is left for the next sync.
	_, err := w.client.Pods(p.GetMetadata().GetNamespace()).Update(ctx, next, client.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		verb := map[bool]string{true: "adopting", false: "releasing"}[rs != nil]
		return fmt.Errorf("%s pod %s: %w", verb, p.GetMetadata().GetName(), err)
	}
	return nil
}

func (w clientWriter) createPod(ctx context.Context, key string, rs *appsv1.ReplicaSet) error {
	return w.podControl.Create(ctx, key, rs, rs.GetSpec().GetTemplate())
}

func (w clientWriter) deletePod(ctx context.Context, key string, rs *appsv1.ReplicaSet, p *corev1.Pod) error {
	return w.podControl.Delete(ctx, key, rs, p)
}

func (w clientWriter) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) error {
	_, err := w.client.ReplicaSets(rs.GetMetadata().GetNamespace()).UpdateStatus(ctx, rs, client.UpdateOptions{})
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
