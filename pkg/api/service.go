package api

import corev1 "keel.dev/keel/pkg/apis/core/v1"

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

// ServiceNeedsClusterIP: the Service gets a cluster IP (every type but
// ExternalName, unless headless).
func ServiceNeedsClusterIP(s *corev1.Service) bool {
	return s.GetSpec().GetType() != ServiceTypeExternalName && s.GetSpec().GetClusterIp() != ClusterIPNone
}

// ServiceNeedsNodePorts: the Service's ports get node ports (NodePort and
// LoadBalancer).
func ServiceNeedsNodePorts(s *corev1.Service) bool {
	t := s.GetSpec().GetType()
	return t == ServiceTypeNodePort || t == ServiceTypeLoadBalancer
}
