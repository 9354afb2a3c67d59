// Package ingressclass is the strategy of the IngressClass kind
// (networking.k8s.io/v1, cluster-scoped): which controller implements the
// Ingresses of a class. The DefaultIngressClass admission reads the
// classes on every Ingress create.
package ingressclass

import (
	"keel.dev/keel/pkg/api"
	networkingv1 "keel.dev/keel/pkg/apis/networking/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the IngressClass kind's strategy.
var Strategy = &registry.Kind[*networkingv1.IngressClass]{
	Identity:           scheme.Kind{Group: api.GroupNetworking, Version: "v1", Kind: "IngressClass", Resource: "ingressclasses"},
	GenerationTracked:  true,
	DefaultFunc:        defaults.IngressClass,
	ValidateFunc:       validation.IngressClass,
	ValidateUpdateFunc: validation.IngressClassUpdate,
	TableColumns:       printers.IngressClassColumns,
	RowFunc:            printers.IngressClassRow,
	DescribeFunc:       printers.DescribeIngressClass,
	Watchers:           registry.Watchers{ReadByAPIServer: true},
}
