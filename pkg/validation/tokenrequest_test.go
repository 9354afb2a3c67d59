package validation_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	authenticationv1 "keel.dev/keel/pkg/apis/authentication/v1"
	"keel.dev/keel/pkg/registry"
)

// TestTokenRequest: a defaulted empty TokenRequest is valid; every bad
// field of one gets its own error at its path.
func TestTokenRequest(t *testing.T) {
	ok := &authenticationv1.TokenRequest{}
	registry.Default(ok)
	if ok.GetSpec().GetExpirationSeconds() != 3600 {
		t.Errorf("default expirationSeconds %d, want 3600", ok.GetSpec().GetExpirationSeconds())
	}
	checkPaths(t, "defaulted TokenRequest", registry.ValidateCreate(ok), nil)
	pod := &authenticationv1.TokenRequest{Spec: &authenticationv1.TokenRequestSpec{ExpirationSeconds: proto.Int64(600),
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Secret", ApiVersion: "v1", Name: "s"}}}
	checkPaths(t, "bound to a Secret", registry.ValidateCreate(pod), nil)

	bad := &authenticationv1.TokenRequest{Spec: &authenticationv1.TokenRequestSpec{
		Audiences:         []string{"a", ""},
		ExpirationSeconds: proto.Int64(599),
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Node", ApiVersion: "v2"},
	}}
	checkPaths(t, "bad TokenRequest", registry.ValidateCreate(bad), []string{
		"spec.audiences[1]", "spec.expirationSeconds",
		"spec.boundObjectRef.kind", "spec.boundObjectRef.apiVersion", "spec.boundObjectRef.name",
	})
	long := &authenticationv1.TokenRequest{Spec: &authenticationv1.TokenRequestSpec{ExpirationSeconds: proto.Int64(1<<32 + 1)}}
	checkPaths(t, "too long", registry.ValidateCreate(long), []string{"spec.expirationSeconds"})
}
