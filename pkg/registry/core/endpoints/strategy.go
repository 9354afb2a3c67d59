// Package endpoints is the strategy of the Endpoints kind (v1), written by
// the endpoints controller for each Service with a selector.
package endpoints

import (
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the Endpoints kind's strategy.
var Strategy = &registry.Kind[*corev1.Endpoints]{
	Identity:     scheme.Kind{Version: "v1", Kind: "Endpoints", Resource: "endpoints", ShortNames: []string{"ep"}, Namespaced: true},
	DefaultFunc:  defaults.Endpoints,
	ValidateFunc: validation.Endpoints,
	TableColumns: printers.EndpointsColumns,
	RowFunc:      printers.EndpointsRow,
	DescribeFunc: printers.DescribeEndpoints,
	Watchers:     registry.Watchers{GarbageCollected: true},
}
