// Package selfsubjectrulesreview is the strategy of the SelfSubjectRulesReview kind
// (authorization.k8s.io/v1): what the caller may do in a namespace.
package selfsubjectrulesreview

import (
	"keel.dev/keel/pkg/api"
	authorizationv1 "keel.dev/keel/pkg/apis/authorization/v1"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the SelfSubjectRulesReview kind's strategy. The kind is create-only: the
// apiserver answers a create (see pkg/apiserver/reviews.go) and stores
// nothing.
var Strategy = &registry.Kind[*authorizationv1.SelfSubjectRulesReview]{
	Identity:     scheme.Kind{Group: api.GroupAuthorization, Version: "v1", Kind: "SelfSubjectRulesReview", Resource: "selfsubjectrulesreviews", Namespaced: false, CreateOnly: true},
	ValidateFunc: validation.SelfSubjectRulesReview,
}
