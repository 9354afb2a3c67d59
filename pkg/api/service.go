package api

// Service session affinity (spec.sessionAffinity).
const (
	ServiceAffinityClientIP = "ClientIP"
	ServiceAffinityNone     = "None"
)

// Service traffic policies (spec.externalTrafficPolicy,
// spec.internalTrafficPolicy).
const (
	ServiceTrafficPolicyCluster = "Cluster"
	ServiceTrafficPolicyLocal   = "Local"
)
