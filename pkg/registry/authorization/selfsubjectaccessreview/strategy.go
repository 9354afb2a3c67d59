// Package selfsubjectaccessreview is the strategy of the SelfSubjectAccessReview kind
// (authorization.k8s.io/v1): whether the caller may make a request.
package selfsubjectaccessreview

import (
	"keel.dev/keel/pkg/api"
	authorizationv1 "keel.dev/keel/pkg/apis/authorization/v1"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the SelfSubjectAccessReview kind's strategy. The kind is create-only: the
// apiserver answers a create (see pkg/apiserver/reviews.go) and stores
// nothing.
var Strategy = &registry.Kind[*authorizationv1.SelfSubjectAccessReview]{
	Identity:     scheme.Kind{Group: api.GroupAuthorization, Version: "v1", Kind: "SelfSubjectAccessReview", Resource: "selfsubjectaccessreviews", Namespaced: false, CreateOnly: true},
	ValidateFunc: validation.SelfSubjectAccessReview,
}
