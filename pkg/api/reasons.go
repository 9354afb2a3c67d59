package api

// ---- Added for printers, validation, defaults, the apiserver and the
// kubelet's executor (issue 10, item 3). ----

// Pod status and condition reasons read by keelctl's printers.
const (
	// PodReasonSchedulingGated is the reason of a PodScheduled=False
	// condition while the pod has scheduling gates.
	PodReasonSchedulingGated = "SchedulingGated"
	// NodeUnreachablePodReason is the status.reason of a pod whose node
	// stopped reporting (`get pods` then shows Unknown while it is deleted).
	NodeUnreachablePodReason = "NodeLost"
)

// Container state reasons (status.containerStatuses[].state).
const (
	// ContainerReasonPodInitializing: an app container waits for the
	// pod's init containers.
	ContainerReasonPodInitializing = "PodInitializing"
	// ContainerReasonCompleted: the container exited with code 0.
	ContainerReasonCompleted = "Completed"
)

// Event reasons the kubelet reports about a pod's containers, under
// Kubernetes' names. Every failure to pull, create or start a container
// has the reason Failed; the message tells which.
const (
	EventReasonPulling                = "Pulling"
	EventReasonPulled                 = "Pulled"
	EventReasonCreated                = "Created"
	EventReasonStarted                = "Started"
	EventReasonKilling                = "Killing"
	EventReasonFailed                 = "Failed"
	EventReasonFailedCreatePodSandBox = "FailedCreatePodSandBox"
	EventReasonSandboxChanged         = "SandboxChanged"
	// EventReasonFailedMount: a volume of the pod could not be set up.
	EventReasonFailedMount = "FailedMount"
)

// Node phases (status.phase, deprecated in Kubernetes but still served).
const (
	NodePending    = "Pending"
	NodeRunning    = "Running"
	NodeTerminated = "Terminated"
)

// Node selector operators (nodeSelectorTerms[].matchExpressions[] and
// matchFields[]).
const (
	NodeSelectorOpIn           = "In"
	NodeSelectorOpNotIn        = "NotIn"
	NodeSelectorOpExists       = "Exists"
	NodeSelectorOpDoesNotExist = "DoesNotExist"
	NodeSelectorOpGt           = "Gt"
	NodeSelectorOpLt           = "Lt"
)

// Node inclusion policies of topology spread constraints
// (nodeAffinityPolicy, nodeTaintsPolicy).
const (
	NodeInclusionPolicyHonor  = "Honor"
	NodeInclusionPolicyIgnore = "Ignore"
)

// Job pod replacement policies (spec.podReplacementPolicy).
const (
	PodReplacementPolicyTerminatingOrFailed = "TerminatingOrFailed"
	PodReplacementPolicyFailed              = "Failed"
)

// ResourceStorage is the resource name of a volume's size.
const ResourceStorage = "storage"

// LabelNodeRole is the legacy label naming a node's role (its value); see
// also LabelNodeRolePrefix.
const LabelNodeRole = "kubernetes.io/role"

// Secret types (type), and the annotation a service-account-token Secret
// names its ServiceAccount with.
const (
	SecretTypeOpaque              = "Opaque"
	SecretTypeServiceAccountToken = "kubernetes.io/service-account-token"
	SecretTypeDockercfg           = "kubernetes.io/dockercfg"
	SecretTypeDockerConfigJSON    = "kubernetes.io/dockerconfigjson"
	SecretTypeBasicAuth           = "kubernetes.io/basic-auth"
	SecretTypeSSHAuth             = "kubernetes.io/ssh-auth"
	SecretTypeTLS                 = "kubernetes.io/tls"

	ServiceAccountNameAnnotation = "kubernetes.io/service-account.name"
)

// Namespaces every cluster has.
const (
	NamespaceDefault = "default"
	NamespaceSystem  = "kube-system"
	NamespacePublic  = "kube-public"
)

// The built-in PriorityClasses.
const (
	SystemClusterCritical = "system-cluster-critical"
	SystemNodeCritical    = "system-node-critical"
)
