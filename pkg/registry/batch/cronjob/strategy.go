// Package cronjob is the strategy of the CronJob kind (batch/v1).
package cronjob

import (
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the CronJob kind's strategy.
var Strategy = &registry.Kind[*batchv1.CronJob]{
	Identity: scheme.Kind{Group: "batch", Version: "v1", Kind: "CronJob", Resource: "cronjobs",
		ShortNames: []string{"cj"}, Namespaced: true},
	GenerationTracked:  true,
	DefaultFunc:        defaults.CronJob,
	ValidateFunc:       validation.CronJob,
	ValidateStatusFunc: validation.CronJobStatus,
	TableColumns:       printers.CronJobColumns,
	RowFunc:            printers.CronJobRow,
	DescribeFunc:       printers.DescribeCronJob,
	CategoryNames:      []string{"all"},
	Watchers:           registry.Watchers{GarbageCollected: true},
}
