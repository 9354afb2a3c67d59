// Package pki creates and loads the certificates of a Keel cluster: one CA
// (ECDSA P-256) and leaf certificates signed by it, written as PEM files.
//
// Identities follow the Kubernetes convention: a client certificate's
// Subject CommonName is the user name and its Subject Organization entries
// are the groups (see package auth). Init creates, in one directory, every
// certificate a cluster needs; the TLS helpers (ServerTLSConfig,
// ClientTLSConfig and their FromPEM variants) turn them into tls.Configs.
//
// File layout: a key pair NAME is stored as NAME.crt (PEM "CERTIFICATE",
// mode 0644) and NAME.key (PEM PKCS#8 "PRIVATE KEY", mode 0600). Loading
// also accepts SEC1 "EC PRIVATE KEY" and PKCS#1 "RSA PRIVATE KEY" keys so
// that an operator may bring an existing CA.
//
// All functions are safe for concurrent use; they share no state.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

const (
	// CACommonName is the Subject CommonName of the CA made by Init.
	CACommonName = "keel-ca"
	// DefaultCAValidity is how long a CA made by Init is valid: 10 years.
	DefaultCAValidity = 10 * 365 * 24 * time.Hour
	// DefaultValidity is how long a leaf certificate is valid when
	// CertSpec.Validity is zero: 1 year, as with kubeadm.
	DefaultValidity = 365 * 24 * time.Hour
	// clockSkew back-dates NotBefore so that machines whose clocks lag a
	// little accept a freshly issued certificate.
	clockSkew = 5 * time.Minute
)

// KeyPair is a certificate with its private key. The fields are not
// modified by this package after creation.
type KeyPair struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// CertSpec describes a leaf certificate to issue.
type CertSpec struct {
	// CommonName is the Subject CN: the user name of a client certificate.
	// Required.
	CommonName string
	// Organization is the Subject O: the groups of a client certificate.
	Organization []string
	// DNSNames and IPAddresses are the subject alternative names a server
	// certificate is valid for. A server certificate needs at least one.
	DNSNames    []string
	IPAddresses []net.IP
	// Server adds the serverAuth extended key usage, Client the clientAuth
	// one. At least one must be set.
	Server bool
	Client bool
	// Validity is the lifetime; zero means DefaultValidity. It is capped so
	// that the certificate never outlives its CA.
	Validity time.Duration
}

// NewCA generates a self-signed CA certificate with a new ECDSA P-256 key.
// The CA may sign leaf certificates only (path length 0).
func NewCA(commonName string, validity time.Duration) (*KeyPair, error) {
	if commonName == "" {
		return nil, errors.New("CA common name is empty")
	}
	if validity <= 0 {
		return nil, fmt.Errorf("CA validity must be positive, got %v", validity)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &KeyPair{Cert: cert, Key: key}, nil
}

// Issue generates a new ECDSA P-256 key and a certificate for it, described
// by spec and signed by ca. ca must be a CA certificate (IsCA) with its key.
func Issue(ca *KeyPair, spec CertSpec) (*KeyPair, error) {
	if ca == nil || ca.Cert == nil || ca.Key == nil {
		return nil, errors.New("no CA to sign with")
	}
	if !ca.Cert.IsCA {
		return nil, fmt.Errorf("certificate %q is not a CA", ca.Cert.Subject.CommonName)
	}
	if err := spec.validate(); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	validity := spec.Validity
	if validity == 0 {
		validity = DefaultValidity
	}
	tmpl, err := leafTemplate(ca.Cert, spec, validity, time.Now())
	if err != nil {
		return nil, err
	}
	tmpl.Subject = pkix.Name{CommonName: spec.CommonName, Organization: append([]string(nil), spec.Organization...)}
	tmpl.DNSNames = append([]string(nil), spec.DNSNames...)
	tmpl.IPAddresses = append([]net.IP(nil), spec.IPAddresses...)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("creating certificate for %q: %w", spec.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &KeyPair{Cert: cert, Key: key}, nil
}

// leafTemplate is the template of a leaf certificate that ca signs: a new
// serial, valid from now (back-dated by clockSkew) for validity but never
// beyond ca's own end, key usage digital signature, and the extended key
// usages of spec (Server, Client). The caller sets the subject and names.
func leafTemplate(ca *x509.Certificate, spec CertSpec, validity time.Duration, now time.Time) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	var usages []x509.ExtKeyUsage
	if spec.Server {
		usages = append(usages, x509.ExtKeyUsageServerAuth)
	}
	if spec.Client {
		usages = append(usages, x509.ExtKeyUsageClientAuth)
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           usages,
		BasicConstraintsValid: true,
	}, nil
}

func (s CertSpec) validate() error {
	if s.CommonName == "" {
		return errors.New("certificate common name is empty")
	}
	if !s.Server && !s.Client {
		return fmt.Errorf("certificate %q: choose server and/or client usage", s.CommonName)
	}
	if s.Server && len(s.DNSNames) == 0 && len(s.IPAddresses) == 0 {
		return fmt.Errorf("server certificate %q needs at least one DNS name or IP address", s.CommonName)
	}
	if s.Validity < 0 {
		return fmt.Errorf("certificate %q: negative validity %v", s.CommonName, s.Validity)
	}
	for _, ip := range s.IPAddresses {
		if ip == nil {
			return fmt.Errorf("certificate %q: nil IP address", s.CommonName)
		}
	}
	return nil
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil // never zero
}
