package protection

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
)

// ClaimController is the pvc-protection controller. Create it with
// NewClaimController, then Run.
type ClaimController struct {
	client *client.Client
	claims *informer.Informer[*corev1.PersistentVolumeClaim]
	pods   *informer.Informer[*corev1.Pod]
	queue  workqueue.Interface[string]
	log    *zap.Logger
}

// NewClaimController registers the pvc-protection controller's handlers
// on f's claim and pod informers. log may be nil.
func NewClaimController(c *client.Client, f *informer.Factory, log *zap.Logger) *ClaimController {
	if log == nil {
		log = zap.NewNop()
	}
	ctl := &ClaimController{client: c, claims: informer.For[*corev1.PersistentVolumeClaim](f), pods: f.Pods(),
		queue: workqueue.New[string]("pvc-protection"), log: log.Named("pvc-protection")}
	ctl.claims.AddEventHandler(informer.HandlerFuncs[*corev1.PersistentVolumeClaim]{
		AddFunc:    ctl.claimChanged,
		UpdateFunc: func(_, pvc *corev1.PersistentVolumeClaim) { ctl.claimChanged(pvc) },
	})
	// A pod that finishes or goes may free its claims.
	ctl.pods.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
		UpdateFunc: func(_, p *corev1.Pod) { ctl.podChanged(p) },
		DeleteFunc: ctl.podChanged,
	})
	return ctl
}

func (c *ClaimController) claimChanged(pvc *corev1.PersistentVolumeClaim) {
	if ClaimUpdate(pvc, nil) != nil {
		c.queue.Add(informer.KeyOf(pvc))
	}
}

func (c *ClaimController) podChanged(p *corev1.Pod) {
	for _, name := range ClaimNames(p) {
		if pvc, ok := c.claims.Store().GetByName(p.GetMetadata().GetNamespace(), name); ok && pvc.GetMetadata().GetDeletionTimestamp() != nil {
			c.queue.Add(informer.KeyOf(pvc))
		}
	}
}

// Synced reports whether the controller's informers have synced.
func (c *ClaimController) Synced() bool { return c.claims.HasSynced() && c.pods.HasSynced() }

// Run waits for the caches, then runs workers until ctx ends.
func (c *ClaimController) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.claims.HasSynced, c.pods.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

// sync writes the claim's finalizer as ClaimUpdate decides. Before it
// removes the finalizer it asks the apiserver for the namespace's pods:
// a pod the cache has not seen yet may use the claim.
func (c *ClaimController) sync(ctx context.Context, key string) error {
	pvc, ok := c.claims.Store().Get(key)
	if !ok {
		return nil
	}
	ns := pvc.GetMetadata().GetNamespace()
	pods, err := c.pods.Store().ByIndex(informer.NamespaceIndex, ns)
	if err != nil {
		return err
	}
	next := ClaimUpdate(pvc, pods)
	if next == nil {
		return nil
	}
	if pvc.GetMetadata().GetDeletionTimestamp() != nil {
		live, err := client.For[*corev1.Pod](c.client, ns).List(ctx, client.ListOptions{})
		if err != nil {
			return err
		}
		if next = ClaimUpdate(pvc, live.Items); next == nil {
			return nil
		}
	}
	if _, err := client.For[*corev1.PersistentVolumeClaim](c.client, ns).Update(ctx, next, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating the finalizers of claim %s: %w", key, err)
	}
	return nil
}

// VolumeController is the pv-protection controller. Create it with
// NewVolumeController, then Run.
type VolumeController struct {
	client  *client.Client
	volumes *informer.Informer[*corev1.PersistentVolume]
	queue   workqueue.Interface[string]
}

// NewVolumeController registers the pv-protection controller's handlers
// on f's volume informer.
func NewVolumeController(c *client.Client, f *informer.Factory) *VolumeController {
	ctl := &VolumeController{client: c, volumes: informer.For[*corev1.PersistentVolume](f), queue: workqueue.New[string]("pv-protection")}
	enqueue := func(pv *corev1.PersistentVolume) {
		if VolumeUpdate(pv) != nil {
			ctl.queue.Add(pv.GetMetadata().GetName())
		}
	}
	ctl.volumes.AddEventHandler(informer.HandlerFuncs[*corev1.PersistentVolume]{
		AddFunc:    enqueue,
		UpdateFunc: func(_, pv *corev1.PersistentVolume) { enqueue(pv) },
	})
	return ctl
}

// Synced reports whether the controller's informer has synced.
func (c *VolumeController) Synced() bool { return c.volumes.HasSynced() }

// Run waits for the cache, then runs workers until ctx ends.
func (c *VolumeController) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.volumes.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

// sync writes the volume's finalizer as VolumeUpdate decides.
func (c *VolumeController) sync(ctx context.Context, name string) error {
	pv, ok := c.volumes.Store().GetByName("", name)
	if !ok {
		return nil
	}
	next := VolumeUpdate(pv)
	if next == nil {
		return nil
	}
	if _, err := client.For[*corev1.PersistentVolume](c.client, "").Update(ctx, next, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating the finalizers of volume %s: %w", name, err)
	}
	return nil
}
