// Package service is the strategy of the Service kind (v1). Its cluster
// IP and node ports are allocated by the apiserver (pkg/apiserver's
// allocator, which writes them as side keys in the same etcd transaction);
// this package decides what an update keeps of them.
package service

import (
	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the Service kind's strategy.
var Strategy = &registry.Kind[*corev1.Service]{
	Identity:             scheme.Kind{Version: "v1", Kind: "Service", Resource: "services", ShortNames: []string{"svc"}, Namespaced: true},
	NameIsDNSLabel:       true,
	DefaultFunc:          defaults.Service,
	PrepareForUpdateFunc: prepareForUpdate,
	ValidateFunc:         validation.Service,
	ValidateUpdateFunc:   validation.ServiceUpdate,
	ValidateStatusFunc:   validation.ServiceStatus,
	TableColumns:         printers.ServiceColumns,
	RowFunc:              printers.ServiceRow,
	RelatedFunc:          related,
	DescribeFunc:         printers.DescribeService,
	CategoryNames:        []string{"all"},
	Watchers:             registry.Watchers{GarbageCollected: true},
	ExposeFunc:           expose,
}

// expose: a Service in front of a Service selects the same pods and
// serves the same ports.
func expose(s *corev1.Service) *registry.Exposure {
	e := &registry.Exposure{Selector: &metav1.LabelSelector{MatchLabels: s.GetSpec().GetSelector()}}
	for _, p := range s.GetSpec().GetPorts() {
		e.Ports = append(e.Ports, &corev1.ContainerPort{ContainerPort: p.GetPort(), Protocol: p.GetProtocol()})
	}
	return e
}

// related: a Service's description shows its Endpoints.
func related(s *corev1.Service) []registry.Query {
	m := s.GetMetadata()
	return []registry.Query{{Key: printers.RelatedEndpoints, Resource: "endpoints", Namespace: m.GetNamespace(), Name: m.GetName()}}
}

// prepareForUpdate runs after defaulting: a type change drops what only the
// old type used, and addresses the update leaves empty keep their values.
func prepareForUpdate(svc, old *corev1.Service) {
	dropTypeDependentFields(svc, old)
	keepAllocated(svc, old)
}

// dropTypeDependentFields clears, on an update that changes a Service's
// type, the fields only the old type uses, when the update carries them
// unchanged (a client that re-sends what it read, or a merge such as
// keelctl apply's): NodePort→ClusterIP drops nodePorts and
// externalTrafficPolicy, ClusterIP→ExternalName drops the ClusterIP, and so
// on, as Kubernetes does. Values the update changes are kept, and validation
// then refuses them for the new type.
func dropTypeDependentFields(svc, old *corev1.Service) {
	spec, was := svc.GetSpec(), old.GetSpec()
	if spec == nil || spec.GetType() == was.GetType() {
		return
	}
	if !api.ServiceNeedsClusterIP(svc) && spec.GetType() == api.ServiceTypeExternalName && spec.GetClusterIp() == was.GetClusterIp() {
		spec.ClusterIp, spec.ClusterIps = "", nil
	}
	if !api.ServiceNeedsNodePorts(svc) && api.ServiceNeedsNodePorts(old) {
		for _, p := range spec.GetPorts() {
			for _, op := range was.GetPorts() {
				if op.GetPort() == p.GetPort() && op.GetProtocol() == p.GetProtocol() && op.GetNodePort() == p.GetNodePort() {
					p.NodePort = 0
				}
			}
		}
		if spec.GetExternalTrafficPolicy() == was.GetExternalTrafficPolicy() {
			spec.ExternalTrafficPolicy = ""
		}
	}
	if spec.GetType() != api.ServiceTypeLoadBalancer && was.GetType() == api.ServiceTypeLoadBalancer {
		if spec.GetHealthCheckNodePort() == was.GetHealthCheckNodePort() {
			spec.HealthCheckNodePort = 0
		}
		if spec.AllocateLoadBalancerNodePorts != nil && spec.GetAllocateLoadBalancerNodePorts() == was.GetAllocateLoadBalancerNodePorts() {
			spec.AllocateLoadBalancerNodePorts = nil
		}
		if spec.LoadBalancerClass != nil && spec.GetLoadBalancerClass() == was.GetLoadBalancerClass() {
			spec.LoadBalancerClass = nil
		}
	}
}

// keepAllocated gives an update that leaves clusterIP, clusterIPs or a
// port's nodePort empty the values the Service already holds, as
// Kubernetes does: re-applying a manifest that never named them is neither
// an attempt to change the immutable clusterIP nor a spec change.
func keepAllocated(svc, old *corev1.Service) {
	spec := svc.GetSpec()
	if spec == nil {
		return
	}
	if api.ServiceNeedsClusterIP(svc) && spec.GetClusterIp() == "" {
		if ip := old.GetSpec().GetClusterIp(); ip != "" && ip != api.ClusterIPNone {
			spec.ClusterIp = ip
			if len(spec.ClusterIps) == 0 {
				spec.ClusterIps = append([]string(nil), old.GetSpec().GetClusterIps()...)
			}
		}
	}
	if !api.ServiceNeedsNodePorts(svc) || !api.ServiceNeedsNodePorts(old) {
		return
	}
	used := map[int32]bool{}
	for _, p := range spec.GetPorts() {
		used[p.GetNodePort()] = true
	}
	for _, p := range spec.GetPorts() {
		if p.GetNodePort() != 0 {
			continue
		}
		for _, op := range old.GetSpec().GetPorts() {
			if op.GetPort() == p.GetPort() && op.GetProtocol() == p.GetProtocol() && op.GetNodePort() != 0 && !used[op.GetNodePort()] {
				p.NodePort = op.GetNodePort()
				used[p.NodePort] = true
				break
			}
		}
	}
}
