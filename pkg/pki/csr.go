package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// NewCSRPEM returns a PEM "CERTIFICATE REQUEST" for key, with spec's
// subject (CommonName, Organization) and subject alternative names;
// spec's usages and validity are the signer's to decide.
func NewCSRPEM(key crypto.Signer, spec CertSpec) ([]byte, error) {
	if spec.CommonName == "" {
		return nil, errors.New("certificate request common name is empty")
	}
	tmpl := &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: spec.CommonName, Organization: append([]string(nil), spec.Organization...)},
		DNSNames:    spec.DNSNames,
		IPAddresses: spec.IPAddresses,
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("creating certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// SignRequest issues a certificate signed by ca for the key and subject
// of req (whose signature the caller has checked), with the extended key
// usages of spec (Server, Client), valid from now (back-dated by a few
// minutes for clock skew) for validity, never beyond the CA's own end.
// spec's names are ignored: the request's are used.
func SignRequest(ca *KeyPair, req *x509.CertificateRequest, spec CertSpec, now time.Time) (*x509.Certificate, error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil || !ca.Cert.IsCA {
		return nil, errors.New("no CA to sign with")
	}
	if spec.Validity <= 0 {
		return nil, fmt.Errorf("validity must be positive, got %v", spec.Validity)
	}
	tmpl, err := leafTemplate(ca.Cert, spec, spec.Validity, now)
	if err != nil {
		return nil, err
	}
	tmpl.Subject = pkix.Name{CommonName: req.Subject.CommonName, Organization: req.Subject.Organization}
	tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	tmpl.DNSNames, tmpl.IPAddresses = req.DNSNames, req.IPAddresses
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, req.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("signing the request of %q: %w", req.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}
