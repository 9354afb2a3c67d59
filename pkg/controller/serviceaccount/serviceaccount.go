// Package serviceaccount is the service account controller: every namespace
// that is not being deleted has the ServiceAccount called "default", which
// pods that name none run as. It creates it in a new namespace and again
// when it is deleted.
//
// A sync reads the namespace and its service accounts from the informers,
// Decide (pure) says which to create, and the sync creates them.
package serviceaccount

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
)

// Controller keeps a default service account in every namespace. Create
// it with New, then Run.
type Controller struct {
	client *client.Client
	ns     *informer.Informer[*corev1.Namespace]
	sa     *informer.Informer[*corev1.ServiceAccount]
	queue  workqueue.Interface[string]
	log    *zap.Logger
}

// New registers the controller's handlers on f's namespace and service
// account informers; log may be nil.
func New(c *client.Client, f *informer.Factory, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	ctl := &Controller{client: c, ns: f.Namespaces(), sa: informer.For[*corev1.ServiceAccount](f),
		queue: workqueue.New[string]("serviceaccount"), log: log.Named("serviceaccount")}
	enqueueNS := func(ns *corev1.Namespace) { ctl.queue.Add(ns.GetMetadata().GetName()) }
	ctl.ns.AddEventHandler(informer.HandlerFuncs[*corev1.Namespace]{
		AddFunc:    enqueueNS,
		UpdateFunc: func(_, ns *corev1.Namespace) { enqueueNS(ns) },
	})
	ctl.sa.AddEventHandler(informer.HandlerFuncs[*corev1.ServiceAccount]{
		DeleteFunc: func(sa *corev1.ServiceAccount) { ctl.queue.Add(sa.GetMetadata().GetNamespace()) },
	})
	return ctl
}

// Run waits for the caches, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.ns.HasSynced, c.sa.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

func (c *Controller) sync(ctx context.Context, name string) error {
	ns, ok := c.ns.Store().GetByName("", name)
	if !ok {
		return nil
	}
	have, err := c.sa.Store().ByIndex(informer.NamespaceIndex, name)
	if err != nil {
		return err
	}
	for _, sa := range Decide(ns, have) {
		_, err := client.For[*corev1.ServiceAccount](c.client, name).Create(ctx, sa, client.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating service account %s/%s: %w", name, sa.GetMetadata().GetName(), err)
		}
		if err == nil {
			c.log.Info("created service account", zap.String("namespace", name), zap.String("name", sa.GetMetadata().GetName()))
		}
	}
	return nil
}

// Decide returns the service accounts to create in ns given those it has:
// "default" when it is missing, nothing for a namespace being deleted.
func Decide(ns *corev1.Namespace, have []*corev1.ServiceAccount) []*corev1.ServiceAccount {
	if ns.GetMetadata().GetDeletionTimestamp() != nil || ns.GetStatus().GetPhase() == api.NamespaceTerminating {
		return nil
	}
	for _, sa := range have {
		if sa.GetMetadata().GetName() == api.DefaultServiceAccountName {
			return nil
		}
	}
	return []*corev1.ServiceAccount{{Metadata: &metav1.ObjectMeta{Name: api.DefaultServiceAccountName, Namespace: ns.GetMetadata().GetName()}}}
}
