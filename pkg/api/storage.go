package api

import (
	"slices"
	"strings"

	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
)

// The storage API group and the values of the storage kinds' fields, as
// Kubernetes names them.
const GroupStorage = "storage.k8s.io"

// Access modes of volumes and claims.
const (
	ReadWriteOnce    = "ReadWriteOnce"
	ReadOnlyMany     = "ReadOnlyMany"
	ReadWriteMany    = "ReadWriteMany"
	ReadWriteOncePod = "ReadWriteOncePod"
)

// AccessModes are the valid access modes, in Kubernetes' order.
var AccessModes = []string{ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod}

// AccessModeAbbreviation is kubectl's short form of an access mode
// (RWO, ROX, RWX, RWOP); an unknown mode is returned as it is.
func AccessModeAbbreviation(mode string) string {
	switch mode {
	case ReadWriteOnce:
		return "RWO"
	case ReadOnlyMany:
		return "ROX"
	case ReadWriteMany:
		return "RWX"
	case ReadWriteOncePod:
		return "RWOP"
	}
	return mode
}

// Reclaim policies of a PersistentVolume (and of a StorageClass's
// provisioned volumes: Retain or Delete).
const (
	PersistentVolumeReclaimRetain  = "Retain"
	PersistentVolumeReclaimDelete  = "Delete"
	PersistentVolumeReclaimRecycle = "Recycle"
)

// Volume modes.
const (
	PersistentVolumeFilesystem = "Filesystem"
	PersistentVolumeBlock      = "Block"
)

// Phases of a PersistentVolume.
const (
	VolumePending   = "Pending"
	VolumeAvailable = "Available"
	VolumeBound     = "Bound"
	VolumeReleased  = "Released"
	VolumeFailed    = "Failed"
)

// Phases of a PersistentVolumeClaim.
const (
	ClaimPending = "Pending"
	ClaimBound   = "Bound"
	ClaimLost    = "Lost"
)

// Volume binding modes of a StorageClass.
const (
	VolumeBindingImmediate            = "Immediate"
	VolumeBindingWaitForFirstConsumer = "WaitForFirstConsumer"
)

// CSIDriver values.
const (
	VolumeLifecyclePersistent = "Persistent"
	VolumeLifecycleEphemeral  = "Ephemeral"

	ReadWriteOnceWithFSTypeFSGroupPolicy = "ReadWriteOnceWithFSType"
	FileFSGroupPolicy                    = "File"
	NoneFSGroupPolicy                    = "None"
)

const (
	// AnnSelectedNode on a claim of a WaitForFirstConsumer class names the
	// node the scheduler chose for its first pod; the PV controller binds
	// or provisions for that node.
	AnnSelectedNode = "volume.kubernetes.io/selected-node"
	// NoProvisioner is the provisioner of classes whose volumes are made
	// by hand only.
	NoProvisioner = "kubernetes.io/no-provisioner"
	// IsDefaultStorageClassAnnotation marks the StorageClass of claims
	// that name none (the newest such class when several carry it).
	IsDefaultStorageClassAnnotation = "storageclass.kubernetes.io/is-default-class"
	// PVCProtectionFinalizer keeps a claim while a pod uses it.
	PVCProtectionFinalizer = "kubernetes.io/pvc-protection"
	// PVProtectionFinalizer keeps a volume while a claim is bound to it.
	PVProtectionFinalizer = "kubernetes.io/pv-protection"
	// LabelAttachmentNode on a VolumeAttachment made by Keel's
	// attach-detach controller names its node (spec.nodeName): the node
	// authorizer lets a kubelet list and watch the attachments labelled
	// with its own name, so it learns of its volumes' attachments (Keel's
	// Node status has no volumesAttached) without reading any other.
	LabelAttachmentNode = "keel.dev/attachment-node"
)

// betaIsDefaultStorageClassAnnotation is the annotation's older name,
// still honoured as Kubernetes does.
const betaIsDefaultStorageClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"

// IsDefaultStorageClass: the class is annotated as a default one.
func IsDefaultStorageClass(sc *storagev1.StorageClass) bool {
	a := sc.GetMetadata().GetAnnotations()
	return a[IsDefaultStorageClassAnnotation] == "true" || a[betaIsDefaultStorageClassAnnotation] == "true"
}

// DefaultStorageClass is the class given to claims that name none: among
// the classes annotated as default, the newest (the first by name when
// created at the same instant), as Kubernetes picks it; nil when none is.
func DefaultStorageClass(classes []*storagev1.StorageClass) *storagev1.StorageClass {
	var defaults []*storagev1.StorageClass
	for _, sc := range classes {
		if IsDefaultStorageClass(sc) {
			defaults = append(defaults, sc)
		}
	}
	if len(defaults) == 0 {
		return nil
	}
	return slices.MinFunc(defaults, func(a, b *storagev1.StorageClass) int {
		ta, tb := a.GetMetadata().GetCreationTimestamp().AsTime(), b.GetMetadata().GetCreationTimestamp().AsTime()
		if c := tb.Compare(ta); c != 0 {
			return c
		}
		return strings.Compare(a.GetMetadata().GetName(), b.GetMetadata().GetName())
	})
}
