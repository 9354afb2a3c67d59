package api

// Pod phases (status.phase).
const (
	PodPending   = "Pending"
	PodRunning   = "Running"
	PodSucceeded = "Succeeded"
	PodFailed    = "Failed"
	PodUnknown   = "Unknown"
)

// Namespace phases.
const (
	NamespaceActive      = "Active"
	NamespaceTerminating = "Terminating"
)

// Condition statuses.
const (
	ConditionTrue    = "True"
	ConditionFalse   = "False"
	ConditionUnknown = "Unknown"
)

// Pod condition types.
const (
	PodScheduled     = "PodScheduled"
	PodInitialized   = "Initialized"
	ContainersReady  = "ContainersReady"
	PodReady         = "Ready"
	DisruptionTarget = "DisruptionTarget"
)

// Node condition types.
const (
	NodeReady              = "Ready"
	NodeMemoryPressure     = "MemoryPressure"
	NodeDiskPressure       = "DiskPressure"
	NodePIDPressure        = "PIDPressure"
	NodeNetworkUnavailable = "NetworkUnavailable"
)

// Restart policies and image pull policies.
const (
	RestartPolicyAlways    = "Always"
	RestartPolicyOnFailure = "OnFailure"
	RestartPolicyNever     = "Never"

	PullAlways       = "Always"
	PullIfNotPresent = "IfNotPresent"
	PullNever        = "Never"
)

// QoS classes (status.qosClass).
const (
	QOSGuaranteed = "Guaranteed"
	QOSBurstable  = "Burstable"
	QOSBestEffort = "BestEffort"
)

// Service types.
const (
	ServiceTypeClusterIP    = "ClusterIP"
	ServiceTypeNodePort     = "NodePort"
	ServiceTypeLoadBalancer = "LoadBalancer"
	ServiceTypeExternalName = "ExternalName"
	// ClusterIPNone marks a headless Service.
	ClusterIPNone = "None"
)

// Defaults that components other than the apiserver must agree with.
const (
	DefaultSchedulerName                 = "default-scheduler"
	DefaultTerminationGracePeriodSeconds = 30
	DefaultTerminationMessagePath        = "/dev/termination-log"
)

// Well-known labels.
const (
	LabelHostname      = "kubernetes.io/hostname"
	LabelOS            = "kubernetes.io/os"
	LabelArch          = "kubernetes.io/arch"
	LabelNamespaceName = "kubernetes.io/metadata.name"
	// LabelNodeRolePrefix prefixes node-role.kubernetes.io/<role> labels.
	LabelNodeRolePrefix = "node-role.kubernetes.io/"

	// Job labels set on the pod template when the selector is generated.
	JobControllerUIDLabel       = "batch.kubernetes.io/controller-uid"
	JobNameLabel                = "batch.kubernetes.io/job-name"
	LegacyJobControllerUIDLabel = "controller-uid"
	LegacyJobNameLabel          = "job-name"
	// JobCompletionIndexAnnotation (also a label) carries an Indexed Job
	// pod's completion index.
	JobCompletionIndexAnnotation = "batch.kubernetes.io/job-completion-index"

	// DeploymentHashLabel tells a Deployment's ReplicaSets (and their pods)
	// apart: a hash of the pod template they were made from.
	DeploymentHashLabel = "pod-template-hash"
)

// Well-known annotations.
const (
	// DeploymentRevisionAnnotation numbers a Deployment's templates in the
	// order they were rolled out; the Deployment carries its newest.
	DeploymentRevisionAnnotation = "deployment.kubernetes.io/revision"
	// LastAppliedConfigAnnotation holds the configuration apply last wrote.
	LastAppliedConfigAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
	// RestartedAtAnnotation is what `rollout restart` sets on a template.
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
)

// Finalizers.
const (
	// NamespaceFinalizer is the spec.finalizers entry the namespace
	// controller removes once a terminating namespace is empty.
	NamespaceFinalizer  = "kubernetes"
	FinalizerOrphan     = "orphan"
	FinalizerForeground = "foregroundDeletion"
)

// Well-known taints.
const (
	TaintNodeNotReady           = "node.kubernetes.io/not-ready"
	TaintNodeUnreachable        = "node.kubernetes.io/unreachable"
	TaintNodeUnschedulable      = "node.kubernetes.io/unschedulable"
	TaintNodeOutOfService       = "node.kubernetes.io/out-of-service"
	TaintEffectNoSchedule       = "NoSchedule"
	TaintEffectPreferNoSchedule = "PreferNoSchedule"
	TaintEffectNoExecute        = "NoExecute"
)

// Deletion propagation policies.
const (
	DeletePropagationBackground = "Background"
	DeletePropagationForeground = "Foreground"
	DeletePropagationOrphan     = "Orphan"
)

// Appended for keelctl (apply, rollout, drain, describe).
const (
	// ChangeCauseAnnotation says why a revision of a Deployment was made
	// (rollout history's CHANGE-CAUSE).
	ChangeCauseAnnotation = "kubernetes.io/change-cause"

	// Deployment condition types, and the reason of a Progressing
	// condition whose progress deadline passed.
	DeploymentAvailable      = "Available"
	DeploymentProgressing    = "Progressing"
	DeploymentReplicaFailure = "ReplicaFailure"
	ProgressDeadlineExceeded = "ProgressDeadlineExceeded"

	// NamespaceNodeLease holds the nodes' heartbeat Leases.
	NamespaceNodeLease = "kube-node-lease"
)

// ---- Added for the controllers (issue 10, item 5). ----

// Deployment strategy types.
const (
	RecreateDeploymentStrategyType      = "Recreate"
	RollingUpdateDeploymentStrategyType = "RollingUpdate"
)

// Job condition types and reasons, and completion modes.
const (
	JobComplete                   = "Complete"
	JobFailed                     = "Failed"
	JobSuspended                  = "Suspended"
	JobFailureTarget              = "FailureTarget"
	JobSuccessCriteriaMet         = "SuccessCriteriaMet"
	JobReasonBackoffLimitExceeded = "BackoffLimitExceeded"
	JobReasonDeadlineExceeded     = "DeadlineExceeded"
	// JobReasonMaxFailedIndexesExceeded and JobReasonFailedIndexes fail
	// an Indexed Job with backoffLimitPerIndex: more failed indexes than
	// maxFailedIndexes, or every index finished and some failed.
	JobReasonMaxFailedIndexesExceeded = "MaxFailedIndexesExceeded"
	JobReasonFailedIndexes            = "FailedIndexes"
	IndexedCompletion                 = "Indexed"
	NonIndexedCompletion              = "NonIndexed"
)

// Job pod failure policy actions and exit code operators
// (spec.podFailurePolicy.rules[*]).
const (
	PodFailurePolicyFailJob   = "FailJob"
	PodFailurePolicyFailIndex = "FailIndex"
	PodFailurePolicyIgnore    = "Ignore"
	PodFailurePolicyCount     = "Count"
	PodFailurePolicyOpIn      = "In"
	PodFailurePolicyOpNotIn   = "NotIn"
	// JobReasonPodFailurePolicy is the Failed condition's reason when a
	// FailJob rule matched.
	JobReasonPodFailurePolicy = "PodFailurePolicy"
	// JobReasonSuccessPolicy is the reason of the SuccessCriteriaMet and
	// Complete conditions when a rule of the success policy was met.
	JobReasonSuccessPolicy = "SuccessPolicy"
)
