// Package persistentvolume is the strategy of the PersistentVolume kind
// (v1): cluster-scoped storage, made by an administrator or provisioned
// for a claim; the PV controller binds it and writes its status.
package persistentvolume

import (
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the PersistentVolume kind's strategy.
var Strategy = &registry.Kind[*corev1.PersistentVolume]{
	Identity:           scheme.Kind{Version: "v1", Kind: "PersistentVolume", Resource: "persistentvolumes", ShortNames: []string{"pv"}},
	DefaultFunc:        defaults.PersistentVolume,
	ValidateFunc:       validation.PersistentVolume,
	ValidateUpdateFunc: validation.PersistentVolumeUpdate,
	ValidateStatusFunc: validation.PersistentVolumeStatus,
	TableColumns:       printers.PersistentVolumeColumns,
	RowFunc:            printers.PersistentVolumeRow,
	DescribeFunc:       printers.DescribePersistentVolume,
	// The node authorizer follows claims to their volumes.
	Watchers: registry.Watchers{ReadByAPIServer: true},
}
