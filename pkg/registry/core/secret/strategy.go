// Package secret is the strategy of the Secret kind (v1).
package secret

import (
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the Secret kind's strategy.
var Strategy = &registry.Kind[*corev1.Secret]{
	Identity:           scheme.Kind{Version: "v1", Kind: "Secret", Resource: "secrets", Namespaced: true},
	DefaultFunc:        defaults.Secret,
	ValidateFunc:       validation.Secret,
	ValidateUpdateFunc: validation.SecretUpdate,
	Fields:             []string{"type"},
	TableColumns:       printers.SecretColumns,
	RowFunc:            printers.SecretRow,
	DescribeFunc:       printers.DescribeSecret,
	Watchers:           registry.Watchers{GarbageCollected: true},
}
