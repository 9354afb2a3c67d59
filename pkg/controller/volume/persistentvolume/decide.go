package persistentvolume

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/controller"
	"keel.dev/keel/pkg/volumematch"
)

// ClaimInput is what DecideClaim decides on. DecideClaim does not modify
// it.
type ClaimInput struct {
	Claim *corev1.PersistentVolumeClaim
	// Volumes are every PersistentVolume the controller knows.
	Volumes []*corev1.PersistentVolume
	// Class is the claim's StorageClass; nil when the claim names none or
	// the class does not exist.
	Class *storagev1.StorageClass
	// SelectedNode is the node the claim's api.AnnSelectedNode names; nil when
	// it names none or the node does not exist.
	SelectedNode *corev1.Node
	// HasProvisioner reports whether the controller runs the provisioner
	// called name itself; the others are external (another process makes
	// their volumes).
	HasProvisioner func(name string) bool
	Now            time.Time
}

// Provision asks the executor to make a volume for the claim with the
// class's provisioner (ProvisionedVolume completes what it returns).
type Provision struct {
	Class *storagev1.StorageClass
	// Node is the selected node; nil under Immediate binding.
	Node *corev1.Node
}

// ClaimPlan is what one sync of a claim writes, in this order: the
// volume (its claimRef), the volume's status, the claim (volumeName and
// annotations), the claim's status, then a provisioning; Events are
// recorded on the claim. A nil field is left as it is.
type ClaimPlan struct {
	// Target is the volume the claim is bound to, as the input had it;
	// Volume and VolumeStatus are about it.
	Target       *corev1.PersistentVolume
	Volume       *corev1.PersistentVolume
	VolumeStatus *corev1.PersistentVolumeStatus
	Claim        *corev1.PersistentVolumeClaim
	ClaimStatus  *corev1.PersistentVolumeClaimStatus
	Provision    *Provision
	Events       []controller.Event
}

// DecideClaim plans one sync of a claim, as Kubernetes' PV controller
// does. A claim not yet bound (no AnnBindCompleted) is bound to the
// volume it names in spec.volumeName, or else to the best match
// (FindMatch), or else a volume is provisioned through its class; the
// claim stays Pending, with an event saying why, until one of those is
// possible. A bound claim whose volume is gone or bound elsewhere is Lost.
func DecideClaim(in ClaimInput) ClaimPlan {
	if in.Claim.GetMetadata().GetAnnotations()[AnnBindCompleted] != "" {
		return decideBoundClaim(in)
	}
	claim := in.Claim
	if name := claim.GetSpec().GetVolumeName(); name != "" {
		vol := volumeNamed(in.Volumes, name)
		switch {
		case vol == nil:
			return pending(claim) // it may be created later
		case vol.GetSpec().GetClaimRef() == nil:
			if err := volumematch.CheckSatisfies(vol, claim); err != nil {
				p := pending(claim)
				p.Events = append(p.Events, controller.Event{Type: record.Warning, Reason: EventVolumeMismatch,
					Message: fmt.Sprintf("Cannot bind to requested volume %q: %v", name, err)})
				return p
			}
			return bind(in, vol)
		case volumematch.BoundToClaim(vol, claim):
			return bind(in, vol)
		default:
			p := pending(claim)
			p.Events = append(p.Events, controller.Event{Type: record.Warning, Reason: EventFailedBinding,
				Message: fmt.Sprintf("volume %q already bound to a different claim.", name)})
			return p
		}
	}
	delay := in.Class != nil && in.Class.GetVolumeBindingMode() == api.VolumeBindingWaitForFirstConsumer
	vol, err := volumematch.FindMatch(claim, in.Volumes, delay, in.SelectedNode)
	if err != nil {
		p := pending(claim)
		p.Events = append(p.Events, controller.Event{Type: record.Warning, Reason: EventFailedBinding, Message: err.Error()})
		return p
	}
	if vol != nil {
		return bind(in, vol)
	}
	return provision(in, delay)
}

// provision plans a claim that matches no volume: provisioning when its
// class can, else a Pending claim with the event that says why not.
func provision(in ClaimInput, delay bool) ClaimPlan {
	claim := in.Claim
	p := pending(claim)
	event := func(typ, reason, format string, args ...any) ClaimPlan {
		p.Events = append(p.Events, controller.Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)})
		return p
	}
	className := volumematch.ClaimClass(claim)
	node := claim.GetMetadata().GetAnnotations()[api.AnnSelectedNode]
	switch {
	case className == "":
		return event(record.Normal, EventFailedBinding, "no persistent volumes available for this claim and no storage class is set")
	case in.Class == nil:
		return event(record.Warning, EventProvisioningFailed, "storageclass.storage.k8s.io %q not found", className)
	case delay && node == "":
		return event(record.Normal, EventWaitForFirstConsumer, "waiting for first consumer to be created before binding")
	case in.Class.GetProvisioner() == api.NoProvisioner:
		return event(record.Normal, EventFailedBinding, "no persistent volumes available for this claim and storage class %q provisions none", className)
	case claim.GetSpec().GetSelector() != nil:
		return event(record.Warning, EventProvisioningFailed, "Failed to provision volume with StorageClass %q: claim Selector is not supported", className)
	}
	provisioner := in.Class.GetProvisioner()
	if claim.GetMetadata().GetAnnotations()[AnnStorageProvisioner] != provisioner {
		p.Claim = withAnnotation(claim, AnnStorageProvisioner, provisioner)
	}
	if in.HasProvisioner == nil || !in.HasProvisioner(provisioner) {
		return event(record.Normal, EventExternalProvisioning,
			"waiting for a volume to be created by the external provisioner %q or by the system administrator", provisioner)
	}
	if node != "" && in.SelectedNode == nil {
		return event(record.Warning, EventProvisioningFailed, "Failed to provision volume with StorageClass %q: failed to get target node: node %q not found", className, node)
	}
	p.Provision = &Provision{Class: in.Class, Node: in.SelectedNode}
	return p
}

// decideBoundClaim plans a claim the controller has bound: it stays Bound
// while its volume is bound to it, and is Lost otherwise.
func decideBoundClaim(in ClaimInput) ClaimPlan {
	claim := in.Claim
	name := claim.GetSpec().GetVolumeName()
	if name == "" {
		return lost(claim, EventClaimLost, "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!")
	}
	vol := volumeNamed(in.Volumes, name)
	switch {
	case vol == nil:
		return lost(claim, EventClaimLost, "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
	case vol.GetSpec().GetClaimRef() == nil, volumematch.BoundToClaim(vol, claim):
		return bind(in, vol)
	default:
		return lost(claim, EventClaimMisbound, "Two claims are bound to the same volume, this one is bound incorrectly")
	}
}

// bind plans both halves of binding claim and vol, each only where it is
// not yet written: the volume's claimRef, the volume Bound, the claim's
// volumeName and annotations, and the claim Bound with the volume's
// access modes and capacity.
func bind(in ClaimInput, vol *corev1.PersistentVolume) ClaimPlan {
	claim := in.Claim
	p := ClaimPlan{Target: vol}
	ref := vol.GetSpec().GetClaimRef()
	if ref.GetUid() != claim.GetMetadata().GetUid() || !volumematch.BoundToClaim(vol, claim) {
		byController := !volumematch.BoundToClaim(vol, claim) // a user's reservation names the claim already
		next := proto.Clone(vol).(*corev1.PersistentVolume)
		if next.Spec == nil {
			next.Spec = &corev1.PersistentVolumeSpec{}
		}
		m := claim.GetMetadata()
		next.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", ApiVersion: "v1", Namespace: m.GetNamespace(),
			Name: m.GetName(), Uid: m.GetUid(), ResourceVersion: m.GetResourceVersion()}
		if byController {
			setAnnotation(next.Metadata, AnnBoundByController, "yes")
		}
		p.Volume = next
	}
	if vol.GetStatus().GetPhase() != api.VolumeBound {
		p.VolumeStatus = volumeStatus(vol, api.VolumeBound, in.Now)
	}
	anns := claim.GetMetadata().GetAnnotations()
	if claim.GetSpec().GetVolumeName() != vol.GetMetadata().GetName() || anns[AnnBindCompleted] == "" {
		next := proto.Clone(claim).(*corev1.PersistentVolumeClaim)
		if next.Spec == nil {
			next.Spec = &corev1.PersistentVolumeClaimSpec{}
		}
		if next.Spec.VolumeName != vol.GetMetadata().GetName() {
			next.Spec.VolumeName = vol.GetMetadata().GetName()
			setAnnotation(next.Metadata, AnnBoundByController, "yes")
		}
		setAnnotation(next.Metadata, AnnBindCompleted, "yes")
		p.Claim = next
	}
	st := &corev1.PersistentVolumeClaimStatus{Phase: api.ClaimBound, AccessModes: slices.Clone(vol.GetSpec().GetAccessModes()),
		Capacity: cloneQuantities(vol.GetSpec().GetCapacity()), Conditions: claim.GetStatus().GetConditions()}
	if !proto.Equal(st, claim.GetStatus()) {
		p.ClaimStatus = st
	}
	return p
}

// pending plans a claim to be Pending (with no access modes or capacity).
func pending(claim *corev1.PersistentVolumeClaim) ClaimPlan {
	var p ClaimPlan
	st := &corev1.PersistentVolumeClaimStatus{Phase: api.ClaimPending, Conditions: claim.GetStatus().GetConditions()}
	if !proto.Equal(st, claim.GetStatus()) {
		p.ClaimStatus = st
	}
	return p
}

// lost plans a claim to be Lost; the event is recorded when it turns so.
func lost(claim *corev1.PersistentVolumeClaim, reason, msg string) ClaimPlan {
	var p ClaimPlan
	if claim.GetStatus().GetPhase() != api.ClaimLost {
		st := proto.Clone(claim.GetStatus()).(*corev1.PersistentVolumeClaimStatus)
		if st == nil {
			st = &corev1.PersistentVolumeClaimStatus{}
		}
		st.Phase = api.ClaimLost
		p.ClaimStatus = st
		p.Events = []controller.Event{{Type: record.Warning, Reason: reason, Message: msg}}
	}
	return p
}

func volumeNamed(volumes []*corev1.PersistentVolume, name string) *corev1.PersistentVolume {
	for _, v := range volumes {
		if v.GetMetadata().GetName() == name {
			return v
		}
	}
	return nil
}

// volumeStatus is vol's status in phase, stamped now when the phase
// changes.
func volumeStatus(vol *corev1.PersistentVolume, phase string, now time.Time) *corev1.PersistentVolumeStatus {
	st := &corev1.PersistentVolumeStatus{Phase: phase, LastPhaseTransitionTime: vol.GetStatus().GetLastPhaseTransitionTime()}
	if phase != vol.GetStatus().GetPhase() {
		st.LastPhaseTransitionTime = timestamppb.New(now)
	}
	return st
}

func withAnnotation(claim *corev1.PersistentVolumeClaim, key, value string) *corev1.PersistentVolumeClaim {
	next := proto.Clone(claim).(*corev1.PersistentVolumeClaim)
	if next.Metadata == nil {
		next.Metadata = &metav1.ObjectMeta{}
	}
	setAnnotation(next.Metadata, key, value)
	return next
}

func setAnnotation(m *metav1.ObjectMeta, key, value string) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[key] = value
}

func cloneQuantities(in map[string]*metav1.Quantity) map[string]*metav1.Quantity {
	if in == nil {
		return nil
	}
	out := make(map[string]*metav1.Quantity, len(in))
	for k, q := range in {
		out[k] = proto.Clone(q).(*metav1.Quantity)
	}
	return out
}

// VolumeInput is what DecideVolume decides on. DecideVolume does not
// modify it.
type VolumeInput struct {
	Volume *corev1.PersistentVolume
	// Claim is the claim the volume's claimRef names (by namespace and
	// name); nil when it does not exist. The caller confirms an absence
	// with the apiserver: a claim missing only from a cache would release
	// the volume.
	Claim *corev1.PersistentVolumeClaim
	// HasProvisioner is as in ClaimInput.
	HasProvisioner func(name string) bool
	Now            time.Time
}

// VolumePlan is what one sync of a volume writes, in this order: the
// volume (its claimRef and annotations), its status, then the reclaim;
// Events are recorded on the volume.
type VolumePlan struct {
	Volume *corev1.PersistentVolume
	Status *corev1.PersistentVolumeStatus
	// Delete: the volume is released under the Delete reclaim policy and
	// its provisioner runs here: the executor asks it to delete the
	// storage, then deletes the PersistentVolume (FailedDelete is the
	// status when the provisioner fails).
	Delete bool
	// SyncClaim: the claim's half of the binding is not written yet; the
	// claim is to be synced.
	SyncClaim bool
	Events    []controller.Event
}

// DecideVolume plans one sync of a volume, as Kubernetes' PV controller
// does: a volume reserved for no claim, or for one not yet bound, is
// Available; one bound to its claim is Bound; one whose claim is gone is
// Released and reclaimed by its policy (Retain keeps it Released, Delete
// has its provisioner delete it; a volume no provisioner made cannot be
// deleted and Fails). A volume the controller bound to a claim that went
// to another volume is unbound again (or, when provisioned for it under
// Delete, reclaimed).
func DecideVolume(in VolumeInput) VolumePlan {
	vol := in.Volume
	var p VolumePlan
	phase := func(ph string) VolumePlan {
		if vol.GetStatus().GetPhase() != ph {
			p.Status = volumeStatus(vol, ph, in.Now)
		}
		return p
	}
	ref := vol.GetSpec().GetClaimRef()
	if ref == nil || ref.GetUid() == "" {
		return phase(api.VolumeAvailable)
	}
	claim := in.Claim
	if claim != nil && claim.GetMetadata().GetUid() != ref.GetUid() {
		claim = nil // deleted and made again: not the claim the volume was bound to
	}
	anns := vol.GetMetadata().GetAnnotations()
	switch {
	case claim == nil:
		return reclaim(in)
	case claim.GetSpec().GetVolumeName() == "":
		p.SyncClaim = true
		return p
	case claim.GetSpec().GetVolumeName() == vol.GetMetadata().GetName():
		return phase(api.VolumeBound)
	case anns[api.AnnProvisionedBy] != "" && vol.GetSpec().GetPersistentVolumeReclaimPolicy() == api.PersistentVolumeReclaimDelete:
		return reclaim(in) // made for a claim that found another volume
	case anns[AnnBoundByController] != "":
		next := proto.Clone(vol).(*corev1.PersistentVolume)
		next.Spec.ClaimRef = nil
		delete(next.Metadata.Annotations, AnnBoundByController)
		p.Volume = next
		return phase(api.VolumeAvailable)
	default:
		return p // the user bound it; the user unbinds it
	}
}

// reclaim plans a volume whose claim is gone: Released, then its reclaim
// policy.
func reclaim(in VolumeInput) VolumePlan {
	vol := in.Volume
	var p VolumePlan
	if ph := vol.GetStatus().GetPhase(); ph != api.VolumeReleased && ph != api.VolumeFailed {
		p.Status = volumeStatus(vol, api.VolumeReleased, in.Now)
	}
	fail := func(msg string) VolumePlan {
		if vol.GetStatus().GetPhase() != api.VolumeFailed || vol.GetStatus().GetMessage() != msg {
			p.Status = FailedDelete(vol, msg, in.Now)
			p.Events = append(p.Events, controller.Event{Type: record.Warning, Reason: EventVolumeFailedDelete, Message: msg})
		}
		return p
	}
	switch policy := vol.GetSpec().GetPersistentVolumeReclaimPolicy(); policy {
	case api.PersistentVolumeReclaimRetain:
		return p
	case api.PersistentVolumeReclaimDelete:
		if vol.GetMetadata().GetDeletionTimestamp() != nil {
			return p
		}
		provisioner := vol.GetMetadata().GetAnnotations()[api.AnnProvisionedBy]
		switch {
		case provisioner == "":
			return fail(fmt.Sprintf("error getting deleter volume plugin for volume %q: no provisioner made it (no %s annotation)",
				vol.GetMetadata().GetName(), api.AnnProvisionedBy))
		case in.HasProvisioner != nil && in.HasProvisioner(provisioner):
			p.Delete = true
		}
		return p // an external provisioner deletes it
	default:
		return fail(fmt.Sprintf("reclaim policy %q is not supported", policy))
	}
}

// FailedDelete is the status of vol after its deletion failed with msg.
func FailedDelete(vol *corev1.PersistentVolume, msg string, now time.Time) *corev1.PersistentVolumeStatus {
	st := volumeStatus(vol, api.VolumeFailed, now)
	st.Message = msg
	return st
}

// ProvisionedVolume completes made, the volume a provisioner made for
// claim through class: named pvc-<claim uid>, reserved for the claim
// (claimRef, AnnBoundByController), api.AnnProvisionedBy naming the
// provisioner, and the class's name, reclaim policy (Delete by default)
// and mount options. It modifies and returns made.
func ProvisionedVolume(made *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass) *corev1.PersistentVolume {
	if made.Metadata == nil {
		made.Metadata = &metav1.ObjectMeta{}
	}
	if made.Spec == nil {
		made.Spec = &corev1.PersistentVolumeSpec{}
	}
	m := claim.GetMetadata()
	made.Metadata.Name = VolumeName(claim)
	setAnnotation(made.Metadata, AnnBoundByController, "yes")
	setAnnotation(made.Metadata, api.AnnProvisionedBy, class.GetProvisioner())
	made.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", ApiVersion: "v1", Namespace: m.GetNamespace(),
		Name: m.GetName(), Uid: m.GetUid(), ResourceVersion: m.GetResourceVersion()}
	made.Spec.StorageClassName = class.GetMetadata().GetName()
	made.Spec.PersistentVolumeReclaimPolicy = api.PersistentVolumeReclaimDelete
	if class.ReclaimPolicy != nil {
		made.Spec.PersistentVolumeReclaimPolicy = class.GetReclaimPolicy()
	}
	if len(made.Spec.MountOptions) == 0 {
		made.Spec.MountOptions = slices.Clone(class.GetMountOptions())
	}
	if len(made.Spec.AccessModes) == 0 {
		made.Spec.AccessModes = slices.Clone(claim.GetSpec().GetAccessModes())
	}
	if made.Spec.VolumeMode == nil && claim.GetSpec().VolumeMode != nil {
		mode := claim.GetSpec().GetVolumeMode()
		made.Spec.VolumeMode = &mode
	}
	return made
}

// VolumeName is the name of the volume provisioned for claim.
func VolumeName(claim *corev1.PersistentVolumeClaim) string {
	return "pvc-" + claim.GetMetadata().GetUid()
}
