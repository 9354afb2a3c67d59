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
var Strategy = &registry.Kind[*corev1.ReplicationController]{
	Identity:           scheme.Kind{Version: "v1", Kind: "ReplicationController", Resource: "replicationcontrollers", ShortNames: []string{"rc"}, Namespaced: true},
	GenerationTracked:  true,
	DefaultFunc:        defaults.ReplicationController,
	ValidateFunc:       validation.ReplicationController,
	ValidateStatusFunc: validation.ReplicationControllerStatus,
	TableColumns:       printers.ReplicationControllerColumns,
	RowFunc:            printers.ReplicationControllerRow,
	RelatedFunc:        related,
	DescribeFunc:       printers.DescribeReplicationController,
	CategoryNames:      []string{"all"},
	ScaleReplicas:      func(rc *corev1.ReplicationController) *int32 { return rc.GetSpec().Replicas },
	SetReplicas: func(rc *corev1.ReplicationController, n int32) {
		if rc.Spec == nil {
			rc.Spec = &corev1.ReplicationControllerSpec{}
		}
		rc.Spec.Replicas = &n
	},
	Watchers: registry.Watchers{GarbageCollected: true},
	ExposeFunc: func(rc *corev1.ReplicationController) *registry.Exposure {
		return registry.PodTemplateExposure(selector(rc), rc.GetSpec().GetTemplate().GetSpec())
	},
}

// selector is the equality selector as a label selector.
func selector(rc *corev1.ReplicationController) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: rc.GetSpec().GetSelector()}
}

// related: a ReplicationController's description counts the pods its
// selector picks (none when it has no selector).
func related(rc *corev1.ReplicationController) []registry.Query {
	sel := printers.FormatSelector(selector(rc))
	if sel == "<none>" {
		return nil
	}
	return []registry.Query{{Key: printers.RelatedPods, Resource: "pods", Namespace: rc.GetMetadata().GetNamespace(), LabelSelector: sel}}
}
