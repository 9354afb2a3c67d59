// Package lease is the strategy of the Lease kind (coordination.k8s.io/v1):
// node heartbeats and leader election.
package lease

import (
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the Lease kind's strategy.
var Strategy = &registry.Kind[*coordinationv1.Lease]{
	Identity:     scheme.Kind{Group: "coordination.k8s.io", Version: "v1", Kind: "Lease", Resource: "leases", Namespaced: true},
	ValidateFunc: validation.Lease,
	TableColumns: printers.LeaseColumns,
	RowFunc:      printers.LeaseRow,
	DescribeFunc: printers.DescribeLease,
	Watchers:     registry.Watchers{GarbageCollected: true},
}
