// Package certificatesigningrequest is the strategy of the
// CertificateSigningRequest kind (certificates.k8s.io/v1): cluster-scoped
// requests for a certificate, whose requestor the apiserver records, whose
// spec never changes, approved or denied through the approval subresource
// and answered by the signer through the status subresource.
package certificatesigningrequest

import (
	"context"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the CertificateSigningRequest kind's strategy.
var Strategy = &registry.Kind[*certificatesv1.CertificateSigningRequest]{
	Identity: scheme.Kind{Group: api.GroupCertificates, Version: "v1", Kind: "CertificateSigningRequest",
		Resource: "certificatesigningrequests", ShortNames: []string{"csr"}},
	DefaultFunc:          defaultConditions,
	PrepareForCreateFunc: setRequestor,
	ValidateFunc:         validation.CertificateSigningRequest,
	ValidateUpdateFunc:   validation.CertificateSigningRequestUpdate,
	ValidateStatusFunc:   validation.CertificateSigningRequestStatus,
	Fields:               []string{"spec.signerName"},
	TableColumns:         printers.CSRColumns,
	RowFunc:              printers.CSRRow,
	DescribeFunc:         printers.DescribeCSR,
	Subresources: map[string]registry.SubresourceOf[*certificatesv1.CertificateSigningRequest]{
		"approval": {Prepare: prepareApproval, Validate: validation.CertificateSigningRequestApproval},
	},
}

// setRequestor records the caller as the requestor: spec.username, uid
// and groups are never the client's.
func setRequestor(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) {
	u, _ := auth.UserFrom(ctx)
	if csr.Spec == nil {
		csr.Spec = &certificatesv1.CertificateSigningRequestSpec{}
	}
	csr.Spec.Username, csr.Spec.Uid, csr.Spec.Groups = u.Name, u.UID, append([]string(nil), u.Groups...)
}

// defaultConditions sets an unset condition status to "True".
func defaultConditions(csr *certificatesv1.CertificateSigningRequest) {
	for _, c := range csr.GetStatus().GetConditions() {
		if c.Status == "" {
			c.Status = "True"
		}
	}
}

// prepareApproval takes the Approved and Denied conditions from in and
// everything else from stored.
func prepareApproval(stored, in *certificatesv1.CertificateSigningRequest) *certificatesv1.CertificateSigningRequest {
	if stored.Status == nil {
		stored.Status = &certificatesv1.CertificateSigningRequestStatus{}
	}
	var conds []*certificatesv1.CertificateSigningRequestCondition
	for _, c := range stored.Status.GetConditions() {
		if !isApproval(c.GetType()) {
			conds = append(conds, c)
		}
	}
	for _, c := range in.GetStatus().GetConditions() {
		if isApproval(c.GetType()) {
			c = proto.Clone(c).(*certificatesv1.CertificateSigningRequestCondition)
			if c.Status == "" {
				c.Status = "True"
			}
			conds = append(conds, c)
		}
	}
	stored.Status.Conditions = conds
	return stored
}

func isApproval(t string) bool { return t == api.CertificateApproved || t == api.CertificateDenied }
