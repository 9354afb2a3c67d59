package admission

import (
	"context"
	"fmt"
	"strings"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	"keel.dev/keel/pkg/auth"
)

// CertificateApproval lets a user approve or deny a
// CertificateSigningRequest (an update through its approval subresource)
// only with the verb "approve" on the resource "signers" of
// certificates.k8s.io named by the request's signerName, or by its
// domain followed by "/*", as Kubernetes' plugin of that name.
type CertificateApproval struct {
	Authorizer auth.Authorizer
}

var _ Validator = CertificateApproval{}

// Name implements Validator.
func (CertificateApproval) Name() string { return "CertificateApproval" }

// Validate implements Validator.
func (p CertificateApproval) Validate(ctx context.Context, a *Attributes, _ Objects) error {
	csr, ok := a.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok || a.Operation != Update || a.Subresource != "approval" {
		return nil
	}
	return mayActOnSigner(ctx, p.Authorizer, "approve", csr, a.Name)
}

// mayActOnSigner is nil when the caller may do verb on the signer of csr
// (by its name or by "domain/*"), else Forbidden.
func mayActOnSigner(ctx context.Context, z auth.Authorizer, verb string, csr *certificatesv1.CertificateSigningRequest, name string) error {
	u, _ := auth.UserFrom(ctx)
	signer := csr.GetSpec().GetSignerName()
	names := []string{signer}
	if domain, _, ok := strings.Cut(signer, "/"); ok {
		names = append(names, domain+"/*")
	}
	for _, n := range names {
		ok, _, err := z.Authorize(ctx, auth.Attributes{User: u, Verb: verb, APIGroup: api.GroupCertificates, Resource: "signers", Name: n})
		if err != nil {
			return apierrors.Internal("authorizing %s on signer %s: %v", verb, n, err)
		}
		if ok {
			return nil
		}
	}
	return apierrors.Forbidden("certificatesigningrequests.certificates.k8s.io", name,
		fmt.Sprintf("user not permitted to %s requests with signerName %q", verb, signer))
}
