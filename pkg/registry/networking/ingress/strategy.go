// Package ingress is the strategy of the Ingress kind
// (networking.k8s.io/v1): HTTP routes from outside to Services, which an
// ingress controller (not part of Keel) implements and reports in
// status.loadBalancer. The DefaultIngressClass admission gives a new
// Ingress that names no class the default IngressClass.
package ingress

import (
	"keel.dev/keel/pkg/api"
	networkingv1 "keel.dev/keel/pkg/apis/networking/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the Ingress kind's strategy.
var Strategy = &registry.Kind[*networkingv1.Ingress]{
	Identity:           scheme.Kind{Group: api.GroupNetworking, Version: "v1", Kind: "Ingress", Resource: "ingresses", Namespaced: true, ShortNames: []string{"ing"}},
	GenerationTracked:  true,
	ValidateFunc:       validation.Ingress,
	ValidateStatusFunc: validation.IngressStatus,
	TableColumns:       printers.IngressColumns,
	RowFunc:            printers.IngressRow,
	DescribeFunc:       printers.DescribeIngress,
	Watchers:           registry.Watchers{GarbageCollected: true},
}
