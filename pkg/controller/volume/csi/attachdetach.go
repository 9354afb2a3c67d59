package csi

import (
	"context"
	"fmt"
	"sort"

	"go.uber.org/zap"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/csi"
)

// AttachInput is what DecideAttachments decides one node from.
type AttachInput struct {
	Node string
	// Pods are the pods bound to Node.
	Pods []*corev1.Pod
	// Claim, Volume and Driver look objects up in the caches.
	Claim  func(ns, name string) (*corev1.PersistentVolumeClaim, bool)
	Volume func(name string) (*corev1.PersistentVolume, bool)
	Driver func(name string) (*storagev1.CSIDriver, bool)
	// Attachments are the VolumeAttachments to Node.
	Attachments []*storagev1.VolumeAttachment
}

// AttachPlan is what to write for one node: VolumeAttachments to create
// and the names of those to delete (the attacher detaches them, then
// their finalizer goes).
type AttachPlan struct {
	Create []*storagev1.VolumeAttachment
	Delete []string
}

// DecideAttachments decides the VolumeAttachments of one node, as
// Kubernetes' attach-detach controller: every CSI volume that a pod on
// the node uses through a bound claim, and whose driver requires
// attaching (its CSIDriver's attachRequired, true without one), has one,
// named csi.AttachmentName and labelled api.LabelAttachmentNode (for the
// node's kubelet to watch); a pod holds its volumes until it has
// finished (Succeeded or Failed) or is gone. An attachment no pod needs
// is deleted. Claims not bound, volumes not yet known and non-CSI
// volumes need nothing.
func DecideAttachments(in AttachInput) AttachPlan {
	want := map[string]*storagev1.VolumeAttachment{}
	for _, pod := range in.Pods {
		if api.IsPhaseTerminal(pod.GetStatus().GetPhase()) {
			continue
		}
		ns := pod.GetMetadata().GetNamespace()
		for _, v := range pod.GetSpec().GetVolumes() {
			src := v.GetPersistentVolumeClaim()
			if src == nil {
				continue
			}
			claim, ok := in.Claim(ns, src.GetClaimName())
			if !ok || claim.GetSpec().GetVolumeName() == "" {
				continue
			}
			pv, ok := in.Volume(claim.GetSpec().GetVolumeName())
			if !ok || pv.GetSpec().GetCsi() == nil {
				continue
			}
			c := pv.GetSpec().GetCsi()
			d, _ := in.Driver(c.GetDriver())
			if !csi.AttachRequired(d) {
				continue
			}
			name := csi.AttachmentName(c.GetVolumeHandle(), c.GetDriver(), in.Node)
			pvName := pv.GetMetadata().GetName()
			want[name] = &storagev1.VolumeAttachment{
				Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{api.LabelAttachmentNode: in.Node}},
				Spec: &storagev1.VolumeAttachmentSpec{Attacher: c.GetDriver(), NodeName: in.Node,
					Source: &storagev1.VolumeAttachmentSource{PersistentVolumeName: &pvName}},
			}
		}
	}
	var plan AttachPlan
	have := map[string]bool{}
	for _, va := range in.Attachments {
		name := va.GetMetadata().GetName()
		have[name] = true
		if want[name] == nil && va.GetMetadata().GetDeletionTimestamp() == nil {
			plan.Delete = append(plan.Delete, name)
		}
	}
	for name, va := range want {
		if !have[name] {
			plan.Create = append(plan.Create, va)
		}
	}
	sort.Strings(plan.Delete)
	sort.Slice(plan.Create, func(i, j int) bool {
		return plan.Create[i].GetMetadata().GetName() < plan.Create[j].GetMetadata().GetName()
	})
	return plan
}

// AttachDetach is the attach-detach controller: it keeps each node's
// VolumeAttachments (DecideAttachments), one node per sync.
type AttachDetach struct {
	client      *client.Client
	pods        *informer.Informer[*corev1.Pod]
	claims      *informer.Informer[*corev1.PersistentVolumeClaim]
	volumes     *informer.Informer[*corev1.PersistentVolume]
	drivers     *informer.Informer[*storagev1.CSIDriver]
	attachments *informer.Informer[*storagev1.VolumeAttachment]
	queue       workqueue.Interface[string]
	log         *zap.Logger
}

// Indexes the controller adds: pods with claims, and attachments, by node.
const (
	claimPodsByNode   = "attachdetach/claim-pods-by-node"
	attachmentsByNode = "attachdetach/attachments-by-node"
)

// hasClaims tells whether a pod mounts a persistentVolumeClaim: only such
// pods can need an attachment.
func hasClaims(p *corev1.Pod) bool {
	for _, v := range p.GetSpec().GetVolumes() {
		if v.GetPersistentVolumeClaim() != nil {
			return true
		}
	}
	return false
}

// NewAttachDetach registers the controller's handlers and indexes on f's
// informers (before f starts).
func NewAttachDetach(c *client.Client, f *informer.Factory, log *zap.Logger) (*AttachDetach, error) {
	if log == nil {
		log = zap.NewNop()
	}
	a := &AttachDetach{client: c, pods: f.Pods(), claims: informer.For[*corev1.PersistentVolumeClaim](f),
		volumes: informer.For[*corev1.PersistentVolume](f), drivers: informer.For[*storagev1.CSIDriver](f),
		attachments: informer.For[*storagev1.VolumeAttachment](f),
		queue:       workqueue.New[string]("attachdetach"), log: log.Named("attachdetach")}
	if err := a.pods.AddIndexers(informer.Indexers[*corev1.Pod]{claimPodsByNode: func(p *corev1.Pod) []string {
		if n := p.GetSpec().GetNodeName(); n != "" && hasClaims(p) {
			return []string{n}
		}
		return nil
	}}); err != nil {
		return nil, err
	}
	if err := a.attachments.AddIndexers(informer.Indexers[*storagev1.VolumeAttachment]{attachmentsByNode: func(va *storagev1.VolumeAttachment) []string {
		return []string{va.GetSpec().GetNodeName()}
	}}); err != nil {
		return nil, err
	}
	podNode := func(p *corev1.Pod) {
		if n := p.GetSpec().GetNodeName(); n != "" && hasClaims(p) {
			a.queue.Add(n)
		}
	}
	a.pods.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{AddFunc: podNode, UpdateFunc: func(_, p *corev1.Pod) { podNode(p) }, DeleteFunc: podNode})
	vaNode := func(va *storagev1.VolumeAttachment) { a.queue.Add(va.GetSpec().GetNodeName()) }
	a.attachments.AddEventHandler(informer.HandlerFuncs[*storagev1.VolumeAttachment]{AddFunc: vaNode,
		UpdateFunc: func(_, va *storagev1.VolumeAttachment) { vaNode(va) }, DeleteFunc: vaNode})
	a.claims.AddEventHandler(informer.HandlerFuncs[*corev1.PersistentVolumeClaim]{
		AddFunc: func(*corev1.PersistentVolumeClaim) { a.enqueueAll() }, UpdateFunc: func(o, n *corev1.PersistentVolumeClaim) {
			if o.GetSpec().GetVolumeName() != n.GetSpec().GetVolumeName() {
				a.enqueueAll()
			}
		}})
	a.volumes.AddEventHandler(informer.HandlerFuncs[*corev1.PersistentVolume]{AddFunc: func(*corev1.PersistentVolume) { a.enqueueAll() }})
	a.drivers.AddEventHandler(informer.HandlerFuncs[*storagev1.CSIDriver]{AddFunc: func(*storagev1.CSIDriver) { a.enqueueAll() },
		UpdateFunc: func(_, _ *storagev1.CSIDriver) { a.enqueueAll() }, DeleteFunc: func(*storagev1.CSIDriver) { a.enqueueAll() }})
	return a, nil
}

// enqueueAll queues every node that has pods with claims, or attachments.
func (a *AttachDetach) enqueueAll() {
	for _, p := range a.pods.Store().List() {
		if n := p.GetSpec().GetNodeName(); n != "" && hasClaims(p) {
			a.queue.Add(n)
		}
	}
	for _, va := range a.attachments.Store().List() {
		a.queue.Add(va.GetSpec().GetNodeName())
	}
}

// Synced reports whether the controller's informers have synced.
func (a *AttachDetach) Synced() bool {
	return a.pods.HasSynced() && a.claims.HasSynced() && a.volumes.HasSynced() && a.drivers.HasSynced() && a.attachments.HasSynced()
}

// Run waits for the caches and syncs nodes with workers workers until ctx
// ends.
func (a *AttachDetach) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, a.Synced) {
		return
	}
	a.enqueueAll()
	workqueue.Run(ctx, a.queue, workers, a.sync)
}

func (a *AttachDetach) sync(ctx context.Context, node string) error {
	in := AttachInput{Node: node,
		Claim: func(ns, name string) (*corev1.PersistentVolumeClaim, bool) {
			return a.claims.Store().GetByName(ns, name)
		},
		Volume: func(name string) (*corev1.PersistentVolume, bool) { return a.volumes.Store().GetByName("", name) },
		Driver: func(name string) (*storagev1.CSIDriver, bool) { return a.drivers.Store().GetByName("", name) },
	}
	var err error
	if in.Pods, err = a.pods.Store().ByIndex(claimPodsByNode, node); err != nil {
		return err
	}
	if in.Attachments, err = a.attachments.Store().ByIndex(attachmentsByNode, node); err != nil {
		return err
	}
	plan := DecideAttachments(in)
	vas := client.For[*storagev1.VolumeAttachment](a.client, "")
	for _, va := range plan.Create {
		if _, err := vas.Create(ctx, va, client.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating VolumeAttachment %s: %w", va.GetMetadata().GetName(), err)
		}
		a.log.Info("attaching", zap.String("volumeAttachment", va.GetMetadata().GetName()), zap.String("volume", va.GetSpec().GetSource().GetPersistentVolumeName()), zap.String("node", node))
	}
	for _, name := range plan.Delete {
		if _, _, err := vas.Delete(ctx, name, client.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting VolumeAttachment %s: %w", name, err)
		}
		a.log.Info("detaching", zap.String("volumeAttachment", name), zap.String("node", node))
	}
	return nil
}
