package api

import (
	"crypto/x509"
	"encoding/pem"
	"errors"

	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
)

// GroupCertificates is the API group of CertificateSigningRequests.
const GroupCertificates = "certificates.k8s.io"

// Well-known signers (spec.signerName), as Kubernetes'.
const (
	// SignerKubeAPIServerClient signs client certificates the apiserver
	// honours, for any user but system:masters members.
	SignerKubeAPIServerClient = "kubernetes.io/kube-apiserver-client"
	// SignerKubeAPIServerClientKubelet signs kubelets' client
	// certificates (O=system:nodes, CN=system:node:NAME).
	SignerKubeAPIServerClientKubelet = "kubernetes.io/kube-apiserver-client-kubelet"
	// SignerKubeletServing signs kubelets' serving certificates.
	SignerKubeletServing = "kubernetes.io/kubelet-serving"
)

// CertificateSigningRequest condition types.
const (
	CertificateApproved = "Approved"
	CertificateDenied   = "Denied"
	CertificateFailed   = "Failed"
)

// Key usages (spec.usages), with Kubernetes' names.
const (
	UsageDigitalSignature = "digital signature"
	UsageKeyEncipherment  = "key encipherment"
	UsageClientAuth       = "client auth"
	UsageServerAuth       = "server auth"
)

// KeyUsages are the key usages a CSR may ask for (Kubernetes' list).
var KeyUsages = []string{
	"signing", UsageDigitalSignature, "content commitment", UsageKeyEncipherment,
	"key agreement", "data encipherment", "cert sign", "crl sign",
	"encipher only", "decipher only", "any", UsageServerAuth, UsageClientAuth,
	"code signing", "email protection", "s/mime", "ipsec end system",
	"ipsec tunnel", "ipsec user", "timestamping", "ocsp signing",
	"microsoft sgc", "netscape sgc",
}

// MinCSRExpirationSeconds is the least spec.expirationSeconds accepted.
const MinCSRExpirationSeconds = 600

// ParseCSR decodes a PEM "CERTIFICATE REQUEST" block and checks its
// signature.
func ParseCSR(pemBytes []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, err
	}
	return csr, nil
}

// CSRCondition returns the condition of type t of csr, nil if it has none.
func CSRCondition(csr *certificatesv1.CertificateSigningRequest, t string) *certificatesv1.CertificateSigningRequestCondition {
	for _, c := range csr.GetStatus().GetConditions() {
		if c.GetType() == t {
			return c
		}
	}
	return nil
}

// CSRApproved reports whether csr is approved and not denied or failed.
func CSRApproved(csr *certificatesv1.CertificateSigningRequest) bool {
	return CSRCondition(csr, CertificateApproved) != nil && CSRCondition(csr, CertificateDenied) == nil &&
		CSRCondition(csr, CertificateFailed) == nil
}
