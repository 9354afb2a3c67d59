// Package statefulset is the strategy of the StatefulSet kind (apps/v1).
package statefulset

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

// Strategy is the StatefulSet kind's strategy.
var Strategy = registry.Replicated(&registry.Kind[*appsv1.StatefulSet]{
	Identity:           scheme.Kind{Group: "apps", Version: "v1", Kind: "StatefulSet", Resource: "statefulsets", ShortNames: []string{"sts"}, Namespaced: true},
	DefaultFunc:        defaults.StatefulSet,
	ValidateFunc:       validation.StatefulSet,
	ValidateUpdateFunc: validation.StatefulSetUpdate,
	ValidateStatusFunc: validation.StatefulSetStatus,
	TableColumns:       printers.StatefulSetColumns,
	RowFunc:            printers.StatefulSetRow,
	RelatedFunc:        related,
	DescribeFunc:       printers.DescribeStatefulSet,
}, func(ss *appsv1.StatefulSet) *metav1.LabelSelector { return ss.GetSpec().GetSelector() },
	func(ss *appsv1.StatefulSet) *corev1.PodTemplateSpec { return ss.GetSpec().GetTemplate() })

// related: a StatefulSet's description counts the pods its selector picks
// (none when it has no selector).
func related(ss *appsv1.StatefulSet) []registry.Query {
	return printers.RelatedPodsQuery(ss.GetMetadata().GetNamespace(), ss.GetSpec().GetSelector())
}
