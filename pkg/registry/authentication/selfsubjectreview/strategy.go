// Package selfsubjectreview is the strategy of the SelfSubjectReview kind
// (authentication.k8s.io/v1): who the apiserver takes the caller to be.
package selfsubjectreview

import (
	"keel.dev/keel/pkg/api"
	authenticationv1 "keel.dev/keel/pkg/apis/authentication/v1"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the SelfSubjectReview kind's strategy. The kind is create-only: the
// apiserver answers a create (see pkg/apiserver/reviews.go) and stores
// nothing.
var Strategy = &registry.Kind[*authenticationv1.SelfSubjectReview]{
	Identity:     scheme.Kind{Group: api.GroupAuthentication, Version: "v1", Kind: "SelfSubjectReview", Resource: "selfsubjectreviews", Namespaced: false, CreateOnly: true},
	ValidateFunc: validation.SelfSubjectReview,
}
