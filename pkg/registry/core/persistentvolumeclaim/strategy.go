// Package persistentvolumeclaim is the strategy of the
// PersistentVolumeClaim kind (v1): a namespaced request for storage that
// the PV controller binds to a PersistentVolume and pods mount by name.
package persistentvolumeclaim

import (
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the PersistentVolumeClaim kind's strategy.
var Strategy = &registry.Kind[*corev1.PersistentVolumeClaim]{
	Identity:           scheme.Kind{Version: "v1", Kind: "PersistentVolumeClaim", Resource: "persistentvolumeclaims", ShortNames: []string{"pvc"}, Namespaced: true},
	DefaultFunc:        defaults.PersistentVolumeClaim,
	ValidateFunc:       validation.PersistentVolumeClaim,
	ValidateUpdateFunc: validation.PersistentVolumeClaimUpdate,
	ValidateStatusFunc: validation.PersistentVolumeClaimStatus,
	TableColumns:       printers.PersistentVolumeClaimColumns,
	RowFunc:            printers.PersistentVolumeClaimRow,
	// The description lists the pods that mount the claim.
	RelatedFunc: func(pvc *corev1.PersistentVolumeClaim) []registry.Query {
		return printers.RelatedPodsOfNamespace(pvc.GetMetadata().GetNamespace())
	},
	DescribeFunc: printers.DescribePersistentVolumeClaim,
	// A StatefulSet's claims may be owned by it or by their pod; the node
	// authorizer follows pods to their claims.
	Watchers: registry.Watchers{GarbageCollected: true, ReadByAPIServer: true},
}
