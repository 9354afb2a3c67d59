// Package runtimeclass is the strategy of the RuntimeClass kind
// (node.k8s.io/v1, cluster-scoped): a container runtime configuration.
// The RuntimeClass admission reads it on every pod create that names one
// (overhead, scheduling), and the kubelet passes its handler to CRI
// RunPodSandbox.
package runtimeclass

import (
	"keel.dev/keel/pkg/api"
	nodev1 "keel.dev/keel/pkg/apis/node/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the RuntimeClass kind's strategy.
var Strategy = &registry.Kind[*nodev1.RuntimeClass]{
	Identity:           scheme.Kind{Group: api.GroupNode, Version: "v1", Kind: "RuntimeClass", Resource: "runtimeclasses"},
	ValidateFunc:       validation.RuntimeClass,
	ValidateUpdateFunc: validation.RuntimeClassUpdate,
	TableColumns:       printers.RuntimeClassColumns,
	RowFunc:            printers.RuntimeClassRow,
	DescribeFunc:       printers.DescribeRuntimeClass,
	Watchers:           registry.Watchers{ReadByAPIServer: true},
}
