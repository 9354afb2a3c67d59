// Package poddisruptionbudget is the strategy of the PodDisruptionBudget
// kind (policy/v1): how many of a set of pods evictions may take down at
// once. The disruption controller writes its status; an eviction
// (pkg/apiserver/eviction.go) spends it.
package poddisruptionbudget

import (
	"keel.dev/keel/pkg/api"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the PodDisruptionBudget kind's strategy.
var Strategy = &registry.Kind[*policyv1.PodDisruptionBudget]{
	Identity:           scheme.Kind{Group: api.GroupPolicy, Version: "v1", Kind: "PodDisruptionBudget", Resource: "poddisruptionbudgets", ShortNames: []string{"pdb"}, Namespaced: true},
	GenerationTracked:  true,
	ValidateFunc:       validation.PodDisruptionBudget,
	ValidateStatusFunc: validation.PodDisruptionBudgetStatus,
	TableColumns:       printers.PodDisruptionBudgetColumns,
	RowFunc:            printers.PodDisruptionBudgetRow,
	DescribeFunc:       printers.DescribePodDisruptionBudget,
	Watchers:           registry.Watchers{ReadByAPIServer: true, GarbageCollected: true},
}
