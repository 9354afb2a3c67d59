// Package resourcequota is the ResourceQuota controller: it keeps each
// quota's status (hard and used) equal to what the objects of its
// namespace use, so that usage the ResourceQuota admission plugin charged
// is released when objects are deleted or pods finish.
//
// A quota is synced when its spec changes, when an object of its
// namespace is deleted or changes what it uses (a pod finishing, a
// Service no longer a LoadBalancer), as Kubernetes' quota controller
// replenishes, and every resync period. Pods are read from the cache, the
// other kinds from the API. A sync is a pure
// decision (Decide) and one status write with the quota's
// resourceVersion as precondition; a conflict re-queues it.
package resourcequota

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/quota"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// DefaultResyncPeriod is how often every quota is recomputed (Kubernetes'
// --resource-quota-sync-period default).
const DefaultResyncPeriod = 5 * time.Minute

// Controller reconciles ResourceQuota status. Create it with New, then Run.
type Controller struct {
	client  *client.Client
	factory *informer.Factory
	quotas  *informer.Informer[*corev1.ResourceQuota]
	pods    *informer.Informer[*corev1.Pod]
	queue   workqueue.Interface[string]
	resync  time.Duration
	clock   clock.WithTicker
	log     *zap.Logger
}

// New registers the controller's handlers on f's ResourceQuota and Pod
// informers and, for deletions and changes of usage, on the informer
// (informer.ForKind) of every other stored namespaced kind but Events
// (Watch). resync <= 0 is DefaultResyncPeriod; log may be nil.
func New(c *client.Client, f *informer.Factory, resync time.Duration, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	if resync <= 0 {
		resync = DefaultResyncPeriod
	}
	ctl := &Controller{client: c, factory: f, quotas: informer.For[*corev1.ResourceQuota](f), pods: f.Pods(),
		queue: workqueue.New[string]("resourcequota"), resync: resync, clock: clock.RealClock{}, log: log.Named("resourcequota")}
	enqueue := func(q *corev1.ResourceQuota) { ctl.queue.Add(informer.KeyOf(q)) }
	ctl.quotas.AddEventHandler(informer.HandlerFuncs[*corev1.ResourceQuota]{
		AddFunc: enqueue,
		// Only a change of what the quota limits calls for a recount, as in
		// Kubernetes: admission's charges change status.used, and a recount
		// from an informer that does not show the charged objects yet would
		// take them back and let the next create exceed the quota.
		UpdateFunc: func(old, q *corev1.ResourceQuota) {
			if !proto.Equal(old.GetSpec(), q.GetSpec()) {
				enqueue(q)
			}
		},
		DeleteFunc: func(q *corev1.ResourceQuota) { ctl.enqueueNamespace(q.GetMetadata().GetNamespace()) },
	})
	ctl.pods.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
		UpdateFunc: func(old, p *corev1.Pod) {
			if ctl.usageChanged(old, p) {
				ctl.enqueueNamespace(p.GetMetadata().GetNamespace())
			}
		},
		DeleteFunc: func(p *corev1.Pod) { ctl.enqueueNamespace(p.GetMetadata().GetNamespace()) },
	})
	// Every other kind a quota may count (count/<resource>), but Events,
	// which Kubernetes does not replenish either, and the create-only
	// kinds, which are never stored.
	for _, st := range registry.All() {
		k := st.Info()
		if k.Group == "" && (k.Resource == "pods" || k.Resource == "events" || k.Resource == "resourcequotas") {
			continue
		}
		ctl.Watch(k)
	}
	return ctl
}

// Watch replenishes quotas on the deletions and changes of usage of k's
// objects (informer.ForKind); the controller calls it for the registered
// kinds, the controller-manager for each custom resource kind as it is
// served. Cluster-scoped and unstored (create-only, computed) kinds are
// ignored.
func (c *Controller) Watch(k *scheme.Kind) {
	if !k.Namespaced || !k.Stored() {
		return
	}
	informer.ForKind(c.factory, k).AddEventHandler(informer.HandlerFuncs[scheme.Object]{
		UpdateFunc: func(old, o scheme.Object) {
			if old.GetMetadata().GetResourceVersion() != o.GetMetadata().GetResourceVersion() && c.usageChanged(old, o) {
				c.enqueueNamespace(o.GetMetadata().GetNamespace())
			}
		},
		DeleteFunc: func(o scheme.Object) { c.enqueueNamespace(o.GetMetadata().GetNamespace()) },
	})
}

// usageChanged reports whether old and o use different amounts (an
// unparsable usage counts as a change).
func (c *Controller) usageChanged(old, o proto.Message) bool {
	now := c.clock.Now()
	a, err1 := quota.Usage(old, now)
	b, err2 := quota.Usage(o, now)
	return err1 != nil || err2 != nil || !quota.Equal(a, b)
}

// enqueueNamespace queues every quota of namespace.
func (c *Controller) enqueueNamespace(namespace string) {
	qs, err := c.quotas.Store().ByIndex(informer.NamespaceIndex, namespace)
	if err != nil {
		c.log.Error("listing quotas", zap.Error(err))
		return
	}
	for _, q := range qs {
		c.queue.Add(informer.KeyOf(q))
	}
}

// Run waits for the caches, then runs workers and the periodic resync
// until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.quotas.HasSynced, c.pods.HasSynced) {
		return
	}
	go func() {
		t := c.clock.NewTicker(c.resync)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				for _, q := range c.quotas.Store().List() {
					c.queue.Add(informer.KeyOf(q))
				}
			}
		}
	}()
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

// Synced reports whether the controller's caches have synced.
func (c *Controller) Synced() bool { return c.quotas.HasSynced() && c.pods.HasSynced() }

// sync recomputes one quota's status and writes it when it changed.
func (c *Controller) sync(ctx context.Context, key string) error {
	cached, ok := c.quotas.Store().Get(key)
	if !ok {
		return nil
	}
	// The quota as it stands now, not as the informer last showed it:
	// admission charges status.used between syncs, and a decision against
	// an older status could take "nothing changed" for an answer.
	ns := cached.GetMetadata().GetNamespace()
	q, err := client.For[*corev1.ResourceQuota](c.client, ns).Get(ctx, cached.GetMetadata().GetName())
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var objs []proto.Message
	for _, k := range quota.Kinds(q.GetSpec().GetHard()) {
		if k.Resource == "pods" {
			pods, err := c.pods.Store().ByIndex(informer.NamespaceIndex, ns)
			if err != nil {
				return err
			}
			for _, p := range pods {
				objs = append(objs, p)
			}
			continue
		}
		list, err := client.ForKind(c.client, k, ns).List(ctx, client.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing %s: %w", k.Resource, err)
		}
		for _, o := range list.Items {
			objs = append(objs, o)
		}
	}
	st, err := Decide(q, objs, c.clock.Now())
	if err != nil || st == nil {
		return err
	}
	next := proto.Clone(q).(*corev1.ResourceQuota)
	next.Status = st
	_, err = client.For[*corev1.ResourceQuota](c.client, ns).UpdateStatus(ctx, next, client.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
