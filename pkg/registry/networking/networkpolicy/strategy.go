// Package networkpolicy is the strategy of the NetworkPolicy kind
// (networking.k8s.io/v1). Keel stores and serves NetworkPolicies but does
// not enforce them: nothing in Keel filters pod traffic by them (see
// docs/networking.md), as in Kubernetes without a policy-capable network
// plugin.
package networkpolicy

import (
	"keel.dev/keel/pkg/api"
	networkingv1 "keel.dev/keel/pkg/apis/networking/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the NetworkPolicy kind's strategy.
var Strategy = &registry.Kind[*networkingv1.NetworkPolicy]{
	Identity:          scheme.Kind{Group: api.GroupNetworking, Version: "v1", Kind: "NetworkPolicy", Resource: "networkpolicies", Namespaced: true, ShortNames: []string{"netpol"}},
	GenerationTracked: true,
	DefaultFunc:       defaults.NetworkPolicy,
	ValidateFunc:      validation.NetworkPolicy,
	TableColumns:      printers.NetworkPolicyColumns,
	RowFunc:           printers.NetworkPolicyRow,
	DescribeFunc:      printers.DescribeNetworkPolicy,
	Watchers:          registry.Watchers{GarbageCollected: true},
}
