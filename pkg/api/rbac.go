package api

// GroupRBAC is the API group of roles and bindings.
const GroupRBAC = "rbac.authorization.k8s.io"

// RBAC subject and role kinds.
const (
	SubjectKindUser           = "User"
	SubjectKindGroup          = "Group"
	SubjectKindServiceAccount = "ServiceAccount"
	RoleKindRole              = "Role"
	RoleKindClusterRole       = "ClusterRole"
)

// DefaultServiceAccountName is the service account every namespace has and
// a pod that names none runs as.
const DefaultServiceAccountName = "default"

// ServiceAccount token volumes (the ServiceAccount admission plugin adds
// one to a pod; the kubelet fills it).
const (
	// ServiceAccountTokenMountPath is where a container finds its service
	// account's token ("token"), the cluster CA ("ca.crt") and its
	// namespace ("namespace").
	ServiceAccountTokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// ServiceAccountVolumePrefix starts the name of that volume
	// ("kube-api-access-" and 5 random characters).
	ServiceAccountVolumePrefix = "kube-api-access-"
	// RootCAConfigMapName is the ConfigMap every namespace has whose key
	// "ca.crt" holds the cluster's CA bundle.
	RootCAConfigMapName = "kube-root-ca.crt"
)
