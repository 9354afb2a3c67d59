package persistentvolume

// Annotations the PV controller reads and writes, as Kubernetes names
// them.
const (
	// AnnBindCompleted ("yes") on a claim: the controller finished binding
	// it; from then on a claim without its volume is Lost.
	AnnBindCompleted = "pv.kubernetes.io/bind-completed"
	// AnnBoundByController ("yes") on a claim or a volume: the controller,
	// not the user, wrote its half of the binding (spec.volumeName or
	// spec.claimRef), so the controller may undo it.
	AnnBoundByController = "pv.kubernetes.io/bound-by-controller"
	// AnnStorageProvisioner on a claim names the provisioner asked to make
	// its volume.
	AnnStorageProvisioner = "volume.kubernetes.io/storage-provisioner"
	// AnnSelectedNode on a claim of a WaitForFirstConsumer class names the
	// node the scheduler chose for its first pod.
	AnnSelectedNode = "volume.kubernetes.io/selected-node"
)

// NoProvisioner is the provisioner of classes whose volumes are made by
// hand only.
const NoProvisioner = "kubernetes.io/no-provisioner"

// Event reasons, as Kubernetes' PV controller records them.
const (
	EventFailedBinding         = "FailedBinding"
	EventVolumeMismatch        = "VolumeMismatch"
	EventWaitForFirstConsumer  = "WaitForFirstConsumer"
	EventExternalProvisioning  = "ExternalProvisioning"
	EventProvisioningFailed    = "ProvisioningFailed"
	EventProvisioningSucceeded = "ProvisioningSucceeded"
	EventVolumeFailedDelete    = "VolumeFailedDelete"
	EventClaimLost             = "ClaimLost"
	EventClaimMisbound         = "ClaimMisbound"
)
