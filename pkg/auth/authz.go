package auth

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/apierrors"
)

// Attributes describe one request to be authorized, in Kubernetes terms.
type Attributes struct {
	// User is the authenticated caller (see UserFrom).
	User User
	// Verb is the API verb: get, list, watch, create, update, patch, delete,
	// or a subresource verb such as "bind".
	Verb string
	// Resource is the plural lower-case resource, with a subresource after a
	// slash when there is one: "pods", "pods/status", "pods/binding",
	// "pods/log", "pods/exec".
	Resource string
	// APIGroup is the resource's API group: "" for the core group, "apps",
	// "batch", …
	APIGroup string
	// Namespace is empty for cluster-scoped resources and for requests across
	// all namespaces.
	Namespace string
	// Name is empty for list, watch and create-with-generateName requests.
	Name string
	// LabelSelector is the label selector of a list or watch, nil
	// otherwise: an authorizer may allow a list of the objects that carry
	// a label only (labels.Selector.RequiresExactMatch).
	LabelSelector labels.Selector
	// Path is set, instead of Resource, APIGroup, Namespace and Name, on a
	// request for a non-resource URL ("/metrics", "/healthz"); Verb is then
	// the HTTP method's verb ("get", "post"…).
	Path string
}

// IsResourceRequest reports whether a is about a resource rather than a
// non-resource URL.
func (a Attributes) IsResourceRequest() bool { return a.Path == "" }

// Authorizer decides whether a request is allowed. This is the single place
// where authorization plugs into the apiserver: every request is checked with
// Authorize (through Check) after authentication and before any storage
// access. RBAC (a later issue) is an Authorizer built from Role and
// RoleBinding objects; AlwaysAllow is the default until then.
//
// Implementations must be safe for concurrent use. A non-nil error means the
// decision could not be made (for example, the authorizer's own data is not
// loaded yet); it is not a denial.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (allowed bool, reason string, err error)
}

// AlwaysAllow is an Authorizer that allows every request.
type AlwaysAllow struct{}

var _ Authorizer = AlwaysAllow{}

// Authorize implements Authorizer.
func (AlwaysAllow) Authorize(context.Context, Attributes) (bool, string, error) {
	return true, "", nil
}

// AuthorizerFunc adapts a function to an Authorizer.
type AuthorizerFunc func(ctx context.Context, a Attributes) (bool, string, error)

var _ Authorizer = AuthorizerFunc(nil)

// Authorize implements Authorizer.
func (f AuthorizerFunc) Authorize(ctx context.Context, a Attributes) (bool, string, error) {
	return f(ctx, a)
}

// Check asks z about a: nil when allowed, an apierrors Forbidden error
// (codes.PermissionDenied) worded as Kubernetes' — `User "alice" cannot
// list resource "pods" in API group "" in the namespace "team"`, or
// `User "bob" cannot get path "/metrics"` for a non-resource URL, then the
// authorizer's reason if any — when denied, and an Internal error when
// the authorizer failed.
func Check(ctx context.Context, z Authorizer, a Attributes) error {
	_, err := Decide(ctx, z, a)
	return err
}

// Decide is Check that also returns the authorizer's reason for its
// decision, allowed or not (what the audit log records).
func Decide(ctx context.Context, z Authorizer, a Attributes) (reason string, err error) {
	allowed, reason, err := z.Authorize(ctx, a)
	if err != nil {
		return "", apierrors.Internal("authorization failed: %v", err)
	}
	if allowed {
		return reason, nil
	}
	return reason, denial(a, reason)
}

// denial is the Forbidden error of a denied request (see Check).
func denial(a Attributes, reason string) error {
	if !a.IsResourceRequest() {
		msg := "User " + quote(a.User.Name) + " cannot " + a.Verb + " path " + quote(a.Path)
		if reason != "" {
			msg += ": " + reason
		}
		return apierrors.ForbiddenPath(msg)
	}
	msg := "User " + quote(a.User.Name) + " cannot " + a.Verb + " resource " + quote(a.Resource) + " in API group " + quote(a.APIGroup)
	if a.Namespace != "" {
		msg += " in the namespace " + quote(a.Namespace)
	} else {
		msg += " at the cluster scope"
	}
	if reason != "" {
		msg += ": " + reason
	}
	// The error names the resource without its subresource, qualified by
	// its group: `pods "web" is forbidden`, `deployments.apps is forbidden`.
	res, _, _ := strings.Cut(a.Resource, "/")
	if a.APIGroup != "" {
		res += "." + a.APIGroup
	}
	return apierrors.Forbidden(res, a.Name, msg)
}

func quote(s string) string { return "\"" + s + "\"" }
