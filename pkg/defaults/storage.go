package defaults

import (
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
)

// PersistentVolume sets a volume's defaults, as Kubernetes: reclaim policy
// Retain, volume mode Filesystem, phase Pending.
func PersistentVolume(pv *corev1.PersistentVolume) {
	if pv.Spec == nil {
		pv.Spec = &corev1.PersistentVolumeSpec{}
	}
	if pv.Spec.PersistentVolumeReclaimPolicy == "" {
		pv.Spec.PersistentVolumeReclaimPolicy = api.PersistentVolumeReclaimRetain
	}
	if pv.Spec.VolumeMode == nil {
		pv.Spec.VolumeMode = proto.String(api.PersistentVolumeFilesystem)
	}
	if pv.Status == nil {
		pv.Status = &corev1.PersistentVolumeStatus{}
	}
	if pv.Status.Phase == "" {
		pv.Status.Phase = api.VolumePending
	}
}

// PersistentVolumeClaim sets a claim's defaults: volume mode Filesystem,
// phase Pending.
func PersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) {
	if pvc.Spec == nil {
		pvc.Spec = &corev1.PersistentVolumeClaimSpec{}
	}
	applyClaimSpec(pvc.Spec)
	if pvc.Status == nil {
		pvc.Status = &corev1.PersistentVolumeClaimStatus{}
	}
	if pvc.Status.Phase == "" {
		pvc.Status.Phase = api.ClaimPending
	}
}

// applyClaimSpec defaults the spec of a claim or of a claim template.
func applyClaimSpec(s *corev1.PersistentVolumeClaimSpec) {
	if s.VolumeMode == nil {
		s.VolumeMode = proto.String(api.PersistentVolumeFilesystem)
	}
}

// StorageClass sets a class's defaults: reclaim policy Delete, binding
// mode Immediate.
func StorageClass(sc *storagev1.StorageClass) {
	if sc.ReclaimPolicy == nil {
		sc.ReclaimPolicy = proto.String(api.PersistentVolumeReclaimDelete)
	}
	if sc.VolumeBindingMode == nil {
		sc.VolumeBindingMode = proto.String(api.VolumeBindingImmediate)
	}
}

// CSIDriver sets a driver's defaults, as Kubernetes: attach required, no
// pod info on mount, persistent volumes only, fsGroup applied for
// ReadWriteOnce volumes with an fsType, no capacity tracking, no
// republish, no SELinux mount.
func CSIDriver(d *storagev1.CSIDriver) {
	if d.Spec == nil {
		d.Spec = &storagev1.CSIDriverSpec{}
	}
	s := d.Spec
	if s.AttachRequired == nil {
		s.AttachRequired = proto.Bool(true)
	}
	if s.PodInfoOnMount == nil {
		s.PodInfoOnMount = proto.Bool(false)
	}
	if len(s.VolumeLifecycleModes) == 0 {
		s.VolumeLifecycleModes = []string{api.VolumeLifecyclePersistent}
	}
	if s.StorageCapacity == nil {
		s.StorageCapacity = proto.Bool(false)
	}
	if s.FsGroupPolicy == nil {
		s.FsGroupPolicy = proto.String(api.ReadWriteOnceWithFSTypeFSGroupPolicy)
	}
	if s.RequiresRepublish == nil {
		s.RequiresRepublish = proto.Bool(false)
	}
	if s.SeLinuxMount == nil {
		s.SeLinuxMount = proto.Bool(false)
	}
}
