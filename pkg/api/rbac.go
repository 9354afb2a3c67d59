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
