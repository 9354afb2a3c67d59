// Package namespace is the namespace controller: when a namespace is
// deleted (and so Terminating), it deletes everything in it, then removes
// the "kubernetes" entry from spec.finalizers, which lets the apiserver
// remove the namespace itself.
//
// A sync lists the namespace's content, Decide (pure) plans the step, and
// the sync performs it.
package namespace

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
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
	if !ok || !Terminating(ns) {
		return nil
	}
	content, err := c.listContent(ctx, name)
	if err != nil {
		return err
	}
	plan := Decide(ns, content)
	for _, o := range plan.Delete {
		if err := c.delete(ctx, o); err != nil {
			return err
		}
	}
	if plan.Recheck {
		c.queue.AddAfter(name, RecheckInterval)
	}
	if plan.Finalize != nil {
		if _, err := c.client.Namespaces().Update(ctx, plan.Finalize, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("finalizing namespace %s: %w", name, err)
		}
		c.log.Info("namespace emptied and finalized", zap.String("namespace", name))
	}
	return nil
}

// Object is one object in a namespace, of a registered kind.
type Object struct {
	Kind *scheme.Kind
	Meta *metav1.ObjectMeta
}

// Plan is what one sync of a terminating namespace does: delete the
// objects of Delete (each only if it still has its uid), then look again
// after RecheckInterval (Recheck), or write Finalize, the namespace
// without the "kubernetes" finalizer, once it is empty.
type Plan struct {
	Delete   []Object
	Recheck  bool
	Finalize *corev1.Namespace
}

// Terminating reports whether the namespace controller has work on ns:
// it is being deleted and still carries the "kubernetes" finalizer.
func Terminating(ns *corev1.Namespace) bool {
	return ns.GetMetadata().GetDeletionTimestamp() != nil && slices.Contains(ns.GetSpec().GetFinalizers(), api.NamespaceFinalizer)
}

// Decide plans one step of emptying ns, given everything in it: while
// anything is left, delete what is not already being deleted and look
// again; once nothing is, remove the finalizer. A namespace that is not
// Terminating gets an empty plan.
func Decide(ns *corev1.Namespace, content []Object) Plan {
	if !Terminating(ns) {
		return Plan{}
	}
	if len(content) > 0 {
		p := Plan{Recheck: true}
		for _, o := range content {
			if o.Meta.GetDeletionTimestamp() == nil {
				p.Delete = append(p.Delete, o)
			}
		}
		return p
	}
	next := proto.Clone(ns).(*corev1.Namespace)
	next.Spec.Finalizers = slices.DeleteFunc(next.Spec.Finalizers, func(f string) bool { return f == api.NamespaceFinalizer })
	return Plan{Finalize: next}
}

// listContent lists every object of every namespaced kind in ns: the
// static kinds and the custom resources this process follows (their
// storage versions; see pkg/controller/customresources).
func (c *Controller) listContent(ctx context.Context, ns string) ([]Object, error) {
	var out []Object
	for _, k := range slices.Concat(scheme.All(), scheme.Dynamic()) {
		if !k.Namespaced || !k.Stored() || k.StorageKind() != k {
			continue
		}
		r, err := c.client.Resource(k.Resource, ns)
		if err != nil {
			return nil, err
		}
		list, err := r.List(ctx, client.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing %s in %s: %w", k.Resource, ns, err)
		}
		for _, obj := range list.Items {
			out = append(out, Object{Kind: k, Meta: scheme.Meta(obj)})
		}
	}
	return out, nil
}

// delete deletes o if it still has its uid; gone or replaced is done.
func (c *Controller) delete(ctx context.Context, o Object) error {
	r, err := c.client.Resource(o.Kind.Resource, o.Meta.GetNamespace())
	if err != nil {
		return err
	}
	_, _, err = r.Delete(ctx, o.Meta.GetName(), client.DeleteOptions{Preconditions: &client.Preconditions{UID: o.Meta.GetUid()}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting %s %s/%s: %w", o.Kind.Kind, o.Meta.GetNamespace(), o.Meta.GetName(), err)
	}
	return nil
}
