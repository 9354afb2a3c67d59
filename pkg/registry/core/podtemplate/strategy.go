// Package podtemplate is the strategy of the PodTemplate kind (core/v1):
// a stored pod template, for tools and controllers to copy. No Keel
// controller acts on it.
package podtemplate

import (
	"google.golang.org/protobuf/proto"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the PodTemplate kind's strategy.
var Strategy = &registry.Kind[*corev1.PodTemplate]{
	Identity:          scheme.Kind{Group: "", Version: "v1", Kind: "PodTemplate", Resource: "podtemplates", Namespaced: true},
	GenerationTracked: true,
	DefaultFunc:       defaults.PodTemplate,
	// The template is a PodTemplate's spec: a change to it is a new
	// generation, as in Kubernetes.
	PrepareForUpdateFunc: func(pt, old *corev1.PodTemplate) {
		if pt.GetMetadata() != nil && !proto.Equal(pt.GetTemplate(), old.GetTemplate()) {
			pt.Metadata.Generation++
		}
	},
	ValidateFunc: validation.PodTemplate,
	TableColumns: printers.PodTemplateColumns,
	RowFunc:      printers.PodTemplateRow,
	DescribeFunc: printers.DescribePodTemplate,
	Watchers:     registry.Watchers{GarbageCollected: true},
}
