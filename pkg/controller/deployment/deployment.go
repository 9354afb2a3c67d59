// Package deployment is the Deployment controller: it rolls a Deployment's
// pod template out through ReplicaSets, one per template (named
// <deployment>-<pod-template-hash>), with the RollingUpdate strategy
// (maxSurge / maxUnavailable) or Recreate, keeps revisionHistoryLimit old
// ReplicaSets for rollbacks, and reports status and the Available and
// Progressing conditions.
package deployment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
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

// Controller reconciles Deployments. Create it with New, then Run.
type Controller struct {
	client *client.Client
	d      *informer.Informer[*appsv1.Deployment]
	rs     *informer.Informer[*appsv1.ReplicaSet]
	pods   *informer.Informer[*corev1.Pod]
	queue  workqueue.Interface[string]
	rec    record.EventRecorder
	clock  clock.Clock
	log    *zap.Logger
}

// New registers the controller's handlers on f's Deployment, ReplicaSet
// and Pod informers. rec may be nil (no events); log may be nil.
func New(c *client.Client, f *informer.Factory, rec record.EventRecorder, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	ctl := &Controller{client: c, d: f.Deployments(), rs: f.ReplicaSets(), pods: f.Pods(),
		queue: workqueue.New[string]("deployment"), rec: rec, clock: clock.RealClock{}, log: log.Named("deployment")}
	ctl.d.AddEventHandler(informer.HandlerFuncs[*appsv1.Deployment]{
		AddFunc:    func(d *appsv1.Deployment) { ctl.queue.Add(informer.KeyOf(d)) },
		UpdateFunc: func(_, d *appsv1.Deployment) { ctl.queue.Add(informer.KeyOf(d)) },
		DeleteFunc: func(d *appsv1.Deployment) { ctl.queue.Add(informer.KeyOf(d)) },
	})
	ctl.rs.AddEventHandler(informer.HandlerFuncs[*appsv1.ReplicaSet]{
		AddFunc:    ctl.rsChanged,
		UpdateFunc: func(old, rs *appsv1.ReplicaSet) { ctl.rsChanged(old); ctl.rsChanged(rs) },
		DeleteFunc: ctl.rsChanged,
	})
	// Recreate waits for the old pods to be gone.
	ctl.pods.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{DeleteFunc: ctl.podDeleted})
	return ctl
}

// Run waits for the caches, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.d.HasSynced, c.rs.HasSynced, c.pods.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

// rsChanged queues the Deployment that controls rs, or those whose
// selector matches it when it is an orphan.
func (c *Controller) rsChanged(rs *appsv1.ReplicaSet) {
	ns := rs.GetMetadata().GetNamespace()
	if ref := api.ControllerRef(rs.GetMetadata()); ref != nil {
		if ref.GetKind() == "Deployment" {
			c.queue.Add(informer.Key(ns, ref.GetName()))
		}
		return
	}
	all, _ := c.d.Store().ByIndex(informer.NamespaceIndex, ns)
	for _, d := range all {
		if labelselector.Matches(d.GetSpec().GetSelector(), rs.GetMetadata().GetLabels()) {
			c.queue.Add(informer.KeyOf(d))
		}
	}
}

func (c *Controller) podDeleted(p *corev1.Pod) {
	ref := api.ControllerRef(p.GetMetadata())
	if ref == nil || ref.GetKind() != "ReplicaSet" {
		return
	}
	if rs, ok := c.rs.Store().GetByName(p.GetMetadata().GetNamespace(), ref.GetName()); ok {
		c.rsChanged(rs)
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	d, ok := c.d.Store().Get(key)
	if !ok {
		return nil
	}
	sel, err := labelselector.Parse(d.GetSpec().GetSelector())
	if err != nil || sel.Empty() {
		c.log.Warn("invalid selector; skipping", zap.String("deployment", key), zap.Error(err))
		return nil
	}
	owned, err := c.claim(ctx, d, sel)
	if err != nil {
		return err
	}
	var newRS *appsv1.ReplicaSet
	var olds []*appsv1.ReplicaSet
	for _, rs := range owned {
		if newRS == nil && sameTemplate(rs, d.GetSpec().GetTemplate()) {
			newRS = rs
		} else {
			olds = append(olds, rs)
		}
	}
	if d.GetMetadata().GetDeletionTimestamp() != nil || d.GetSpec().GetPaused() {
		return c.syncStatus(ctx, d, newRS, owned)
	}
	if newRS, err = c.ensureNew(ctx, d, newRS, olds); err != nil {
		return err
	}
	if newRS == nil {
		return nil // a hash collision: the status update brings the next try
	}
	all := append([]*appsv1.ReplicaSet{newRS}, olds...)
	if d.GetSpec().GetStrategy().GetType() == "Recreate" {
		err = c.recreate(ctx, d, newRS, olds)
	} else {
		err = c.rolling(ctx, d, newRS, olds, all)
	}
	if err != nil {
		return err
	}
	if err := c.cleanup(ctx, d, olds); err != nil {
		return err
	}
	return c.syncStatus(ctx, d, newRS, all)
}

// claim returns the ReplicaSets d controls, adopting orphans its selector
// matches.
func (c *Controller) claim(ctx context.Context, d *appsv1.Deployment, sel labels.Selector) ([]*appsv1.ReplicaSet, error) {
	uid := d.GetMetadata().GetUid()
	all, _ := c.rs.Store().ByIndex(informer.NamespaceIndex, d.GetMetadata().GetNamespace())
	var owned []*appsv1.ReplicaSet
	for _, rs := range all {
		ref := api.ControllerRef(rs.GetMetadata())
		switch {
		case ref != nil && ref.GetUid() == uid:
			owned = append(owned, rs)
		case ref == nil && rs.GetMetadata().GetDeletionTimestamp() == nil && d.GetMetadata().GetDeletionTimestamp() == nil &&
			sel.Matches(labels.Set(rs.GetMetadata().GetLabels())):
			next := proto.Clone(rs).(*appsv1.ReplicaSet)
			next.Metadata.OwnerReferences = append(next.Metadata.OwnerReferences, controller.NewControllerRef(d))
			adopted, err := c.client.ReplicaSets(rs.GetMetadata().GetNamespace()).Update(ctx, next, client.UpdateOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("adopting ReplicaSet %s: %w", rs.GetMetadata().GetName(), err)
			}
			if err == nil {
				owned = append(owned, adopted)
			}
		}
	}
	return owned, nil
}

// ensureNew returns the ReplicaSet of d's current template, creating it
// (with the replicas the strategy allows now) or moving its revision to
// the newest. It returns nil after a hash collision with a ReplicaSet of
// another template, having counted it in status.collisionCount.
func (c *Controller) ensureNew(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	var maxRev int64
	for _, rs := range olds {
		maxRev = max(maxRev, revision(rs))
	}
	ns := d.GetMetadata().GetNamespace()
	if newRS != nil {
		if revision(newRS) > maxRev {
			return newRS, nil
		}
		next := proto.Clone(newRS).(*appsv1.ReplicaSet) // a rollback to an old template
		if next.Metadata.Annotations == nil {
			next.Metadata.Annotations = map[string]string{}
		}
		next.Metadata.Annotations[api.DeploymentRevisionAnnotation] = strconv.FormatInt(maxRev+1, 10)
		return c.client.ReplicaSets(ns).Update(ctx, next, client.UpdateOptions{})
	}
	collisions := d.GetStatus().GetCollisionCount()
	hash := TemplateHash(d.GetSpec().GetTemplate(), collisions)
	var n int32
	if d.GetSpec().GetStrategy().GetType() != "Recreate" {
		n = rollingScaleUp(d, &appsv1.ReplicaSet{Spec: &appsv1.ReplicaSetSpec{Replicas: new(int32)}}, olds)
	}
	rs := newReplicaSet(d, hash, maxRev+1, n)
	rs.Metadata.OwnerReferences = []*metav1.OwnerReference{controller.NewControllerRef(d)}
	created, err := c.client.ReplicaSets(ns).Create(ctx, rs, client.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// Another template's ReplicaSet has this name: count the collision,
		// which changes the hash.
		next := proto.Clone(d).(*appsv1.Deployment)
		if next.Status == nil {
			next.Status = &appsv1.DeploymentStatus{}
		}
		collisions++
		next.Status.CollisionCount = &collisions
		_, err := c.client.Deployments(ns).UpdateStatus(ctx, next, client.UpdateOptions{})
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("creating ReplicaSet %s: %w", rs.GetMetadata().GetName(), err)
	}
	c.event(d, record.Normal, "ScalingReplicaSet", "Scaled up replica set %s to %d", created.GetMetadata().GetName(), n)
	return created, nil
}

// rolling moves one step of a rolling update: the new ReplicaSet up as far
// as maxSurge allows, the old ones down as far as maxUnavailable allows.
func (c *Controller) rolling(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds, all []*appsv1.ReplicaSet) error {
	if n := rollingScaleUp(d, newRS, all); n != replicas(newRS.GetSpec().Replicas) {
		return c.scale(ctx, d, newRS, n) // the ReplicaSet's update brings the next step
	}
	if n := replicas(d.GetSpec().Replicas); replicas(newRS.GetSpec().Replicas) > n {
		return c.scale(ctx, d, newRS, n) // scaled down
	}
	var errs []error
	for rs, n := range rollingScaleDown(d, newRS, olds) {
		errs = append(errs, c.scale(ctx, d, rs, n))
	}
	return errors.Join(errs...)
}

// recreate scales every old ReplicaSet to zero, waits until their pods are
// gone, then scales the new one up.
func (c *Controller) recreate(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) error {
	oldUIDs := map[string]bool{}
	var errs []error
	for _, rs := range olds {
		oldUIDs[rs.GetMetadata().GetUid()] = true
		if replicas(rs.GetSpec().Replicas) != 0 {
			errs = append(errs, c.scale(ctx, d, rs, 0))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	pods, _ := c.pods.Store().ByIndex(informer.NamespaceIndex, d.GetMetadata().GetNamespace())
	for _, p := range pods {
		if ref := api.ControllerRef(p.GetMetadata()); ref != nil && oldUIDs[ref.GetUid()] {
			phase := p.GetStatus().GetPhase()
			if phase != "Succeeded" && phase != "Failed" {
				return nil // an old pod still runs: its deletion brings the next try
			}
		}
	}
	if n := replicas(d.GetSpec().Replicas); replicas(newRS.GetSpec().Replicas) != n {
		return c.scale(ctx, d, newRS, n)
	}
	return nil
}

// cleanup deletes the oldest scaled-down ReplicaSets beyond
// revisionHistoryLimit.
func (c *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, olds []*appsv1.ReplicaSet) error {
	limit := int32(10)
	if l := d.GetSpec().RevisionHistoryLimit; l != nil {
		limit = *l
	}
	var idle []*appsv1.ReplicaSet
	for _, rs := range olds {
		if replicas(rs.GetSpec().Replicas) == 0 && rs.GetStatus().GetReplicas() == 0 && rs.GetMetadata().GetDeletionTimestamp() == nil {
			idle = append(idle, rs)
		}
	}
	if int32(len(idle)) <= limit {
		return nil
	}
	sort.SliceStable(idle, func(i, j int) bool { return revision(idle[i]) < revision(idle[j]) })
	for _, rs := range idle[:int32(len(idle))-limit] {
		_, _, err := c.client.ReplicaSets(rs.GetMetadata().GetNamespace()).Delete(ctx, rs.GetMetadata().GetName(),
			client.DeleteOptions{Preconditions: &client.Preconditions{UID: rs.GetMetadata().GetUid()}})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// scale sets a ReplicaSet's spec.replicas (from the cached copy: a
// conflict means a newer one is on its way, and the key is retried).
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, n int32) error {
	old := replicas(rs.GetSpec().Replicas)
	next := proto.Clone(rs).(*appsv1.ReplicaSet)
	next.Spec.Replicas = &n
	if _, err := c.client.ReplicaSets(rs.GetMetadata().GetNamespace()).Update(ctx, next, client.UpdateOptions{}); err != nil {
		return fmt.Errorf("scaling ReplicaSet %s to %d: %w", rs.GetMetadata().GetName(), n, err)
	}
	verb := "up"
	if n < old {
		verb = "down"
	}
	c.event(d, record.Normal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", verb, rs.GetMetadata().GetName(), old, n)
	return nil
}

// syncStatus writes d's status when it changed, and looks again when the
// progress deadline would pass.
func (c *Controller) syncStatus(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, all []*appsv1.ReplicaSet) error {
	now := c.clock.Now()
	st := Status(d, newRS, all, now)
	if prog := findCondition(st, "Progressing"); prog.GetReason() == "ReplicaSetUpdated" {
		deadline := prog.GetLastUpdateTime().AsTime().Add(time.Duration(progressDeadline(d))*time.Second + time.Second)
		c.queue.AddAfter(informer.KeyOf(d), deadline.Sub(now))
	}
	if proto.Equal(st, d.GetStatus()) {
		return nil
	}
	next := proto.Clone(d).(*appsv1.Deployment)
	next.Status = st
	if _, err := c.client.Deployments(d.GetMetadata().GetNamespace()).UpdateStatus(ctx, next, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating status: %w", err)
	}
	if slices.ContainsFunc(st.GetConditions(), func(c *appsv1.DeploymentCondition) bool { return c.GetReason() == "ProgressDeadlineExceeded" }) &&
		!slices.ContainsFunc(d.GetStatus().GetConditions(), func(c *appsv1.DeploymentCondition) bool { return c.GetReason() == "ProgressDeadlineExceeded" }) {
		c.event(d, record.Warning, "ProgressDeadlineExceeded", "Deployment has timed out progressing")
	}
	return nil
}

func (c *Controller) event(d *appsv1.Deployment, typ, reason, format string, args ...any) {
	if c.rec != nil {
		c.rec.Eventf(d, typ, reason, format, args...)
	}
}
