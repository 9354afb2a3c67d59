package api

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
	// IsDefaultStorageClassAnnotation marks the StorageClass of claims
	// that name none (the newest such class when several carry it).
	IsDefaultStorageClassAnnotation = "storageclass.kubernetes.io/is-default-class"
	// PVCProtectionFinalizer keeps a claim while a pod uses it.
	PVCProtectionFinalizer = "kubernetes.io/pvc-protection"
	// PVProtectionFinalizer keeps a volume while a claim is bound to it.
	PVProtectionFinalizer = "kubernetes.io/pv-protection"
)
