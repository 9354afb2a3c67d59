// Package replicaset is the ReplicaSet controller: it keeps spec.replicas
// active pods from each ReplicaSet's template, adopts matching orphans,
// releases pods whose labels no longer match, and reports status.
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
	"k8s.io/apimachinery/pkg/labels"
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
	all, _ := c.rs.Store().ByIndex(informer.NamespaceIndex, pod.GetMetadata().GetNamespace())
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
		if !controller.IsPodReady(old) && controller.IsPodReady(pod) {
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

// sync reconciles one ReplicaSet: claim its pods, create or delete toward
// spec.replicas unless earlier writes are still unseen, write status.
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
	owned, err := c.claim(ctx, rs, sel)
	if err != nil {
		return err
	}
	var active []*corev1.Pod
	for _, p := range owned {
		if controller.IsPodActive(p) {
			active = append(active, p)
		}
	}
	var manageErr error
	if satisfied && rs.GetMetadata().GetDeletionTimestamp() == nil {
		manageErr = c.manage(ctx, key, rs, active)
	}
	now := c.clock.Now()
	status, wait := Status(rs, owned, now)
	if !proto.Equal(status, rs.GetStatus()) {
		next := proto.Clone(rs).(*appsv1.ReplicaSet)
		next.Status = status
		if _, err := c.client.ReplicaSets(rs.GetMetadata().GetNamespace()).UpdateStatus(ctx, next, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return errors.Join(manageErr, fmt.Errorf("updating status: %w", err))
		}
	}
	if manageErr == nil && wait > 0 {
		c.queue.AddAfter(key, wait)
	}
	return manageErr
}

// claim returns the pods rs controls after adopting the orphans its
// selector matches and releasing the owned pods it no longer matches.
func (c *Controller) claim(ctx context.Context, rs *appsv1.ReplicaSet, sel labels.Selector) ([]*corev1.Pod, error) {
	uid := rs.GetMetadata().GetUid()
	all, _ := c.pods.Store().ByIndex(informer.NamespaceIndex, rs.GetMetadata().GetNamespace())
	var owned []*corev1.Pod
	var errs []error
	for _, p := range all {
		ref := api.ControllerRef(p.GetMetadata())
		matches := sel.Matches(labels.Set(p.GetMetadata().GetLabels()))
		switch {
		case ref != nil && ref.GetUid() == uid && matches:
			owned = append(owned, p)
		case ref != nil && ref.GetUid() == uid:
			if err := c.setOwner(ctx, p, nil); err != nil {
				errs = append(errs, err)
			}
		case ref == nil && matches && rs.GetMetadata().GetDeletionTimestamp() == nil &&
			p.GetMetadata().GetDeletionTimestamp() == nil && controller.IsPodActive(p):
			if err := c.setOwner(ctx, p, rs); err != nil {
				errs = append(errs, err)
				continue
			}
			owned = append(owned, p)
		}
	}
	return owned, errors.Join(errs...)
}

// setOwner makes rs the pod's controller (adoption), or with rs nil drops
// the pod's controller reference (release). The write carries the cached
// resourceVersion, so a pod changed meanwhile is left for the next sync.
func (c *Controller) setOwner(ctx context.Context, p *corev1.Pod, rs *appsv1.ReplicaSet) error {
	next := proto.Clone(p).(*corev1.Pod)
	refs := slices.DeleteFunc(next.Metadata.OwnerReferences, func(r *metav1.OwnerReference) bool { return r.GetController() })
	if rs != nil {
		refs = append(refs, controller.NewControllerRef(rs))
	}
	next.Metadata.OwnerReferences = refs
	_, err := c.client.Pods(p.GetMetadata().GetNamespace()).Update(ctx, next, client.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		verb := map[bool]string{true: "adopting", false: "releasing"}[rs != nil]
		return fmt.Errorf("%s pod %s: %w", verb, p.GetMetadata().GetName(), err)
	}
	return nil
}

// manage creates or deletes pods so that active has spec.replicas pods, at
// most BurstReplicas per sync. Creates go in batches of 1, 2, 4, … and stop
// at the first failing batch, so a refused template fails fast.
func (c *Controller) manage(ctx context.Context, key string, rs *appsv1.ReplicaSet, active []*corev1.Pod) error {
	want := int(rs.GetSpec().GetReplicas())
	if rs.GetSpec().Replicas == nil {
		want = 1
	}
	diff := len(active) - want
	switch {
	case diff < 0:
		n := min(-diff, BurstReplicas)
		c.exp.Expect(key, n, nil)
		tried, err := slowStart(n, func() error { return c.podControl.Create(ctx, key, rs, rs.GetSpec().GetTemplate()) })
		for range n - tried {
			c.exp.CreationObserved(key) // never tried
		}
		return err
	case diff > 0:
		now := c.clock.Now()
		victims := slices.Clone(active)
		controller.SortToDelete(victims, now)
		victims = victims[:min(diff, BurstReplicas)]
		uids := make([]string, len(victims))
		for i, p := range victims {
			uids[i] = p.GetMetadata().GetUid()
		}
		c.exp.Expect(key, 0, uids)
		errs := make([]error, len(victims))
		var wg sync.WaitGroup
		for i, p := range victims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = c.podControl.Delete(ctx, key, rs, p)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	return nil
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

// Status is the status of rs given the pods it controls at now: replicas
// counts active pods, fullyLabeledReplicas those that carry every template
// label, readyReplicas those ready, availableReplicas those ready for
// minReadySeconds, terminatingReplicas those being deleted. wait, when
// positive, is when a ready pod will become available. Conditions are kept.
func Status(rs *appsv1.ReplicaSet, owned []*corev1.Pod, now time.Time) (*appsv1.ReplicaSetStatus, time.Duration) {
	st := &appsv1.ReplicaSetStatus{ObservedGeneration: rs.GetMetadata().GetGeneration(), Conditions: rs.GetStatus().GetConditions()}
	tmpl := labels.SelectorFromSet(rs.GetSpec().GetTemplate().GetMetadata().GetLabels())
	var terminating int32
	var wait time.Duration
	for _, p := range owned {
		if controller.IsPodTerminating(p) {
			terminating++
		}
		if !controller.IsPodActive(p) {
			continue
		}
		st.Replicas++
		if tmpl.Matches(labels.Set(p.GetMetadata().GetLabels())) {
			st.FullyLabeledReplicas++
		}
		if controller.IsPodReady(p) {
			st.ReadyReplicas++
		}
		available, w := controller.AvailableAt(p, rs.GetSpec().GetMinReadySeconds(), now)
		if available {
			st.AvailableReplicas++
		} else if w > 0 && (wait == 0 || w < wait) {
			wait = w
		}
	}
	st.TerminatingReplicas = &terminating
	return st, wait
}
