// Package namespace is the strategy of the Namespace kind (v1): a deleted
// namespace turns Terminating and stays until the namespace controller has
// emptied it and removed its spec.finalizers.
package namespace

import (
	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the Namespace kind's strategy.
var Strategy = &registry.Kind[*corev1.Namespace]{
	Identity:             scheme.Kind{Version: "v1", Kind: "Namespace", Resource: "namespaces", ShortNames: []string{"ns"}},
	NameIsDNSLabel:       true,
	DefaultFunc:          defaults.Namespace,
	ValidateFunc:         validation.Namespace,
	ValidateStatusFunc:   validation.NamespaceStatus,
	PrepareForDeleteFunc: prepareForDelete,
	HoldsDeletionFunc:    func(ns *corev1.Namespace) bool { return len(ns.GetSpec().GetFinalizers()) > 0 },
	Fields:               []string{"status.phase"},
	TableColumns:         printers.NamespaceColumns,
	RowFunc:              printers.NamespaceRow,
	DescribeFunc:         printers.DescribeNamespace,
	Watchers:             registry.Watchers{ReadByAPIServer: true},
}

// prepareForDelete marks a namespace being deleted Terminating.
func prepareForDelete(ns *corev1.Namespace) {
	if ns.Status == nil {
		ns.Status = &corev1.NamespaceStatus{}
	}
	ns.Status.Phase = api.NamespaceTerminating
}
