package iptables

import (
	"cmp"
	"slices"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// DefaultAffinitySeconds is the ClientIP affinity timeout when a Service
// does not set sessionAffinityConfig.clientIP.timeoutSeconds (3 hours).
const DefaultAffinitySeconds = 10800

// ServicePorts maps one Service and its Endpoints (nil if none yet) to the
// ports the proxy programs, in the Service's port order. It returns none
// for a nil Service, a headless one (clusterIP "None" or empty) or an
// ExternalName one, and none when the ClusterIP is not IPv4 (IPv6 is not
// programmed).
//
// eps must be the Service's own Endpoints (same namespace and name); it is
// not checked. An endpoint port belongs to the service port with the same
// name and protocol ("" protocol is TCP on both sides), so a single unnamed
// endpoint port matches the unnamed service port. Only the subsets' ready
// addresses are used, never notReadyAddresses; addresses that are not IPv4
// are skipped; endpoints are sorted and de-duplicated.
//
// NodePort is kept only for NodePort and LoadBalancer services. Session
// affinity ClientIP gives AffinitySeconds from
// sessionAffinityConfig.clientIP.timeoutSeconds, DefaultAffinitySeconds when
// unset or not positive.
//
// nodeName is the proxy's node: an endpoint address whose nodeName equals
// it is Local ("" marks none local). internalTrafficPolicy Local gives
// InternalLocal; externalTrafficPolicy Local gives ExternalLocal on a
// service reachable from outside (a NodePort or LoadBalancer, or one with
// external IPs), as kube-proxy reads them.
func ServicePorts(svc *corev1.Service, eps *corev1.Endpoints, nodeName string) []ServicePort {
	spec := svc.GetSpec()
	if spec == nil || spec.GetType() == api.ServiceTypeExternalName {
		return nil
	}
	clusterIP := spec.GetClusterIp()
	if clusterIP == "" && len(spec.GetClusterIps()) > 0 {
		clusterIP = spec.GetClusterIps()[0]
	}
	clusterIP, ok := ipv4(clusterIP) // also rejects "None" and ""
	if !ok {
		return nil
	}
	var externalIPs []string
	for _, e := range spec.GetExternalIps() {
		if ip, ok := ipv4(e); ok {
			externalIPs = append(externalIPs, ip)
		}
	}
	var affinity int32
	if spec.GetSessionAffinity() == api.ServiceAffinityClientIP {
		affinity = DefaultAffinitySeconds
		if t := spec.GetSessionAffinityConfig().GetClientIp().GetTimeoutSeconds(); t > 0 {
			affinity = t
		}
	}
	withNodePorts := spec.GetType() == api.ServiceTypeNodePort || spec.GetType() == api.ServiceTypeLoadBalancer
	externalLocal := spec.GetExternalTrafficPolicy() == api.ServiceTrafficPolicyLocal && (withNodePorts || len(externalIPs) > 0)
	internalLocal := spec.GetInternalTrafficPolicy() == api.ServiceTrafficPolicyLocal

	var out []ServicePort
	for _, p := range spec.GetPorts() {
		sp := ServicePort{
			Namespace:       svc.GetMetadata().GetNamespace(),
			Name:            svc.GetMetadata().GetName(),
			PortName:        p.GetName(),
			Protocol:        cmp.Or(p.GetProtocol(), api.ProtocolTCP),
			ClusterIP:       clusterIP,
			Port:            p.GetPort(),
			ExternalIPs:     slices.Clone(externalIPs),
			AffinitySeconds: affinity,
			ExternalLocal:   externalLocal,
			InternalLocal:   internalLocal,
		}
		if withNodePorts {
			sp.NodePort = p.GetNodePort()
		}
		for _, ss := range eps.GetSubsets() {
			for _, ep := range ss.GetPorts() {
				if ep.GetName() != sp.PortName || cmp.Or(ep.GetProtocol(), api.ProtocolTCP) != sp.Protocol || !validPort(ep.GetPort()) {
					continue
				}
				for _, a := range ss.GetAddresses() {
					if ip, ok := ipv4(a.GetIp()); ok {
						local := nodeName != "" && a.GetNodeName() == nodeName
						sp.Endpoints = append(sp.Endpoints, Endpoint{IP: ip, Port: ep.GetPort(), Local: local})
					}
				}
			}
		}
		slices.SortFunc(sp.Endpoints, compareEndpoints)
		sp.Endpoints = slices.CompactFunc(sp.Endpoints, sameEndpoint)
		out = append(out, sp)
	}
	return out
}
