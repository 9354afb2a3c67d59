// Package replicaset is the strategy of the ReplicaSet kind (apps/v1).
package replicaset

import (
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the ReplicaSet kind's strategy.
var Strategy = &registry.Kind[*appsv1.ReplicaSet]{
	Identity:           scheme.Kind{Group: "apps", Version: "v1", Kind: "ReplicaSet", Resource: "replicasets", ShortNames: []string{"rs"}, Namespaced: true},
	GenerationTracked:  true,
	DefaultFunc:        defaults.ReplicaSet,
	ValidateFunc:       validation.ReplicaSet,
	ValidateUpdateFunc: validation.ReplicaSetUpdate,
	ValidateStatusFunc: validation.ReplicaSetStatus,
	TableColumns:       printers.ReplicaSetColumns,
	RowFunc:            printers.ReplicaSetRow,
	RelatedFunc:        related,
	DescribeFunc:       printers.DescribeReplicaSet,
	CategoryNames:      []string{"all"},
	ScaleReplicas:      func(rs *appsv1.ReplicaSet) *int32 { return rs.GetSpec().Replicas },
	SetReplicas: func(rs *appsv1.ReplicaSet, n int32) {
		if rs.Spec == nil {
			rs.Spec = &appsv1.ReplicaSetSpec{}
		}
		rs.Spec.Replicas = &n
	},
	Watchers: registry.Watchers{GarbageCollected: true},
	ExposeFunc: func(rs *appsv1.ReplicaSet) *registry.Exposure {
		return registry.PodTemplateExposure(rs.GetSpec().GetSelector(), rs.GetSpec().GetTemplate().GetSpec())
	},
}

// related: a ReplicaSet's description counts the pods its selector picks
// (none when it has no selector).
func related(rs *appsv1.ReplicaSet) []registry.Query {
	return printers.RelatedPodsQuery(rs.GetMetadata().GetNamespace(), rs.GetSpec().GetSelector())
}
