// Package protection holds the pvc-protection and pv-protection
// controllers: a claim keeps the finalizer kubernetes.io/pvc-protection
// while a pod may use it, and a volume keeps kubernetes.io/pv-protection
// while a claim is bound to it, so neither disappears under its user.
// Each controller adds its finalizer to the objects that lack it (the
// StorageObjectInUseProtection admission plugin adds it at creation) and
// removes it from an object being deleted once nothing uses the object.
//
// The decisions (ClaimUpdate, VolumeUpdate) are pure; the controllers
// around them read informers and write through the client.
package protection

import (
	"slices"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// ClaimUpdate returns claim with its protection finalizer as it should
// be, or nil when it is so already: added while the claim is not being
// deleted, removed once it is being deleted and none of pods (the pods
// of its namespace) uses it.
func ClaimUpdate(claim *corev1.PersistentVolumeClaim, pods []*corev1.Pod) *corev1.PersistentVolumeClaim {
	m := claim.GetMetadata()
	has := slices.Contains(m.GetFinalizers(), api.PVCProtectionFinalizer)
	switch {
	case m.GetDeletionTimestamp() == nil && !has:
		next := proto.Clone(claim).(*corev1.PersistentVolumeClaim)
		next.Metadata.Finalizers = append(next.Metadata.Finalizers, api.PVCProtectionFinalizer)
		return next
	case m.GetDeletionTimestamp() != nil && has && !ClaimInUse(claim, pods):
		next := proto.Clone(claim).(*corev1.PersistentVolumeClaim)
		next.Metadata.Finalizers = slices.DeleteFunc(next.Metadata.Finalizers, func(f string) bool { return f == api.PVCProtectionFinalizer })
		return next
	}
	return nil
}

// ClaimInUse reports whether a pod of pods that has not finished
// (Succeeded or Failed) names the claim in a persistentVolumeClaim
// volume. Unlike Kubernetes, a pod not yet scheduled counts: Keel's
// scheduler does not refuse pods whose claim is being deleted, so such a
// pod may still start on the claim.
func ClaimInUse(claim *corev1.PersistentVolumeClaim, pods []*corev1.Pod) bool {
	for _, p := range pods {
		if p.GetMetadata().GetNamespace() == claim.GetMetadata().GetNamespace() && !api.IsPodTerminal(p) &&
			slices.Contains(ClaimNames(p), claim.GetMetadata().GetName()) {
			return true
		}
	}
	return false
}

// ClaimNames are the claims a pod's volumes name.
func ClaimNames(pod *corev1.Pod) []string {
	var names []string
	for _, v := range pod.GetSpec().GetVolumes() {
		if c := v.GetPersistentVolumeClaim(); c != nil {
			names = append(names, c.GetClaimName())
		}
	}
	return names
}

// VolumeUpdate returns vol with its protection finalizer as it should
// be, or nil when it is so already: added while the volume is not being
// deleted, removed once it is being deleted and not Bound to a claim.
func VolumeUpdate(vol *corev1.PersistentVolume) *corev1.PersistentVolume {
	m := vol.GetMetadata()
	has := slices.Contains(m.GetFinalizers(), api.PVProtectionFinalizer)
	switch {
	case m.GetDeletionTimestamp() == nil && !has:
		next := proto.Clone(vol).(*corev1.PersistentVolume)
		next.Metadata.Finalizers = append(next.Metadata.Finalizers, api.PVProtectionFinalizer)
		return next
	case m.GetDeletionTimestamp() != nil && has && vol.GetStatus().GetPhase() != api.VolumeBound:
		next := proto.Clone(vol).(*corev1.PersistentVolume)
		next.Metadata.Finalizers = slices.DeleteFunc(next.Metadata.Finalizers, func(f string) bool { return f == api.PVProtectionFinalizer })
		return next
	}
	return nil
}
