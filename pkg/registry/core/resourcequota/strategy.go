// Package resourcequota is the strategy of the ResourceQuota kind (v1).
// Its status (hard and used) is written by the ResourceQuota admission
// plugin and the resourcequota controller, never on create.
package resourcequota

import (
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the ResourceQuota kind's strategy.
var Strategy = &registry.Kind[*corev1.ResourceQuota]{
	Identity:           scheme.Kind{Version: "v1", Kind: "ResourceQuota", Resource: "resourcequotas", ShortNames: []string{"quota"}, Namespaced: true},
	ValidateFunc:       validation.ResourceQuota,
	ValidateStatusFunc: validation.ResourceQuotaStatus,
	TableColumns:       printers.ResourceQuotaColumns,
	RowFunc:            printers.ResourceQuotaRow,
	DescribeFunc:       printers.DescribeResourceQuota,
	Watchers:           registry.Watchers{GarbageCollected: true},
}
