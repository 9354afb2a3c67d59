// Package controllerrevision is the strategy of the ControllerRevision
// kind (apps/v1): immutable snapshots of a DaemonSet's or StatefulSet's
// template, removed by the garbage collector with their owner.
package controllerrevision

import (
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the ControllerRevision kind's strategy.
var Strategy = &registry.Kind[*appsv1.ControllerRevision]{
	Identity:           scheme.Kind{Group: "apps", Version: "v1", Kind: "ControllerRevision", Resource: "controllerrevisions", Namespaced: true},
	ValidateFunc:       validation.ControllerRevision,
	ValidateUpdateFunc: validation.ControllerRevisionUpdate,
	TableColumns:       printers.ControllerRevisionColumns,
	RowFunc:            printers.ControllerRevisionRow,
	DescribeFunc:       printers.DescribeControllerRevision,
	Watchers:           registry.Watchers{GarbageCollected: true},
}
