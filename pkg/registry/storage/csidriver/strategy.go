// Package csidriver is the strategy of the CSIDriver kind
// (storage.k8s.io/v1): how Keel talks to a CSI driver installed in the
// cluster (attach, pod info on mount, lifecycle modes).
package csidriver

import (
	"keel.dev/keel/pkg/api"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the CSIDriver kind's strategy.
var Strategy = &registry.Kind[*storagev1.CSIDriver]{
	Identity:           scheme.Kind{Group: api.GroupStorage, Version: "v1", Kind: "CSIDriver", Resource: "csidrivers"},
	DefaultFunc:        defaults.CSIDriver,
	ValidateFunc:       validation.CSIDriver,
	ValidateUpdateFunc: validation.CSIDriverUpdate,
	TableColumns:       printers.CSIDriverColumns,
	RowFunc:            printers.CSIDriverRow,
	DescribeFunc:       printers.DescribeCSIDriver,
}
