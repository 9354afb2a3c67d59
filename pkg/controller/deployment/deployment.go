// Package deployment is the Deployment controller: it rolls a Deployment's
// pod template out through ReplicaSets, one per template (named
// <deployment>-<pod-template-hash>), with the RollingUpdate strategy
// (maxSurge / maxUnavailable) or Recreate, keeps revisionHistoryLimit old
// ReplicaSets for rollbacks, and reports status and the Available and
// Progressing conditions.
//
// A sync is two pure decisions, each followed by its writes:
// controller.DecideClaim (the orphan ReplicaSets to adopt) and Decide (the
// Plan: the new ReplicaSet, the scales, the old ReplicaSets to delete, the
// status); the executor writes through a narrow writer.
package deployment

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
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
	all, err := c.d.Store().ByIndex(informer.NamespaceIndex, ns)
	if err != nil {
		c.log.Error("listing Deployments", zap.Error(err))
		return
	}
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

// sync reconciles one Deployment: it reads the caches, decides the claim
// (controller.DecideClaim) and adopts, then decides the rest (Decide) and
// applies it.
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
	ns := d.GetMetadata().GetNamespace()
	rss, err := c.rs.Store().ByIndex(informer.NamespaceIndex, ns)
	if err != nil {
		return err
	}
	w := clientWriter{c.client, c.rec}
	// Unlike a ReplicaSet's pods, a controlled ReplicaSet whose labels
	// stopped matching is kept.
	claim := controller.DecideClaim(d.GetMetadata(), sel, rss, controller.ClaimOptions[*appsv1.ReplicaSet]{})
	var owned []*appsv1.ReplicaSet
	adopted := map[*appsv1.ReplicaSet]*appsv1.ReplicaSet{}
	for _, rs := range claim.Adopt {
		got, err := w.adopt(ctx, d, rs)
		if err != nil {
			return err
		}
		adopted[rs] = got // nil: gone meanwhile
	}
	for _, rs := range claim.Owned {
		if got, ok := adopted[rs]; ok {
			rs = got
		}
		if rs != nil {
			owned = append(owned, rs)
		}
	}
	in := Input{Deployment: d, Owned: owned, Now: c.clock.Now()}
	if d.GetSpec().GetStrategy().GetType() == api.RecreateDeploymentStrategyType {
		if in.Pods, err = c.pods.Store().ByIndex(informer.NamespaceIndex, ns); err != nil {
			return err
		}
	}
	plan := Decide(in)
	if plan.RequeueAfter > 0 {
		c.queue.AddAfter(key, plan.RequeueAfter)
	}
	return apply(ctx, w, d, plan)
}

// writer is what the executor writes through. Each write of a
// ReplicaSet returns the ReplicaSet as written.
type writer interface {
	// adopt makes d the controller of the orphan rs; nil, nil when rs is
	// gone.
	adopt(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error)
	createRS(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error)
	// updateRS writes rs (from the cached copy: a conflict means a newer
	// one is on its way, and the key is retried).
	updateRS(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error)
	// deleteRS deletes rs if it still has its uid; gone is not an error.
	deleteRS(ctx context.Context, rs *appsv1.ReplicaSet) error
	// updateStatus writes d's status; a Deployment gone is not an error.
	updateStatus(ctx context.Context, d *appsv1.Deployment) error
	event(d *appsv1.Deployment, e controller.Event)
}

// apply performs plan in the order Plan documents.
func apply(ctx context.Context, w writer, d *appsv1.Deployment, plan Plan) error {
	ns := d.GetMetadata().GetNamespace()
	written := map[*appsv1.ReplicaSet]*appsv1.ReplicaSet{} // planned → as written
	switch {
	case plan.Create != nil:
		created, err := w.createRS(ctx, plan.Create)
		if apierrors.IsAlreadyExists(err) {
			// Another template's ReplicaSet has this name: count the
			// collision, which changes the hash; the status update brings
			// the next try.
			next := proto.Clone(d).(*appsv1.Deployment)
			if next.Status == nil {
				next.Status = &appsv1.DeploymentStatus{}
			}
			collisions := d.GetStatus().GetCollisionCount() + 1
			next.Status.CollisionCount = &collisions
			return w.updateStatus(ctx, next)
		}
		if err != nil {
			return fmt.Errorf("creating ReplicaSet %s: %w", plan.Create.GetMetadata().GetName(), err)
		}
		w.event(d, controller.Event{Type: record.Normal, Reason: "ScalingReplicaSet",
			Message: fmt.Sprintf("Scaled up replica set %s to %d", created.GetMetadata().GetName(), replicas(plan.Create.GetSpec().Replicas))})
		written[plan.Create] = created
	case plan.SetRevision != nil:
		next := proto.Clone(plan.SetRevision).(*appsv1.ReplicaSet)
		if next.Metadata.Annotations == nil {
			next.Metadata.Annotations = map[string]string{}
		}
		next.Metadata.Annotations[api.DeploymentRevisionAnnotation] = strconv.FormatInt(plan.Revision, 10)
		updated, err := w.updateRS(ctx, next)
		if err != nil {
			return fmt.Errorf("setting the revision of ReplicaSet %s: %w", next.GetMetadata().GetName(), err)
		}
		written[plan.SetRevision] = updated
	}
	scale := func(s Scale) error {
		rs := s.RS
		if got, ok := written[rs]; ok {
			rs = got
		}
		old := replicas(rs.GetSpec().Replicas)
		next := proto.Clone(rs).(*appsv1.ReplicaSet)
		next.Spec.Replicas = &s.Replicas
		if _, err := w.updateRS(ctx, next); err != nil {
			return fmt.Errorf("scaling ReplicaSet %s to %d: %w", rs.GetMetadata().GetName(), s.Replicas, err)
		}
		w.event(d, scaleEvent(rs, old, s.Replicas))
		return nil
	}
	var errs []error
	for _, s := range plan.Scales {
		errs = append(errs, scale(s))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if plan.ScaleNew != nil {
		if err := scale(*plan.ScaleNew); err != nil {
			return err
		}
	}
	for _, rs := range plan.Delete {
		if err := w.deleteRS(ctx, rs); err != nil {
			return err
		}
	}
	if plan.Status != nil {
		next := proto.Clone(d).(*appsv1.Deployment)
		next.Status = plan.Status
		if err := w.updateStatus(ctx, next); err != nil {
			return fmt.Errorf("updating status of %s/%s: %w", ns, d.GetMetadata().GetName(), err)
		}
		for _, e := range plan.Events {
			w.event(d, e)
		}
	}
	return nil
}

// clientWriter writes through the API.
type clientWriter struct {
	client *client.Client
	rec    record.EventRecorder // nil: no events
}

func (w clientWriter) adopt(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	next := proto.Clone(rs).(*appsv1.ReplicaSet)
	next.Metadata.OwnerReferences = append(next.Metadata.OwnerReferences, controller.NewControllerRef(d))
	adopted, err := w.client.ReplicaSets(rs.GetMetadata().GetNamespace()).Update(ctx, next, client.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("adopting ReplicaSet %s: %w", rs.GetMetadata().GetName(), err)
	}
	return adopted, nil
}

func (w clientWriter) createRS(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	return w.client.ReplicaSets(rs.GetMetadata().GetNamespace()).Create(ctx, rs, client.CreateOptions{})
}

func (w clientWriter) updateRS(ctx context.Context, rs *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	return w.client.ReplicaSets(rs.GetMetadata().GetNamespace()).Update(ctx, rs, client.UpdateOptions{})
}

func (w clientWriter) deleteRS(ctx context.Context, rs *appsv1.ReplicaSet) error {
	_, _, err := w.client.ReplicaSets(rs.GetMetadata().GetNamespace()).Delete(ctx, rs.GetMetadata().GetName(),
		client.DeleteOptions{Preconditions: &client.Preconditions{UID: rs.GetMetadata().GetUid()}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting old ReplicaSet %s: %w", rs.GetMetadata().GetName(), err)
	}
	return nil
}

func (w clientWriter) updateStatus(ctx context.Context, d *appsv1.Deployment) error {
	_, err := w.client.Deployments(d.GetMetadata().GetNamespace()).UpdateStatus(ctx, d, client.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (w clientWriter) event(d *appsv1.Deployment, e controller.Event) {
	controller.RecordEvents(w.rec, d, e)
}
