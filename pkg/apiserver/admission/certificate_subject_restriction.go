package admission

import (
	"context"
	"slices"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	"keel.dev/keel/pkg/auth"
)

// CertificateSubjectRestriction refuses a CertificateSigningRequest for
// the kubernetes.io/kube-apiserver-client signer whose subject is in
// system:masters: no request turns into a superuser's certificate, as
// Kubernetes' plugin of that name.
type CertificateSubjectRestriction struct{}

var _ Validator = CertificateSubjectRestriction{}

// Name implements Validator.
func (CertificateSubjectRestriction) Name() string { return "CertificateSubjectRestriction" }

// Validate implements Validator.
func (CertificateSubjectRestriction) Validate(_ context.Context, a *Attributes, _ Objects) error {
	csr, ok := a.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok || a.Operation != Create || csr.GetSpec().GetSignerName() != api.SignerKubeAPIServerClient {
		return nil
	}
	req, err := api.ParseCSR(csr.GetSpec().GetRequest())
	if err != nil {
		return nil // validation reports it
	}
	if slices.Contains(req.Subject.Organization, auth.GroupMasters) {
		return apierrors.Forbidden("certificatesigningrequests.certificates.k8s.io", a.Name,
			"use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed")
	}
	return nil
}
