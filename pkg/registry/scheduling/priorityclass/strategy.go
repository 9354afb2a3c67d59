// Package priorityclass is the strategy of the PriorityClass kind
// (scheduling.k8s.io/v1), read by the Priority admission on every pod
// create.
package priorityclass

import (
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the PriorityClass kind's strategy.
var Strategy = &registry.Kind[*schedulingv1.PriorityClass]{
	Identity:           scheme.Kind{Group: "scheduling.k8s.io", Version: "v1", Kind: "PriorityClass", Resource: "priorityclasses", ShortNames: []string{"pc"}},
	DefaultFunc:        defaults.PriorityClass,
	ValidateFunc:       validation.PriorityClass,
	ValidateUpdateFunc: validation.PriorityClassUpdate,
	TableColumns:       printers.PriorityClassColumns,
	RowFunc:            printers.PriorityClassRow,
	DescribeFunc:       printers.DescribePriorityClass,
	Watchers:           registry.Watchers{ReadByAPIServer: true},
}
