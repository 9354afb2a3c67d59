// Package eviction is the strategy of the Eviction kind (policy/v1): the
// body of a create on pods/eviction.
package eviction

import (
	"keel.dev/keel/pkg/api"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the Eviction kind's strategy. The kind is create-only: the
// apiserver answers a create on pods/eviction (pkg/apiserver/eviction.go)
// by deleting the pod when its disruption budget allows, storing no
// Eviction.
var Strategy = &registry.Kind[*policyv1.Eviction]{
	Identity:     scheme.Kind{Group: api.GroupPolicy, Version: "v1", Kind: "Eviction", Resource: "evictions", Namespaced: true, CreateOnly: true},
	ValidateFunc: validation.Eviction,
}
