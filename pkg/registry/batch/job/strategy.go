// Package job is the strategy of the Job kind (batch/v1). Scaling a Job
// sets its parallelism, as kubectl scale does.
package job

import (
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the Job kind's strategy.
var Strategy = &registry.Kind[*batchv1.Job]{
	Identity:           scheme.Kind{Group: "batch", Version: "v1", Kind: "Job", Resource: "jobs", Namespaced: true},
	GenerationTracked:  true,
	DefaultFunc:        defaults.Job,
	ValidateFunc:       validation.Job,
	ValidateUpdateFunc: validation.JobUpdate,
	ValidateStatusFunc: validation.JobStatus,
	TableColumns:       printers.JobColumns,
	RowFunc:            printers.JobRow,
	DescribeFunc:       printers.DescribeJob,
	CategoryNames:      []string{"all"},
	ScaleReplicas:      func(j *batchv1.Job) *int32 { return j.GetSpec().Parallelism },
	SetReplicas: func(j *batchv1.Job, n int32) {
		if j.Spec == nil {
			j.Spec = &batchv1.JobSpec{}
		}
		j.Spec.Parallelism = &n
	},
	Watchers: registry.Watchers{GarbageCollected: true},
}
