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
)

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
