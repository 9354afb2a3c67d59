// Package tokenrequest is the strategy of the TokenRequest kind
// (authentication.k8s.io/v1): a request for a ServiceAccount token.
package tokenrequest

import (
	"keel.dev/keel/pkg/api"
	authenticationv1 "keel.dev/keel/pkg/apis/authentication/v1"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// DefaultExpirationSeconds is spec.expirationSeconds when a request sets
// none, as in Kubernetes (one hour).
const DefaultExpirationSeconds = 3600

// Strategy is the TokenRequest kind's strategy. The kind is create-only:
// it is the body of a create on serviceaccounts/token, which the apiserver
// answers (see pkg/apiserver/tokenrequest.go) without storing anything.
var Strategy = &registry.Kind[*authenticationv1.TokenRequest]{
	Identity:     scheme.Kind{Group: api.GroupAuthentication, Version: "v1", Kind: "TokenRequest", Resource: "tokenrequests", Namespaced: true, CreateOnly: true},
	DefaultFunc:  defaultTokenRequest,
	ValidateFunc: validation.TokenRequest,
}

func defaultTokenRequest(r *authenticationv1.TokenRequest) {
	if r.Spec == nil {
		r.Spec = &authenticationv1.TokenRequestSpec{}
	}
	if r.Spec.ExpirationSeconds == nil {
		e := int64(DefaultExpirationSeconds)
		r.Spec.ExpirationSeconds = &e
	}
}
