// Package persistentvolume is the PV controller (Kubernetes'
// persistentvolume-binder): it binds PersistentVolumeClaims to
// PersistentVolumes, provisions volumes for claims through their
// StorageClass's provisioner, and reclaims the volumes of deleted claims.
//
// Two queues, claims ("namespace/name") and volumes (name), each synced
// by a pure decision (DecideClaim, DecideVolume) and a thin executor that
// writes the plan through the client. Every write carries the cached
// resourceVersion, so a decision made on a stale cache fails with a
// conflict and is made again on a fresher one; provisioning is keyed by
// the volume's name (pvc-<claim uid>), so it never makes a claim two
// volumes.
package persistentvolume

import (
	"context"
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/controller"
	"keel.dev/keel/pkg/volumematch"
)

// Provisioner makes and deletes the storage of the volumes of the
// StorageClasses that name it. It is called from the controller's
// workers, possibly concurrently.
type Provisioner interface {
	// Provision makes storage for claim through class, for node (the
	// selected node under WaitForFirstConsumer; nil under Immediate), and
	// returns the PersistentVolume that describes it: its source,
	// capacity and node affinity. ProvisionedVolume fills in the rest.
	Provision(ctx context.Context, claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node *corev1.Node) (*corev1.PersistentVolume, error)
	// Delete removes the storage of vol, which it made; storage already
	// gone is not an error.
	Delete(ctx context.Context, vol *corev1.PersistentVolume) error
}

// Controller is the PV controller. Create it with New, then Run.
type Controller struct {
	client       *client.Client
	volumes      *informer.Informer[*corev1.PersistentVolume]
	claims       *informer.Informer[*corev1.PersistentVolumeClaim]
	classes      *informer.Informer[*storagev1.StorageClass]
	nodes        *informer.Informer[*corev1.Node]
	claimQueue   workqueue.Interface[string]
	volumeQueue  workqueue.Interface[string]
	provisioners map[string]Provisioner
	rec          record.EventRecorder
	clock        clock.Clock
	log          *zap.Logger
}

// New registers the PV controller's handlers on f's informers of
// volumes, claims, StorageClasses and nodes. provisioners are the
// provisioners the controller runs, by the name classes give them; the
// volumes of other provisioners are left to them. rec may be nil (no
// events); log may be nil.
func New(c *client.Client, f *informer.Factory, provisioners map[string]Provisioner, rec record.EventRecorder, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	ctl := &Controller{client: c, volumes: informer.For[*corev1.PersistentVolume](f), claims: informer.For[*corev1.PersistentVolumeClaim](f),
		classes: informer.For[*storagev1.StorageClass](f), nodes: f.Nodes(),
		claimQueue: workqueue.New[string]("persistentvolume-claims"), volumeQueue: workqueue.New[string]("persistentvolume-volumes"),
		provisioners: provisioners, rec: rec, clock: clock.RealClock{}, log: log.Named("persistentvolume-binder")}
	ctl.claims.AddEventHandler(informer.HandlerFuncs[*corev1.PersistentVolumeClaim]{
		AddFunc:    func(pvc *corev1.PersistentVolumeClaim) { ctl.claimQueue.Add(informer.KeyOf(pvc)) },
		UpdateFunc: func(_, pvc *corev1.PersistentVolumeClaim) { ctl.claimQueue.Add(informer.KeyOf(pvc)) },
		DeleteFunc: func(pvc *corev1.PersistentVolumeClaim) {
			// Its volume is released.
			if name := pvc.GetSpec().GetVolumeName(); name != "" {
				ctl.volumeQueue.Add(name)
			}
		},
	})
	ctl.volumes.AddEventHandler(informer.HandlerFuncs[*corev1.PersistentVolume]{
		AddFunc:    ctl.volumeChanged,
		UpdateFunc: func(_, pv *corev1.PersistentVolume) { ctl.volumeChanged(pv) },
		DeleteFunc: ctl.volumeChanged,
	})
	ctl.classes.AddEventHandler(informer.HandlerFuncs[*storagev1.StorageClass]{
		AddFunc:    func(*storagev1.StorageClass) { ctl.enqueueUnbound() },
		UpdateFunc: func(_, _ *storagev1.StorageClass) { ctl.enqueueUnbound() },
	})
	return ctl
}

// volumeChanged queues the volume, the claim it is reserved for, and,
// when it may be free, every claim waiting for a volume.
func (c *Controller) volumeChanged(pv *corev1.PersistentVolume) {
	c.volumeQueue.Add(pv.GetMetadata().GetName())
	ref := pv.GetSpec().GetClaimRef()
	if ref != nil {
		c.claimQueue.Add(informer.Key(ref.GetNamespace(), ref.GetName()))
	}
	if ref == nil || ref.GetUid() == "" {
		c.enqueueUnbound()
	}
}

// enqueueUnbound queues every claim not yet bound.
func (c *Controller) enqueueUnbound() {
	for _, pvc := range c.claims.Store().List() {
		if pvc.GetMetadata().GetAnnotations()[AnnBindCompleted] == "" {
			c.claimQueue.Add(informer.KeyOf(pvc))
		}
	}
}

// Synced reports whether the controller's informers have synced.
func (c *Controller) Synced() bool {
	return c.volumes.HasSynced() && c.claims.HasSynced() && c.classes.HasSynced() && c.nodes.HasSynced()
}

// Run waits for the caches, then syncs claims and volumes with workers
// workers each until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.volumes.HasSynced, c.claims.HasSynced, c.classes.HasSynced, c.nodes.HasSynced) {
		return
	}
	go workqueue.Run(ctx, c.volumeQueue, workers, c.syncVolume)
	workqueue.Run(ctx, c.claimQueue, workers, c.syncClaim)
}

func (c *Controller) hasProvisioner(name string) bool {
	_, ok := c.provisioners[name]
	return ok
}

// syncClaim decides one claim from the caches and applies the plan.
func (c *Controller) syncClaim(ctx context.Context, key string) error {
	claim, ok := c.claims.Store().Get(key)
	if !ok {
		return nil
	}
	in := ClaimInput{Claim: claim, Volumes: c.volumes.Store().List(), HasProvisioner: c.hasProvisioner, Now: c.clock.Now()}
	if name := volumematch.ClaimClass(claim); name != "" {
		in.Class, _ = c.classes.Store().GetByName("", name)
	}
	if name := claim.GetMetadata().GetAnnotations()[api.AnnSelectedNode]; name != "" {
		in.SelectedNode, _ = c.nodes.Store().GetByName("", name)
	}
	plan := DecideClaim(in)
	controller.RecordEvents(c.rec, claim, plan.Events...)
	pvs := client.For[*corev1.PersistentVolume](c.client, "")
	if plan.Target != nil {
		vol := plan.Target
		if plan.Volume != nil {
			var err error
			if vol, err = pvs.Update(ctx, plan.Volume, client.UpdateOptions{}); err != nil {
				return fmt.Errorf("binding volume %s: %w", plan.Volume.GetMetadata().GetName(), err)
			}
		}
		if plan.VolumeStatus != nil {
			next := proto.Clone(vol).(*corev1.PersistentVolume)
			next.Status = plan.VolumeStatus
			if _, err := pvs.UpdateStatus(ctx, next, client.UpdateOptions{}); err != nil {
				return fmt.Errorf("updating the status of volume %s: %w", vol.GetMetadata().GetName(), err)
			}
		}
	}
	pvcs := client.For[*corev1.PersistentVolumeClaim](c.client, claim.GetMetadata().GetNamespace())
	base := claim
	if plan.Claim != nil {
		var err error
		if base, err = pvcs.Update(ctx, plan.Claim, client.UpdateOptions{}); err != nil {
			return notFoundIsDone(fmt.Errorf("updating claim %s: %w", key, err))
		}
	}
	if plan.ClaimStatus != nil {
		next := proto.Clone(base).(*corev1.PersistentVolumeClaim)
		next.Status = plan.ClaimStatus
		if _, err := pvcs.UpdateStatus(ctx, next, client.UpdateOptions{}); err != nil {
			return notFoundIsDone(fmt.Errorf("updating the status of claim %s: %w", key, err))
		}
	}
	if plan.Provision != nil {
		return c.provision(ctx, base, plan.Provision)
	}
	return nil
}

// provision makes the claim's volume through its class's provisioner,
// unless it exists already.
func (c *Controller) provision(ctx context.Context, claim *corev1.PersistentVolumeClaim, p *Provision) error {
	pvs := client.For[*corev1.PersistentVolume](c.client, "")
	name := VolumeName(claim)
	if _, err := pvs.Get(ctx, name); err == nil {
		return nil // made by an earlier sync; its informer event brings the claim back
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	provisioner := c.provisioners[p.Class.GetProvisioner()]
	className := p.Class.GetMetadata().GetName()
	made, err := provisioner.Provision(ctx, claim, p.Class, p.Node)
	if err != nil {
		c.event(claim, record.Warning, EventProvisioningFailed, "Failed to provision volume with StorageClass %q: %v", className, err)
		return err
	}
	vol := ProvisionedVolume(made, claim, p.Class)
	if _, err := pvs.Create(ctx, vol, client.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		c.event(claim, record.Warning, EventProvisioningFailed, "Failed to provision volume with StorageClass %q: %v", className, err)
		if derr := provisioner.Delete(ctx, vol); derr != nil {
			c.log.Error("deleting the storage of a volume not saved", zap.String("volume", name), zap.Error(derr))
		}
		return err
	}
	c.event(claim, record.Normal, EventProvisioningSucceeded, "Successfully provisioned volume %s using %s", name, p.Class.GetProvisioner())
	return nil
}

// syncVolume decides one volume from the caches (and, for a claim the
// cache does not have, the apiserver) and applies the plan.
func (c *Controller) syncVolume(ctx context.Context, name string) error {
	vol, ok := c.volumes.Store().GetByName("", name)
	if !ok {
		return nil
	}
	in := VolumeInput{Volume: vol, HasProvisioner: c.hasProvisioner, Now: c.clock.Now()}
	if ref := vol.GetSpec().GetClaimRef(); ref != nil && ref.GetUid() != "" {
		if in.Claim, ok = c.claims.Store().GetByName(ref.GetNamespace(), ref.GetName()); !ok || in.Claim.GetMetadata().GetUid() != ref.GetUid() {
			// A volume is released only on the apiserver's word.
			claim, err := client.For[*corev1.PersistentVolumeClaim](c.client, ref.GetNamespace()).Get(ctx, ref.GetName())
			switch {
			case apierrors.IsNotFound(err):
				in.Claim = nil
			case err != nil:
				return err
			default:
				in.Claim = claim
			}
		}
	}
	plan := DecideVolume(in)
	controller.RecordEvents(c.rec, vol, plan.Events...)
	pvs := client.For[*corev1.PersistentVolume](c.client, "")
	base := vol
	if plan.Volume != nil {
		var err error
		if base, err = pvs.Update(ctx, plan.Volume, client.UpdateOptions{}); err != nil {
			return notFoundIsDone(fmt.Errorf("unbinding volume %s: %w", name, err))
		}
	}
	if plan.Status != nil {
		next := proto.Clone(base).(*corev1.PersistentVolume)
		next.Status = plan.Status
		var err error
		if base, err = pvs.UpdateStatus(ctx, next, client.UpdateOptions{}); err != nil {
			return notFoundIsDone(fmt.Errorf("updating the status of volume %s: %w", name, err))
		}
	}
	if plan.SyncClaim {
		ref := vol.GetSpec().GetClaimRef()
		c.claimQueue.Add(informer.Key(ref.GetNamespace(), ref.GetName()))
	}
	if plan.Delete {
		return c.deleteVolume(ctx, base)
	}
	return nil
}

// deleteVolume has the volume's provisioner delete its storage, then
// deletes the PersistentVolume; a failure makes the volume Failed.
func (c *Controller) deleteVolume(ctx context.Context, vol *corev1.PersistentVolume) error {
	name := vol.GetMetadata().GetName()
	if err := c.provisioners[vol.GetMetadata().GetAnnotations()[api.AnnProvisionedBy]].Delete(ctx, vol); err != nil {
		c.event(vol, record.Warning, EventVolumeFailedDelete, "%v", err)
		next := proto.Clone(vol).(*corev1.PersistentVolume)
		next.Status = FailedDelete(vol, err.Error(), c.clock.Now())
		if _, uerr := client.For[*corev1.PersistentVolume](c.client, "").UpdateStatus(ctx, next, client.UpdateOptions{}); uerr != nil {
			c.log.Error("marking a volume Failed", zap.String("volume", name), zap.Error(uerr))
		}
		return err
	}
	uid := vol.GetMetadata().GetUid()
	_, _, err := client.For[*corev1.PersistentVolume](c.client, "").Delete(ctx, name, client.DeleteOptions{Preconditions: &client.Preconditions{UID: uid}})
	return notFoundIsDone(err)
}

func (c *Controller) event(obj proto.Message, typ, reason, format string, args ...any) {
	controller.RecordEvents(c.rec, obj, controller.Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// notFoundIsDone drops err when the object it is about is gone.
func notFoundIsDone(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
