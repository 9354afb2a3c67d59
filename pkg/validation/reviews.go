package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	authenticationv1 "keel.dev/keel/pkg/apis/authentication/v1"
	authorizationv1 "keel.dev/keel/pkg/apis/authorization/v1"
)

// accessRequest checks that exactly one of a review's resourceAttributes
// and nonResourceAttributes is set, as Kubernetes does.
func accessRequest(res *authorizationv1.ResourceAttributes, nonRes *authorizationv1.NonResourceAttributes, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case res == nil && nonRes == nil:
		errs = append(errs, field.Required(p.Child("resourceAttributes"), "one of resourceAttributes and nonResourceAttributes must be specified"))
	case res != nil && nonRes != nil:
		errs = append(errs, field.Invalid(p.Child("nonResourceAttributes"), "", "cannot be specified in combination with resourceAttributes"))
	case nonRes != nil && nonRes.GetPath() == "":
		errs = append(errs, field.Required(p.Child("nonResourceAttributes", "path"), ""))
	}
	return errs
}

// subjectAccessReviewSpec checks a SubjectAccessReview's spec: one request
// and a user or group.
func subjectAccessReviewSpec(s *authorizationv1.SubjectAccessReviewSpec, p *field.Path) field.ErrorList {
	errs := accessRequest(s.GetResourceAttributes(), s.GetNonResourceAttributes(), p)
	if s.GetUser() == "" && len(s.GetGroups()) == 0 {
		errs = append(errs, field.Invalid(p.Child("user"), s.GetUser(), "at least one of user or group must be specified"))
	}
	return errs
}

// SubjectAccessReview checks a SubjectAccessReview.
func SubjectAccessReview(r *authorizationv1.SubjectAccessReview) field.ErrorList {
	return subjectAccessReviewSpec(r.GetSpec(), field.NewPath("spec"))
}

// LocalSubjectAccessReview checks a LocalSubjectAccessReview: a
// SubjectAccessReview on a resource of the review's own namespace.
func LocalSubjectAccessReview(r *authorizationv1.LocalSubjectAccessReview) field.ErrorList {
	p := field.NewPath("spec")
	errs := subjectAccessReviewSpec(r.GetSpec(), p)
	if r.GetSpec().GetNonResourceAttributes() != nil {
		errs = append(errs, field.Invalid(p.Child("nonResourceAttributes"), "", "disallowed on this kind of request"))
	}
	if ra := r.GetSpec().GetResourceAttributes(); ra != nil && ra.GetNamespace() != r.GetMetadata().GetNamespace() {
		errs = append(errs, field.Invalid(p.Child("resourceAttributes", "namespace"), ra.GetNamespace(), "must match metadata.namespace"))
	}
	return errs
}

// SelfSubjectAccessReview checks a SelfSubjectAccessReview: one request.
func SelfSubjectAccessReview(r *authorizationv1.SelfSubjectAccessReview) field.ErrorList {
	s := r.GetSpec()
	return accessRequest(s.GetResourceAttributes(), s.GetNonResourceAttributes(), field.NewPath("spec"))
}

// SelfSubjectRulesReview checks a SelfSubjectRulesReview (anything goes:
// an empty namespace lists the cluster-wide rules).
func SelfSubjectRulesReview(*authorizationv1.SelfSubjectRulesReview) field.ErrorList { return nil }

// SelfSubjectReview checks a SelfSubjectReview (it has nothing to check).
func SelfSubjectReview(*authenticationv1.SelfSubjectReview) field.ErrorList { return nil }

// MinTokenExpirationSeconds and MaxTokenExpirationSeconds bound a
// TokenRequest's spec.expirationSeconds, as in Kubernetes.
const (
	MinTokenExpirationSeconds = 600
	MaxTokenExpirationSeconds = 1 << 32
)

// TokenRequest checks a TokenRequest: its expiration within bounds, and a
// bound object that is a v1 Pod or Secret with a name.
func TokenRequest(r *authenticationv1.TokenRequest) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec")
	spec := r.GetSpec()
	if spec.ExpirationSeconds != nil {
		switch e := spec.GetExpirationSeconds(); {
		case e < MinTokenExpirationSeconds:
			errs = append(errs, field.Invalid(p.Child("expirationSeconds"), e, "may not specify a duration less than 10 minutes"))
		case e > MaxTokenExpirationSeconds:
			errs = append(errs, field.Invalid(p.Child("expirationSeconds"), e, "may not specify a duration larger than 2^32 seconds"))
		}
	}
	for i, a := range spec.GetAudiences() {
		if a == "" {
			errs = append(errs, field.Required(p.Child("audiences").Index(i), "may not be empty"))
		}
	}
	if ref := spec.GetBoundObjectRef(); ref != nil {
		rp := p.Child("boundObjectRef")
		if k := ref.GetKind(); k != "Pod" && k != "Secret" {
			errs = append(errs, field.NotSupported(rp.Child("kind"), k, []string{"Pod", "Secret"}))
		}
		if v := ref.GetApiVersion(); v != "v1" {
			errs = append(errs, field.NotSupported(rp.Child("apiVersion"), v, []string{"v1"}))
		}
		if ref.GetName() == "" {
			errs = append(errs, field.Required(rp.Child("name"), ""))
		}
	}
	return errs
}
