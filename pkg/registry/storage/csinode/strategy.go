// Package csinode is the strategy of the CSINode kind
// (storage.k8s.io/v1): the CSI drivers registered on a node, written by
// that node's kubelet under the node's name.
package csinode

import (
	"keel.dev/keel/pkg/api"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the CSINode kind's strategy.
var Strategy = &registry.Kind[*storagev1.CSINode]{
	Identity:           scheme.Kind{Group: api.GroupStorage, Version: "v1", Kind: "CSINode", Resource: "csinodes"},
	ValidateFunc:       validation.CSINode,
	ValidateUpdateFunc: validation.CSINodeUpdate,
	TableColumns:       printers.CSINodeColumns,
	RowFunc:            printers.CSINodeRow,
	DescribeFunc:       printers.DescribeCSINode,
	// A kubelet owns its CSINode through an ownerReference to its Node.
	Watchers: registry.Watchers{GarbageCollected: true},
}
