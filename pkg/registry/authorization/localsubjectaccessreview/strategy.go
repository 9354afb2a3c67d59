// Package localsubjectaccessreview is the strategy of the LocalSubjectAccessReview kind
// (authorization.k8s.io/v1): whether a user may make a request in one namespace.
package localsubjectaccessreview

import (
	"keel.dev/keel/pkg/api"
	authorizationv1 "keel.dev/keel/pkg/apis/authorization/v1"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the LocalSubjectAccessReview kind's strategy. The kind is create-only: the
// apiserver answers a create (see pkg/apiserver/reviews.go) and stores
// nothing.
var Strategy = &registry.Kind[*authorizationv1.LocalSubjectAccessReview]{
	Identity:     scheme.Kind{Group: api.GroupAuthorization, Version: "v1", Kind: "LocalSubjectAccessReview", Resource: "localsubjectaccessreviews", Namespaced: true, CreateOnly: true},
	ValidateFunc: validation.LocalSubjectAccessReview,
}
