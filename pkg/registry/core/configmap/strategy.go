// Package configmap is the strategy of the ConfigMap kind (v1).
package configmap

import (
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the ConfigMap kind's strategy.
var Strategy = &registry.Kind[*corev1.ConfigMap]{
	Identity:           scheme.Kind{Version: "v1", Kind: "ConfigMap", Resource: "configmaps", ShortNames: []string{"cm"}, Namespaced: true},
	ValidateFunc:       validation.ConfigMap,
	ValidateUpdateFunc: validation.ConfigMapUpdate,
	TableColumns:       printers.ConfigMapColumns,
	RowFunc:            printers.ConfigMapRow,
	DescribeFunc:       printers.DescribeConfigMap,
	Watchers:           registry.Watchers{GarbageCollected: true},
}
