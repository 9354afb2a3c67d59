package defaults_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	networkingv1 "keel.dev/keel/pkg/apis/networking/v1"
	"keel.dev/keel/pkg/defaults"
)

// TestNetworkPolicy: as Kubernetes, a policy selects every pod when it
// names none, ports are TCP unless said otherwise, and policy types are
// Ingress, plus Egress with egress rules, when none are given.
func TestNetworkPolicy(t *testing.T) {
	np := &networkingv1.NetworkPolicy{Spec: &networkingv1.NetworkPolicySpec{
		Ingress: []*networkingv1.NetworkPolicyIngressRule{{Ports: []*networkingv1.NetworkPolicyPort{{}, {Protocol: proto.String("UDP")}}}},
	}}
	defaults.NetworkPolicy(np)
	s := np.GetSpec()
	if s.GetPodSelector() == nil || s.GetIngress()[0].GetPorts()[0].GetProtocol() != "TCP" || s.GetIngress()[0].GetPorts()[1].GetProtocol() != "UDP" {
		t.Errorf("defaults: %v", s)
	}
	if !slices.Equal(s.GetPolicyTypes(), []string{"Ingress"}) {
		t.Errorf("policyTypes %v, want [Ingress]", s.GetPolicyTypes())
	}
	np = &networkingv1.NetworkPolicy{Spec: &networkingv1.NetworkPolicySpec{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}},
		Egress: []*networkingv1.NetworkPolicyEgressRule{{}}}}
	defaults.NetworkPolicy(np)
	if got := np.GetSpec().GetPolicyTypes(); !slices.Equal(got, []string{"Ingress", "Egress"}) {
		t.Errorf("policyTypes %v, want [Ingress Egress]", got)
	}
	np = &networkingv1.NetworkPolicy{Spec: &networkingv1.NetworkPolicySpec{Egress: []*networkingv1.NetworkPolicyEgressRule{{}}, PolicyTypes: []string{"Egress"}}}
	defaults.NetworkPolicy(np)
	if got := np.GetSpec().GetPolicyTypes(); !slices.Equal(got, []string{"Egress"}) {
		t.Errorf("policyTypes %v, want [Egress] kept", got)
	}
}
