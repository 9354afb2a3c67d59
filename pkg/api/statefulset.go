package api

// StatefulSet policies, the labels its controller puts on pods, and its
// claim retention policies, as Kubernetes names them.
const (
	OrderedReadyPodManagement = "OrderedReady"
	ParallelPodManagement     = "Parallel"

	RollingUpdateStatefulSetStrategyType = "RollingUpdate"
	OnDeleteStatefulSetStrategyType      = "OnDelete"

	RetainPersistentVolumeClaimRetentionPolicyType = "Retain"
	DeletePersistentVolumeClaimRetentionPolicyType = "Delete"

	// StatefulSetPodNameLabel carries a StatefulSet pod's own name, so a
	// Service can select exactly one of them.
	StatefulSetPodNameLabel = "statefulset.kubernetes.io/pod-name"
	// PodIndexLabel carries a StatefulSet pod's ordinal.
	PodIndexLabel = "apps.kubernetes.io/pod-index"
)
