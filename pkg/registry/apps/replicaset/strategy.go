// Package replicaset is the strategy of the ReplicaSet kind (apps/v1).
package replicaset

import (
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the ReplicaSet kind's strategy.
var Strategy = registry.Replicated(&registry.Kind[*appsv1.ReplicaSet]{
	Identity:           scheme.Kind{Group: "apps", Version: "v1", Kind: "ReplicaSet", Resource: "replicasets", ShortNames: []string{"rs"}, Namespaced: true},
	DefaultFunc:        defaults.ReplicaSet,
	ValidateFunc:       validation.ReplicaSet,
	ValidateUpdateFunc: validation.ReplicaSetUpdate,
	ValidateStatusFunc: validation.ReplicaSetStatus,
	TableColumns:       printers.ReplicaSetColumns,
	RowFunc:            printers.ReplicaSetRow,
	RelatedFunc:        related,
	DescribeFunc:       printers.DescribeReplicaSet,
}, func(rs *appsv1.ReplicaSet) *metav1.LabelSelector { return rs.GetSpec().GetSelector() },
	func(rs *appsv1.ReplicaSet) *corev1.PodTemplateSpec { return rs.GetSpec().GetTemplate() })

// related: a ReplicaSet's description counts the pods its selector picks
// (none when it has no selector).
func related(rs *appsv1.ReplicaSet) []registry.Query {
	return printers.RelatedPodsQuery(rs.GetMetadata().GetNamespace(), rs.GetSpec().GetSelector())
}
