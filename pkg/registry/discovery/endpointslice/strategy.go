// Package endpointslice is the strategy of the EndpointSlice kind
// (discovery.k8s.io/v1), written by the EndpointSlice controller for each
// Service with a selector (and by the apiserver for the kubernetes
// Service), read by every node's proxy.
package endpointslice

import (
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the EndpointSlice kind's strategy.
var Strategy = &registry.Kind[*discoveryv1.EndpointSlice]{
	Identity:           scheme.Kind{Group: "discovery.k8s.io", Version: "v1", Kind: "EndpointSlice", Resource: "endpointslices", Namespaced: true},
	DefaultFunc:        defaults.EndpointSlice,
	ValidateFunc:       validation.EndpointSlice,
	ValidateUpdateFunc: validation.EndpointSliceUpdate,
	TableColumns:       printers.EndpointSliceColumns,
	RowFunc:            printers.EndpointSliceRow,
	DescribeFunc:       printers.DescribeEndpointSlice,
	Watchers:           registry.Watchers{GarbageCollected: true},
}
