package defaults

import (
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	networkingv1 "keel.dev/keel/pkg/apis/networking/v1"
)

// IngressClass sets a class's defaults, as Kubernetes: parameters without
// a scope are cluster-scoped.
func IngressClass(ic *networkingv1.IngressClass) {
	if p := ic.GetSpec().GetParameters(); p != nil && p.Scope == nil {
		p.Scope = proto.String(api.IngressClassParametersScopeCluster)
	}
}

// NetworkPolicy sets a policy's defaults, as Kubernetes: an empty pod
// selector (every pod of the namespace) when none is given, TCP for ports
// without a protocol, and policy types Ingress, plus Egress when the
// policy has egress rules, when none are given.
func NetworkPolicy(np *networkingv1.NetworkPolicy) {
	if np.Spec == nil {
		np.Spec = &networkingv1.NetworkPolicySpec{}
	}
	s := np.Spec
	if s.PodSelector == nil {
		s.PodSelector = &metav1.LabelSelector{}
	}
	defaultPorts := func(ports []*networkingv1.NetworkPolicyPort) {
		for _, p := range ports {
			if p.Protocol == nil {
				p.Protocol = proto.String(api.ProtocolTCP)
			}
		}
	}
	for _, r := range s.Ingress {
		defaultPorts(r.Ports)
	}
	for _, r := range s.Egress {
		defaultPorts(r.Ports)
	}
	if len(s.PolicyTypes) == 0 {
		s.PolicyTypes = []string{api.PolicyTypeIngress}
		if len(s.Egress) > 0 {
			s.PolicyTypes = append(s.PolicyTypes, api.PolicyTypeEgress)
		}
	}
}
