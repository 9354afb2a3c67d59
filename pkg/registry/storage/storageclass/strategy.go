// Package storageclass is the strategy of the StorageClass kind
// (storage.k8s.io/v1): how the volumes of a class are provisioned and
// reclaimed; the DefaultStorageClass admission gives claims that name no
// class the default one.
package storageclass

import (
	"keel.dev/keel/pkg/api"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the StorageClass kind's strategy.
var Strategy = &registry.Kind[*storagev1.StorageClass]{
	Identity:           scheme.Kind{Group: api.GroupStorage, Version: "v1", Kind: "StorageClass", Resource: "storageclasses", ShortNames: []string{"sc"}},
	DefaultFunc:        defaults.StorageClass,
	ValidateFunc:       validation.StorageClass,
	ValidateUpdateFunc: validation.StorageClassUpdate,
	TableColumns:       printers.StorageClassColumns,
	RowFunc:            printers.StorageClassRow,
	DescribeFunc:       printers.DescribeStorageClass,
	Watchers:           registry.Watchers{ReadByAPIServer: true},
}
