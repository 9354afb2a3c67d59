package api

// API groups of the review kinds.
const (
	// GroupAuthorization is the API group of the access reviews
	// (SubjectAccessReview, SelfSubjectRulesReview…).
	GroupAuthorization = "authorization.k8s.io"
	// GroupAuthentication is the API group of SelfSubjectReview and
	// TokenRequest.
	GroupAuthentication = "authentication.k8s.io"
)
