// Package replicationcontroller is the strategy of the
// ReplicationController kind (v1): a ReplicaSet whose selector is a map
// of labels that must all be equal.
package replicationcontroller

import (
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the ReplicationController kind's strategy.
var Strategy = registry.Replicated(&registry.Kind[*corev1.ReplicationController]{
	Identity:           scheme.Kind{Version: "v1", Kind: "ReplicationController", Resource: "replicationcontrollers", ShortNames: []string{"rc"}, Namespaced: true},
	DefaultFunc:        defaults.ReplicationController,
	ValidateFunc:       validation.ReplicationController,
	ValidateStatusFunc: validation.ReplicationControllerStatus,
	TableColumns:       printers.ReplicationControllerColumns,
	RowFunc:            printers.ReplicationControllerRow,
	RelatedFunc:        related,
	DescribeFunc:       printers.DescribeReplicationController,
}, selector, func(rc *corev1.ReplicationController) *corev1.PodTemplateSpec { return rc.GetSpec().GetTemplate() })

// selector is the equality selector as a label selector.
func selector(rc *corev1.ReplicationController) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: rc.GetSpec().GetSelector()}
}

// related: a ReplicationController's description counts the pods its
// selector picks (none when it has no selector).
func related(rc *corev1.ReplicationController) []registry.Query {
	return printers.RelatedPodsQuery(rc.GetMetadata().GetNamespace(), selector(rc))
}
