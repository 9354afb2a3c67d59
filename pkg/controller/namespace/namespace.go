// Package namespace is the namespace controller: when a namespace is
// deleted (and so Terminating), it deletes everything in it, then removes
// the "kubernetes" entry from spec.finalizers, which lets the apiserver
// remove the namespace itself.
package namespace

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/scheme"
)

// RecheckInterval is how soon a namespace whose content is still going
// (pods in their grace period, objects held by finalizers) is looked at
// again.
const RecheckInterval = time.Second

// Controller finalizes deleted namespaces. Create it with New, then Run.
type Controller struct {
	client *client.Client
	ns     *informer.Informer[*corev1.Namespace]
	queue  workqueue.Interface[string]
	log    *zap.Logger
}

// New registers the controller's handlers on f's namespace informer; log
// may be nil.
func New(c *client.Client, f *informer.Factory, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	ctl := &Controller{client: c, ns: f.Namespaces(), queue: workqueue.New[string]("namespace"), log: log.Named("namespace")}
	enqueue := func(ns *corev1.Namespace) {
		if ns.GetMetadata().GetDeletionTimestamp() != nil {
			ctl.queue.Add(ns.GetMetadata().GetName())
		}
	}
	ctl.ns.AddEventHandler(informer.HandlerFuncs[*corev1.Namespace]{
		AddFunc:    enqueue,
		UpdateFunc: func(_, ns *corev1.Namespace) { enqueue(ns) },
	})
	return ctl
}

// Run waits for the namespace cache, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.ns.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

func (c *Controller) sync(ctx context.Context, name string) error {
	ns, ok := c.ns.Store().GetByName("", name)
	if !ok || ns.GetMetadata().GetDeletionTimestamp() == nil || !slices.Contains(ns.GetSpec().GetFinalizers(), defaults.NamespaceFinalizer) {
		return nil
	}
	left, err := c.deleteContent(ctx, name)
	if err != nil {
		return err
	}
	if left > 0 {
		c.queue.AddAfter(name, RecheckInterval)
		return nil
	}
	next := proto.Clone(ns).(*corev1.Namespace)
	next.Spec.Finalizers = slices.DeleteFunc(next.Spec.Finalizers, func(f string) bool { return f == defaults.NamespaceFinalizer })
	if _, err := c.client.Namespaces().Update(ctx, next, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("finalizing namespace %s: %w", name, err)
	}
	c.log.Info("namespace emptied and finalized", zap.String("namespace", name))
	return nil
}

// deleteContent deletes every object of every namespaced kind in the
// namespace and returns how many were still there.
func (c *Controller) deleteContent(ctx context.Context, ns string) (int, error) {
	left := 0
	for _, k := range scheme.All() {
		if !k.Namespaced {
			continue
		}
		r, err := c.client.Resource(k.Resource, ns)
		if err != nil {
			return 0, err
		}
		list, err := r.List(ctx, client.ListOptions{})
		if err != nil {
			return 0, fmt.Errorf("listing %s in %s: %w", k.Resource, ns, err)
		}
		for _, obj := range list.Items {
			left++
			m := scheme.Meta(obj)
			if m.GetDeletionTimestamp() != nil {
				continue // already going
			}
			_, _, err := r.Delete(ctx, m.GetName(), client.DeleteOptions{Preconditions: &client.Preconditions{UID: m.GetUid()}})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return 0, fmt.Errorf("deleting %s %s/%s: %w", k.Kind, ns, m.GetName(), err)
			}
		}
	}
	return left, nil
}
