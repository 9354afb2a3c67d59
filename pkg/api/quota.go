package api

// Quota resource names (ResourceQuota spec.hard keys) beyond the container
// resources: compute requests and limits, and the legacy object counts.
// Any resource is also counted as count/<resource>.<group>
// (count/<resource> for the core group).
const (
	ResourceRequestsCPU            = "requests.cpu"
	ResourceRequestsMemory         = "requests.memory"
	ResourceLimitsCPU              = "limits.cpu"
	ResourceLimitsMemory           = "limits.memory"
	ResourceServices               = "services"
	ResourceSecrets                = "secrets"
	ResourceConfigMaps             = "configmaps"
	ResourceReplicationControllers = "replicationcontrollers"
	ResourceQuotas                 = "resourcequotas"
	ResourcePersistentVolumeClaims = "persistentvolumeclaims"
	ResourceServicesNodePorts      = "services.nodeports"
	ResourceServicesLoadBalancers  = "services.loadbalancers"
	// ResourceCountPrefix starts an object-count resource name.
	ResourceCountPrefix = "count/"
)

// ResourceQuota scopes (spec.scopes, spec.scopeSelector scopeName).
const (
	QuotaScopeTerminating    = "Terminating"
	QuotaScopeNotTerminating = "NotTerminating"
	QuotaScopeBestEffort     = "BestEffort"
	QuotaScopeNotBestEffort  = "NotBestEffort"
	QuotaScopePriorityClass  = "PriorityClass"
)

// Scope selector operators.
const (
	ScopeSelectorOpIn           = "In"
	ScopeSelectorOpNotIn        = "NotIn"
	ScopeSelectorOpExists       = "Exists"
	ScopeSelectorOpDoesNotExist = "DoesNotExist"
)

// LimitRange item types (spec.limits[].type).
const (
	LimitTypePod                   = "Pod"
	LimitTypeContainer             = "Container"
	LimitTypePersistentVolumeClaim = "PersistentVolumeClaim"
)
