// Package disruption is the disruption controller: it keeps each
// PodDisruptionBudget's status (expectedPods, desiredHealthy,
// currentHealthy, disruptionsAllowed, disruptedPods, the
// DisruptionAllowed condition) up to date with the pods the budget
// selects, as Kubernetes' disruption controller does; the eviction
// subresource spends what it allows.
//
// Decide (decide.go) is the whole computation, a pure function of one
// budget, its pods and their controllers' scales; the Controller feeds it
// from the informers' caches on a work queue of budget keys, writes the
// status it returns, and looks at a budget again when an entry of its
// disruptedPods expires.
package disruption

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/controller"
	"keel.dev/keel/pkg/labelselector"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// Controller is the disruption controller.
type Controller struct {
	client  *client.Client
	pdbs    *informer.Informer[*policyv1.PodDisruptionBudget]
	pods    *informer.Informer[*corev1.Pod]
	rss     *informer.Informer[*appsv1.ReplicaSet]
	deploys *informer.Informer[*appsv1.Deployment]
	rec     record.EventRecorder
	queue   workqueue.Interface[string]
	log     *zap.Logger
}

// New returns the controller on f's informers (budgets, pods,
// ReplicaSets, Deployments); the scale of another kind of controller is
// read from the apiserver. rec may be nil (no events); log may be nil.
func New(c *client.Client, f *informer.Factory, rec record.EventRecorder, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	ctl := &Controller{client: c, pdbs: informer.For[*policyv1.PodDisruptionBudget](f), pods: f.Pods(), rss: f.ReplicaSets(),
		deploys: f.Deployments(), rec: rec, queue: workqueue.New[string]("disruption"), log: log.Named("disruption")}
	ctl.pdbs.AddEventHandler(controller.EnqueueHandlers[*policyv1.PodDisruptionBudget](ctl.queue))
	ctl.pods.AddEventHandler(controller.ChangeHandlers(ctl.podChanged))
	return ctl
}

// Synced reports whether the controller's informers have synced.
func (c *Controller) Synced() bool {
	return c.pdbs.HasSynced() && c.pods.HasSynced() && c.rss.HasSynced() && c.deploys.HasSynced()
}

// Run waits for the caches, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.pdbs.HasSynced, c.pods.HasSynced, c.rss.HasSynced, c.deploys.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

// podChanged queues the budgets that select the pod.
func (c *Controller) podChanged(p *corev1.Pod) {
	budgets, err := c.pdbs.Store().ByIndex(informer.NamespaceIndex, p.GetMetadata().GetNamespace())
	if err != nil {
		c.log.Error("listing PodDisruptionBudgets", zap.Error(err))
		return
	}
	for _, b := range budgets {
		if labelselector.Matches(b.GetSpec().GetSelector(), p.GetMetadata().GetLabels()) {
			c.queue.Add(informer.KeyOf(b))
		}
	}
}

func (c *Controller) sync(ctx context.Context, key string) error {
	pdb, ok := c.pdbs.Store().Get(key)
	if !ok {
		return nil
	}
	ns, _, _ := strings.Cut(key, "/")
	all, err := c.pods.Store().ByIndex(informer.NamespaceIndex, ns)
	if err != nil {
		return err
	}
	in := Input{PDB: pdb, Scales: map[string]Scale{}, Now: time.Now()}
	byUID := map[string]*Scale{}
	for _, p := range all {
		if !labelselector.Matches(pdb.GetSpec().GetSelector(), p.GetMetadata().GetLabels()) {
			continue
		}
		in.Pods = append(in.Pods, p)
		ref := api.ControllerRef(p.GetMetadata())
		if ref == nil {
			continue
		}
		s, seen := byUID[ref.GetUid()]
		if !seen {
			if s, err = c.scaleOf(ctx, ns, ref); err != nil {
				return err
			}
			byUID[ref.GetUid()] = s
		}
		if s != nil {
			in.Scales[p.GetMetadata().GetName()] = *s
		}
	}
	plan := Decide(in)
	controller.RecordEvents(c.rec, pdb, plan.Events...)
	if plan.Status != nil {
		next := proto.Clone(pdb).(*policyv1.PodDisruptionBudget)
		next.Status = plan.Status
		if _, err := client.For[*policyv1.PodDisruptionBudget](c.client, ns).UpdateStatus(ctx, next, client.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("updating the status of PodDisruptionBudget %s: %w", key, err)
		}
	}
	if plan.RecheckAfter > 0 {
		c.queue.AddAfter(key, plan.RecheckAfter)
	}
	return nil
}

// scaleOf returns the scale the pods of controller ref count towards:
// a ReplicaSet's controlling Deployment's, a ReplicaSet's or a
// Deployment's from the caches, any other scalable kind's read from the
// apiserver; nil when the controller does not exist (or is another
// object of the same name) or cannot be scaled.
func (c *Controller) scaleOf(ctx context.Context, ns string, ref *metav1.OwnerReference) (*Scale, error) {
	switch {
	case ref.GetKind() == "ReplicaSet" && ref.GetApiVersion() == "apps/v1":
		rs, ok := c.rss.Store().GetByName(ns, ref.GetName())
		if !ok || rs.GetMetadata().GetUid() != ref.GetUid() {
			return nil, nil
		}
		if d := api.ControllerRef(rs.GetMetadata()); d != nil && d.GetKind() == "Deployment" {
			return c.scaleOf(ctx, ns, d)
		}
		return &Scale{UID: ref.GetUid(), Replicas: rs.GetSpec().GetReplicas()}, nil
	case ref.GetKind() == "Deployment" && ref.GetApiVersion() == "apps/v1":
		d, ok := c.deploys.Store().GetByName(ns, ref.GetName())
		if !ok || d.GetMetadata().GetUid() != ref.GetUid() {
			return nil, nil
		}
		return &Scale{UID: ref.GetUid(), Replicas: d.GetSpec().GetReplicas()}, nil
	}
	k, ok := scheme.ByGVK(ref.GetApiVersion(), ref.GetKind())
	if !ok {
		return nil, nil
	}
	sc := registry.For(k).Scale()
	if sc == nil {
		return nil, nil
	}
	obj, err := client.ForKind(c.client, k, ns).Get(ctx, ref.GetName())
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if scheme.Meta(obj).GetUid() != ref.GetUid() {
		return nil, nil
	}
	var n int32
	if r := sc.Replicas(obj); r != nil {
		n = *r
	}
	return &Scale{UID: ref.GetUid(), Replicas: n}, nil
}
