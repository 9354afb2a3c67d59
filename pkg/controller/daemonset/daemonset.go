// Package daemonset is the DaemonSet controller: one pod of each
// DaemonSet's template on every eligible node (nodeSelector, required node
// affinity, taints against the template's tolerations plus those
// Kubernetes adds to daemon pods), rolled out by RollingUpdate or
// OnDelete, with the template's history kept as ControllerRevisions.
//
// Daemon pods carry a required node affinity on the node's metadata.name
// and are bound by the scheduler, as in Kubernetes 1.12 and later.
//
// A sync reads the caches, brings the history up to date
// (pkg/controller/history), decides (Decide, pure) and applies the plan:
// pod creates and deletes under expectations, then the status.
package daemonset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

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
	"keel.dev/keel/pkg/controller/history"
	"keel.dev/keel/pkg/manifest"
)

// Controller reconciles DaemonSets. Create it with New, then Run.
type Controller struct {
	client     *client.Client
	ds         *informer.Informer[*appsv1.DaemonSet]
	pods       *informer.Informer[*corev1.Pod]
	nodes      *informer.Informer[*corev1.Node]
	revs       *informer.Informer[*appsv1.ControllerRevision]
	queue      workqueue.Interface[string]
	exp        *controller.Expectations
	podControl controller.PodControl
	clock      clock.Clock
	log        *zap.Logger
}

// New registers the controller's handlers on f's informers. rec may be
// nil (no events); log may be nil.
func New(c *client.Client, f *informer.Factory, rec record.EventRecorder, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	exp := controller.NewExpectations(nil)
	ctl := &Controller{client: c, ds: informer.For[*appsv1.DaemonSet](f), pods: f.Pods(), nodes: f.Nodes(),
		revs: informer.For[*appsv1.ControllerRevision](f), queue: workqueue.New[string]("daemonset"),
		exp: exp, podControl: controller.PodControl{Client: c, Recorder: rec, Expectations: exp},
		clock: clock.RealClock{}, log: log.Named("daemonset")}
	ctl.ds.AddEventHandler(informer.HandlerFuncs[*appsv1.DaemonSet]{
		AddFunc:    func(ds *appsv1.DaemonSet) { ctl.queue.Add(informer.KeyOf(ds)) },
		UpdateFunc: func(_, ds *appsv1.DaemonSet) { ctl.queue.Add(informer.KeyOf(ds)) },
		DeleteFunc: func(ds *appsv1.DaemonSet) {
			ctl.exp.Forget(informer.KeyOf(ds))
			ctl.queue.Add(informer.KeyOf(ds))
		},
	})
	ctl.pods.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
		AddFunc: func(p *corev1.Pod) {
			if key, ok := ctl.owner(p); ok {
				ctl.exp.CreationObserved(key)
				ctl.queue.Add(key)
			}
		},
		UpdateFunc: func(old, p *corev1.Pod) {
			if old.GetMetadata().GetResourceVersion() == p.GetMetadata().GetResourceVersion() {
				return
			}
			if key, ok := ctl.owner(p); ok {
				if p.GetMetadata().GetDeletionTimestamp() != nil {
					ctl.exp.DeletionObserved(key, p.GetMetadata().GetUid())
				}
				ctl.queue.Add(key)
			}
		},
		DeleteFunc: func(p *corev1.Pod) {
			if key, ok := ctl.owner(p); ok {
				ctl.exp.DeletionObserved(key, p.GetMetadata().GetUid())
				ctl.queue.Add(key)
			}
		},
	})
	ctl.nodes.AddEventHandler(informer.HandlerFuncs[*corev1.Node]{
		AddFunc: func(*corev1.Node) { ctl.enqueueAll() },
		UpdateFunc: func(old, n *corev1.Node) {
			if nodeChanged(old, n) {
				ctl.enqueueAll()
			}
		},
		DeleteFunc: func(*corev1.Node) { ctl.enqueueAll() },
	})
	return ctl
}

// nodeChanged: what decides a node's daemon pods changed (labels, taints,
// readiness, which the pods' availability follows).
func nodeChanged(old, n *corev1.Node) bool {
	return !proto.Equal(old.GetSpec(), n.GetSpec()) ||
		!equalLabels(old.GetMetadata().GetLabels(), n.GetMetadata().GetLabels())
}

func equalLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Run waits for the caches, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.ds.HasSynced, c.pods.HasSynced, c.nodes.HasSynced, c.revs.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

// Synced reports whether the controller's caches have synced.
func (c *Controller) Synced() bool {
	return c.ds.HasSynced() && c.pods.HasSynced() && c.nodes.HasSynced() && c.revs.HasSynced()
}

func (c *Controller) enqueueAll() {
	for _, ds := range c.ds.Store().List() {
		c.queue.Add(informer.KeyOf(ds))
	}
}

// owner returns the key of the DaemonSet that controls pod, if cached.
func (c *Controller) owner(pod *corev1.Pod) (string, bool) {
	ref := api.ControllerRef(pod.GetMetadata())
	if ref == nil || ref.GetKind() != "DaemonSet" {
		return "", false
	}
	ds, ok := c.ds.Store().GetByName(pod.GetMetadata().GetNamespace(), ref.GetName())
	if !ok || ds.GetMetadata().GetUid() != ref.GetUid() {
		return "", false
	}
	return informer.KeyOf(ds), true
}

// sync reconciles one DaemonSet.
func (c *Controller) sync(ctx context.Context, key string) error {
	ds, ok := c.ds.Store().Get(key)
	if !ok {
		c.exp.Forget(key)
		return nil
	}
	if ds.GetMetadata().GetDeletionTimestamp() != nil {
		return nil // the garbage collector removes its pods and revisions
	}
	ns, uid := ds.GetMetadata().GetNamespace(), ds.GetMetadata().GetUid()
	revs, err := c.revs.Store().ByIndex(informer.NamespaceIndex, ns)
	if err != nil {
		return err
	}
	hp, err := c.history(ctx, ds, history.Owned(revs, uid))
	if err != nil {
		return err
	}
	hash := history.HashOf(hp.Update)
	satisfied := c.exp.Satisfied(key)
	all, err := c.pods.Store().ByIndex(informer.NamespaceIndex, ns)
	if err != nil {
		return err
	}
	var pods []*corev1.Pod
	for _, p := range all {
		if api.ControllerRef(p.GetMetadata()).GetUid() == uid {
			pods = append(pods, p)
		}
	}
	plan := Decide(Input{DS: ds, Nodes: c.nodes.Store().List(), Pods: pods, Hash: hash, Satisfied: satisfied, Now: c.clock.Now()})
	manageErr := c.apply(ctx, key, ds, hash, plan)
	histErr := controller.TruncateRevisions(ctx, c.client, ds.GetMetadata().GetNamespace(), hp.Old,
		history.InUse(pods, history.HashOf), ds.GetSpec().GetRevisionHistoryLimit())
	if !proto.Equal(plan.Status, ds.GetStatus()) {
		if err := c.updateStatus(ctx, ds, plan.Status); err != nil {
			return errors.Join(manageErr, histErr, fmt.Errorf("updating status: %w", err))
		}
	}
	if manageErr == nil && plan.RequeueAfter > 0 {
		c.queue.AddAfter(key, plan.RequeueAfter)
	}
	return errors.Join(manageErr, histErr)
}

// updateStatus writes status onto ds; on a conflict (the cache is behind
// the controller's own last write) it writes it onto a fresh read, as
// Kubernetes does, rather than failing the sync into a back-off. A
// DaemonSet gone is not an error.
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, status *appsv1.DaemonSetStatus) error {
	r := client.For[*appsv1.DaemonSet](c.client, ds.GetMetadata().GetNamespace())
	next := proto.Clone(ds).(*appsv1.DaemonSet)
	err := client.RetryOnConflict(client.DefaultRetry, func() error {
		next.Status = status
		_, err := r.UpdateStatus(ctx, next, client.UpdateOptions{})
		if apierrors.IsConflict(err) {
			fresh, gerr := r.Get(ctx, ds.GetMetadata().GetName())
			if gerr != nil {
				return gerr
			}
			if fresh.GetMetadata().GetGeneration() != ds.GetMetadata().GetGeneration() {
				return nil // a newer spec: its own sync writes the status
			}
			next = fresh
		}
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// RevisionData is what a DaemonSet's ControllerRevision records: the
// JSON of {"spec":{"template":…}}, keys sorted.
func RevisionData(ds *appsv1.DaemonSet) ([]byte, error) {
	m, err := manifest.ToMap(&appsv1.DaemonSet{Spec: &appsv1.DaemonSetSpec{Template: ds.GetSpec().GetTemplate()}})
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"spec": m["spec"]})
}

// history brings ds's revisions up to date with its template and returns
// the plan (Update is stored when it returns). A revision name taken by
// other data bumps status.collisionCount and fails the sync, which then
// retries with the new hash.
func (c *Controller) history(ctx context.Context, ds *appsv1.DaemonSet, revs []*appsv1.ControllerRevision) (history.Plan, error) {
	data, err := RevisionData(ds)
	if err != nil {
		return history.Plan{}, err
	}
	owner := history.Owner{APIVersion: "apps/v1", Kind: "DaemonSet", Meta: ds.GetMetadata()}
	hp := history.Next(owner, revs, ds.GetSpec().GetTemplate().GetMetadata().GetLabels(), data, ds.GetStatus().GetCollisionCount())
	err = controller.StoreRevision(ctx, c.client, ds.GetMetadata().GetNamespace(), owner, hp, func(ctx context.Context) error {
		next := proto.Clone(ds).(*appsv1.DaemonSet)
		if next.Status == nil {
			next.Status = &appsv1.DaemonSetStatus{}
		}
		next.Status.CollisionCount = proto.Int32(ds.GetStatus().GetCollisionCount() + 1)
		_, err := client.For[*appsv1.DaemonSet](c.client, ds.GetMetadata().GetNamespace()).UpdateStatus(ctx, next, client.UpdateOptions{})
		return err
	})
	return hp, err
}

// apply creates and deletes the plan's pods concurrently, under key's
// expectations.
func (c *Controller) apply(ctx context.Context, key string, ds *appsv1.DaemonSet, hash string, plan Plan) error {
	if len(plan.Create) == 0 && len(plan.Delete) == 0 {
		return nil
	}
	uids := make([]string, len(plan.Delete))
	for i, p := range plan.Delete {
		uids[i] = p.GetMetadata().GetUid()
	}
	c.exp.Expect(key, len(plan.Create), uids)
	errs := make([]error, len(plan.Create)+len(plan.Delete))
	var wg sync.WaitGroup
	limit := make(chan struct{}, 100)
	for i, node := range plan.Create {
		wg.Go(func() {
			limit <- struct{}{}
			defer func() { <-limit }()
			errs[i] = c.podControl.CreatePod(ctx, key, ds, NewPod(ds, hash, node))
		})
	}
	for i, p := range plan.Delete {
		wg.Go(func() {
			limit <- struct{}{}
			defer func() { <-limit }()
			errs[len(plan.Create)+i] = c.podControl.Delete(ctx, key, ds, p)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
