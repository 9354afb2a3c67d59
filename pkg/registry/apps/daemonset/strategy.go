// Package daemonset is the strategy of the DaemonSet kind (apps/v1).
package daemonset

import (
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the DaemonSet kind's strategy.
var Strategy = &registry.Kind[*appsv1.DaemonSet]{
	Identity:           scheme.Kind{Group: "apps", Version: "v1", Kind: "DaemonSet", Resource: "daemonsets", ShortNames: []string{"ds"}, Namespaced: true},
	GenerationTracked:  true,
	DefaultFunc:        defaults.DaemonSet,
	ValidateFunc:       validation.DaemonSet,
	ValidateUpdateFunc: validation.DaemonSetUpdate,
	ValidateStatusFunc: validation.DaemonSetStatus,
	TableColumns:       printers.DaemonSetColumns,
	RowFunc:            printers.DaemonSetRow,
	RelatedFunc:        related,
	DescribeFunc:       printers.DescribeDaemonSet,
	CategoryNames:      []string{"all"},
	Watchers:           registry.Watchers{GarbageCollected: true},
}

// related: a DaemonSet's description counts the pods its selector picks.
func related(ds *appsv1.DaemonSet) []registry.Query {
	return printers.RelatedPodsQuery(ds.GetMetadata().GetNamespace(), ds.GetSpec().GetSelector())
}
