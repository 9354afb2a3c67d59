package iptables

import (
	"cmp"
	"slices"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
)

// DefaultAffinitySeconds is the ClientIP affinity timeout when a Service
// does not set sessionAffinityConfig.clientIP.timeoutSeconds (3 hours).
const DefaultAffinitySeconds = 10800

// ServicePorts maps one Service and its EndpointSlices (none yet: nil) to
// the ports the proxy programs, in the Service's port order. It returns
// none for a nil Service, a headless one (clusterIP "None" or empty) or an
// ExternalName one, and none when the ClusterIP is not IPv4 (IPv6 is not
// programmed).
//
// eps must be the Service's own slices (labelled with its name, in its
// namespace); it is not checked. A slice port belongs to the service port
// with the same name and protocol (unset protocol is TCP on both sides),
// so a single unnamed slice port matches the unnamed service port. The
// ready endpoints receive the traffic (an unset ready condition counts as
// ready); when a service port has none, its serving and terminating
// endpoints do, so connections still find a pod that is shutting down
// gracefully (Kubernetes' ProxyTerminatingEndpoints). Addresses that are
// not IPv4 are skipped; endpoints are sorted and de-duplicated.
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
func ServicePorts(svc *corev1.Service, eps []*discoveryv1.EndpointSlice, nodeName string) []ServicePort {
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
		sp.Endpoints = portEndpoints(sp, eps, nodeName)
		out = append(out, sp)
	}
	return out
}

// portEndpoints are sp's endpoints among the slices: the ready ones, else
// the serving terminating ones; sorted, de-duplicated.
func portEndpoints(sp ServicePort, eps []*discoveryv1.EndpointSlice, nodeName string) []Endpoint {
	var ready, terminating []Endpoint
	for _, s := range eps {
		for _, p := range s.GetPorts() {
			if p.GetName() != sp.PortName || cmp.Or(p.GetProtocol(), api.ProtocolTCP) != sp.Protocol || !validPort(p.GetPort()) {
				continue
			}
			for _, e := range s.GetEndpoints() {
				if len(e.GetAddresses()) == 0 {
					continue
				}
				ip, ok := ipv4(e.GetAddresses()[0])
				if !ok {
					continue
				}
				ep := Endpoint{IP: ip, Port: p.GetPort(), Local: nodeName != "" && e.GetNodeName() == nodeName}
				c := e.GetConditions()
				isReady := c.GetReady() || c == nil || c.Ready == nil
				serving := isReady
				if c != nil && c.Serving != nil {
					serving = c.GetServing()
				}
				switch {
				case isReady:
					ready = append(ready, ep)
				case serving && c.GetTerminating():
					terminating = append(terminating, ep)
				}
			}
		}
	}
	if len(ready) == 0 {
		ready = terminating
	}
	slices.SortFunc(ready, compareEndpoints)
	return slices.CompactFunc(ready, sameEndpoint)
}
