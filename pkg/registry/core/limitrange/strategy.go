// Package limitrange is the strategy of the LimitRange kind (v1), which
// the LimitRanger admission plugin enforces.
package limitrange

import (
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the LimitRange kind's strategy.
var Strategy = &registry.Kind[*corev1.LimitRange]{
	Identity:     scheme.Kind{Version: "v1", Kind: "LimitRange", Resource: "limitranges", ShortNames: []string{"limits"}, Namespaced: true},
	DefaultFunc:  defaults.LimitRange,
	ValidateFunc: validation.LimitRange,
	TableColumns: printers.LimitRangeColumns,
	RowFunc:      printers.LimitRangeRow,
	DescribeFunc: printers.DescribeLimitRange,
	Watchers:     registry.Watchers{GarbageCollected: true},
}
