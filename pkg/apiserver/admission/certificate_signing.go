package admission

import (
	"context"

	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	"keel.dev/keel/pkg/auth"
)

// CertificateSigning lets a user set or change a
// CertificateSigningRequest's status.certificate (through the status
// subresource) only with the verb "sign" on the resource "signers" of
// certificates.k8s.io named by the request's signerName, or by its
// domain followed by "/*", as Kubernetes' plugin of that name.
type CertificateSigning struct {
	Authorizer auth.Authorizer
}

var _ Validator = CertificateSigning{}

// Name implements Validator.
func (CertificateSigning) Name() string { return "CertificateSigning" }

// Validate implements Validator.
func (p CertificateSigning) Validate(ctx context.Context, a *Attributes, _ Objects) error {
	csr, ok := a.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok || a.Operation != Update || a.Subresource != "status" {
		return nil
	}
	old, _ := a.OldObject.(*certificatesv1.CertificateSigningRequest)
	if string(csr.GetStatus().GetCertificate()) == string(old.GetStatus().GetCertificate()) {
		return nil
	}
	return mayActOnSigner(ctx, p.Authorizer, "sign", csr, a.Name)
}
