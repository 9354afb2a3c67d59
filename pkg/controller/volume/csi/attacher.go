package csi

import (
	"context"
	"fmt"
	"slices"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/csi"
)

// AttachAction is what the attacher does with one VolumeAttachment.
type AttachAction int

const (
	// AttachNothing: attached already, or not the attacher's.
	AttachNothing AttachAction = iota
	// AttachPublish: add the finalizer, ControllerPublishVolume, status
	// attached.
	AttachPublish
	// AttachUnpublish: ControllerUnpublishVolume, then drop the finalizer.
	AttachUnpublish
	// AttachForget: drop the finalizer without a call (the volume or the
	// node's driver entry is gone, so there is nothing to name).
	AttachForget
)

// AttachDecision is DecideAttach's answer: the action and, for a call,
// the volume handle and the driver's id of the node.
type AttachDecision struct {
	Action AttachAction
	Handle string
	NodeID string
	// Wait says why an attachment cannot be acted on yet (retried).
	Wait string
}

// DecideAttach decides a VolumeAttachment of driver, given its volume and
// its node's CSINode (each nil when missing), as Kubernetes'
// external-attacher: a VolumeAttachment being deleted that carries the
// attacher's finalizer is detached (or, with no volume or node id left
// to name, its finalizer dropped); one not attached is attached once its
// volume and its node's driver entry are known.
func DecideAttach(driver string, va *storagev1.VolumeAttachment, pv *corev1.PersistentVolume, csiNode *storagev1.CSINode) AttachDecision {
	if va.GetSpec().GetAttacher() != driver {
		return AttachDecision{}
	}
	var nodeID string
	for _, d := range csiNode.GetSpec().GetDrivers() {
		if d.GetName() == driver {
			nodeID = d.GetNodeId()
		}
	}
	handle := ""
	if c := pv.GetSpec().GetCsi(); c.GetDriver() == driver {
		handle = c.GetVolumeHandle()
	}
	if va.GetMetadata().GetDeletionTimestamp() != nil {
		if !slices.Contains(va.GetMetadata().GetFinalizers(), csi.AttacherFinalizer(driver)) {
			return AttachDecision{}
		}
		if handle == "" || nodeID == "" {
			return AttachDecision{Action: AttachForget}
		}
		return AttachDecision{Action: AttachUnpublish, Handle: handle, NodeID: nodeID}
	}
	if va.GetStatus().GetAttached() {
		return AttachDecision{}
	}
	switch {
	case pv == nil:
		return AttachDecision{Wait: fmt.Sprintf("persistentvolume %q not found", va.GetSpec().GetSource().GetPersistentVolumeName())}
	case handle == "":
		return AttachDecision{Wait: fmt.Sprintf("persistentvolume %q is not a volume of CSI driver %s", pv.GetMetadata().GetName(), driver)}
	case nodeID == "":
		return AttachDecision{Wait: fmt.Sprintf("CSINode %s does not contain driver %s", va.GetSpec().GetNodeName(), driver)}
	}
	return AttachDecision{Action: AttachPublish, Handle: handle, NodeID: nodeID}
}

// Attacher attaches and detaches the VolumeAttachments of the drivers it
// is given (their controller services), reporting in their status.
type Attacher struct {
	client      *client.Client
	drivers     map[string]csipb.ControllerClient
	attachments *informer.Informer[*storagev1.VolumeAttachment]
	volumes     *informer.Informer[*corev1.PersistentVolume]
	csiNodes    *informer.Informer[*storagev1.CSINode]
	queue       workqueue.Interface[string]
	clock       clock.Clock
	log         *zap.Logger
}

// NewAttacher registers the attacher's handlers on f's informers.
func NewAttacher(c *client.Client, f *informer.Factory, drivers map[string]csipb.ControllerClient, log *zap.Logger) *Attacher {
	if log == nil {
		log = zap.NewNop()
	}
	a := &Attacher{client: c, drivers: drivers, attachments: informer.For[*storagev1.VolumeAttachment](f),
		volumes: informer.For[*corev1.PersistentVolume](f), csiNodes: informer.For[*storagev1.CSINode](f),
		queue: workqueue.New[string]("csi-attacher"), clock: clock.RealClock{}, log: log.Named("csi-attacher")}
	add := func(va *storagev1.VolumeAttachment) {
		if _, ok := a.drivers[va.GetSpec().GetAttacher()]; ok {
			a.queue.Add(va.GetMetadata().GetName())
		}
	}
	a.attachments.AddEventHandler(informer.HandlerFuncs[*storagev1.VolumeAttachment]{AddFunc: add, UpdateFunc: func(_, va *storagev1.VolumeAttachment) { add(va) }})
	// A node's driver registering lets its attachments proceed.
	a.csiNodes.AddEventHandler(informer.HandlerFuncs[*storagev1.CSINode]{
		AddFunc:    func(n *storagev1.CSINode) { a.enqueueNode(n.GetMetadata().GetName()) },
		UpdateFunc: func(_, n *storagev1.CSINode) { a.enqueueNode(n.GetMetadata().GetName()) }})
	return a
}

func (a *Attacher) enqueueNode(node string) {
	for _, va := range a.attachments.Store().List() {
		if va.GetSpec().GetNodeName() == node && !va.GetStatus().GetAttached() {
			if _, ok := a.drivers[va.GetSpec().GetAttacher()]; ok {
				a.queue.Add(va.GetMetadata().GetName())
			}
		}
	}
}

// Synced reports whether the attacher's informers have synced.
func (a *Attacher) Synced() bool {
	return a.attachments.HasSynced() && a.volumes.HasSynced() && a.csiNodes.HasSynced()
}

// Run waits for the caches and syncs attachments with workers workers
// until ctx ends.
func (a *Attacher) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, a.Synced) {
		return
	}
	workqueue.Run(ctx, a.queue, workers, a.sync)
}

func (a *Attacher) sync(ctx context.Context, name string) error {
	va, ok := a.attachments.Store().GetByName("", name)
	if !ok {
		return nil
	}
	driver := va.GetSpec().GetAttacher()
	ctl, ok := a.drivers[driver]
	if !ok {
		return nil
	}
	pv, _ := a.volumes.Store().GetByName("", va.GetSpec().GetSource().GetPersistentVolumeName())
	csiNode, _ := a.csiNodes.Store().GetByName("", va.GetSpec().GetNodeName())
	d := DecideAttach(driver, va, pv, csiNode)
	vas := client.For[*storagev1.VolumeAttachment](a.client, "")
	fin := csi.AttacherFinalizer(driver)
	switch {
	case d.Wait != "":
		return fmt.Errorf("VolumeAttachment %s: %s", name, d.Wait)
	case d.Action == AttachPublish:
		cur := va
		if !slices.Contains(va.GetMetadata().GetFinalizers(), fin) {
			next := proto.Clone(va).(*storagev1.VolumeAttachment)
			next.Metadata.Finalizers = append(next.Metadata.Finalizers, fin)
			var err error
			if cur, err = vas.Update(ctx, next, client.UpdateOptions{}); err != nil {
				return notFoundIsNil(err)
			}
		}
		meta, err := a.publish(ctx, ctl, pv, d)
		next := proto.Clone(cur).(*storagev1.VolumeAttachment)
		if err != nil {
			next.Status = &storagev1.VolumeAttachmentStatus{AttachError: &storagev1.VolumeError{Time: timestamppb.New(a.clock.Now()), Message: err.Error()}}
		} else {
			next.Status = &storagev1.VolumeAttachmentStatus{Attached: true, AttachmentMetadata: meta}
		}
		if _, uerr := vas.UpdateStatus(ctx, next, client.UpdateOptions{}); uerr != nil && err == nil {
			return notFoundIsNil(uerr)
		}
		if err != nil {
			return fmt.Errorf("attaching %s: %w", name, err)
		}
		a.log.Info("attached", zap.String("volumeAttachment", name), zap.String("node", va.GetSpec().GetNodeName()))
	case d.Action == AttachUnpublish || d.Action == AttachForget:
		if d.Action == AttachUnpublish {
			if _, err := ctl.ControllerUnpublishVolume(ctx, &csipb.ControllerUnpublishVolumeRequest{VolumeId: d.Handle, NodeId: d.NodeID}); err != nil {
				next := proto.Clone(va).(*storagev1.VolumeAttachment)
				if next.Status == nil {
					next.Status = &storagev1.VolumeAttachmentStatus{}
				}
				next.Status.DetachError = &storagev1.VolumeError{Time: timestamppb.New(a.clock.Now()), Message: err.Error()}
				_, _ = vas.UpdateStatus(ctx, next, client.UpdateOptions{})
				return fmt.Errorf("detaching %s: %w", name, err)
			}
		} else {
			a.log.Warn("dropping the finalizer of an attachment whose volume or node is gone", zap.String("volumeAttachment", name))
		}
		next := proto.Clone(va).(*storagev1.VolumeAttachment)
		next.Metadata.Finalizers = slices.DeleteFunc(next.Metadata.Finalizers, func(f string) bool { return f == fin })
		if _, err := vas.Update(ctx, next, client.UpdateOptions{}); err != nil {
			return notFoundIsNil(err)
		}
		a.log.Info("detached", zap.String("volumeAttachment", name), zap.String("node", va.GetSpec().GetNodeName()))
	}
	return nil
}

// publish calls ControllerPublishVolume when the driver has
// PUBLISH_UNPUBLISH_VOLUME (else there is nothing to attach) and returns
// the publish context.
func (a *Attacher) publish(ctx context.Context, ctl csipb.ControllerClient, pv *corev1.PersistentVolume, d AttachDecision) (map[string]string, error) {
	caps, err := ctl.ControllerGetCapabilities(ctx, &csipb.ControllerGetCapabilitiesRequest{})
	if err != nil {
		return nil, fmt.Errorf("ControllerGetCapabilities: %w", err)
	}
	if !csi.HasControllerCapability(caps, csipb.ControllerServiceCapability_RPC_PUBLISH_UNPUBLISH_VOLUME) {
		return nil, nil
	}
	capability, err := csi.VolumeCapability(pv)
	if err != nil {
		return nil, err
	}
	resp, err := ctl.ControllerPublishVolume(ctx, &csipb.ControllerPublishVolumeRequest{VolumeId: d.Handle, NodeId: d.NodeID,
		VolumeCapability: capability, Readonly: pv.GetSpec().GetCsi().GetReadOnly(), VolumeContext: pv.GetSpec().GetCsi().GetVolumeAttributes()})
	if err != nil {
		return nil, fmt.Errorf("rpc error: ControllerPublishVolume: %w", err)
	}
	return resp.GetPublishContext(), nil
}

func notFoundIsNil(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
