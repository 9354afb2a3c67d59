// Package event is the strategy of the Event kind (v1, core events as
// kubectl shows them).
package event

import (
	"time"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the Event kind's strategy.
var Strategy = &registry.Kind[*corev1.Event]{
	Identity:     scheme.Kind{Version: "v1", Kind: "Event", Resource: "events", ShortNames: []string{"ev"}, Namespaced: true},
	ValidateFunc: validation.Event,
	Fields: []string{"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
		"involvedObject.uid", "reason", "type"},
	TableColumns: printers.EventColumns,
	RowFunc:      printers.EventRow,
	DescribeFunc: printers.DescribeEvent,
	// Events expire, as in Kubernetes: they are about what happened lately.
	TTLFunc: func(o registry.StorageOptions) time.Duration { return o.EventTTL },
}
