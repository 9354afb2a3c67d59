package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ServerTLSConfig returns the TLS configuration of a server that
// authenticates its clients by certificate: it presents certFile/keyFile,
// accepts TLS 1.2 or later only, and requires a client certificate that
// verifies against the CA certificates in clientCAFile for client
// authentication (tls.RequireAndVerifyClientCert). A client without such a
// certificate fails the handshake. All three files are read once, now.
//
// The caller may adjust the returned config (each call returns a new one);
// for example a gRPC server that wants to answer a missing certificate with
// codes.Unauthenticated instead of a failed handshake sets ClientAuth to
// tls.VerifyClientCertIfGiven and relies on auth.Authenticate.
func ServerTLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	certPEM, keyPEM, err := readPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("reading client CA: %w", err)
	}
	cfg, err := ServerTLSConfigFromPEM(certPEM, keyPEM, caPEM)
	if err != nil {
		return nil, fmt.Errorf("%s, %s, %s: %w", certFile, keyFile, clientCAFile, err)
	}
	return cfg, nil
}

// ServerTLSConfigFromPEM is ServerTLSConfig with PEM data instead of files.
// clientCAPEM may hold several CA certificates (all are trusted). When one
// of them signed the serving certificate (one cluster CA, as `keelctl pki
// init` makes), the server presents it after its certificate, so that a
// client that knows only the CA's hash (a joining kubelet's
// --discovery-token-ca-cert-hash) can find and pin it.
func ServerTLSConfigFromPEM(certPEM, keyPEM, clientCAPEM []byte) (*tls.Config, error) {
	cert, err := tlsCertificate(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	pool, err := CertPoolFromPEM(clientCAPEM)
	if err != nil {
		return nil, fmt.Errorf("client CA: %w", err)
	}
	if len(cert.Certificate) == 1 {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, err
		}
		cas, _ := ParseCertsPEM(clientCAPEM)
		for _, ca := range cas {
			if leaf.CheckSignatureFrom(ca) == nil {
				cert.Certificate = append(cert.Certificate, ca.Raw)
				break
			}
		}
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}, nil
}

// ClientTLSConfig returns the TLS configuration of a client that verifies
// the server against the CA certificates in caFile (and nothing else: the
// system roots are not trusted), checks that the server certificate is valid
// for serverName, and presents certFile/keyFile as its identity. TLS 1.2 or
// later only. certFile and keyFile may both be empty for a client without a
// certificate. An empty serverName makes crypto/tls (and gRPC) use the host
// part of the address dialed. The files are read once, now.
func ClientTLSConfig(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading CA: %w", err)
	}
	var certPEM, keyPEM []byte
	if certFile != "" || keyFile != "" {
		if certPEM, keyPEM, err = readPair(certFile, keyFile); err != nil {
			return nil, err
		}
	}
	cfg, err := ClientTLSConfigFromPEM(caPEM, certPEM, keyPEM, serverName)
	if err != nil {
		return nil, fmt.Errorf("%s, %s, %s: %w", caFile, certFile, keyFile, err)
	}
	return cfg, nil
}

// ClientTLSConfigFromPEM is ClientTLSConfig with PEM data instead of files,
// for configuration files that embed certificates. certPEM and keyPEM may
// both be empty (no client certificate).
func ClientTLSConfigFromPEM(caPEM, certPEM, keyPEM []byte, serverName string) (*tls.Config, error) {
	pool, err := CertPoolFromPEM(caPEM)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    pool,
		ServerName: serverName,
	}
	switch {
	case len(certPEM) == 0 && len(keyPEM) == 0:
	case len(certPEM) == 0 || len(keyPEM) == 0:
		return nil, errors.New("a client certificate needs both the certificate and its key")
	default:
		cert, err := tlsCertificate(certPEM, keyPEM)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// CertPoolFromPEM returns a pool of every certificate in data; data without
// a certificate is an error.
func CertPoolFromPEM(data []byte) (*x509.CertPool, error) {
	certs, err := ParseCertsPEM(data)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// CertPoolFromFile is CertPoolFromPEM reading the file at path.
func CertPoolFromFile(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := CertPoolFromPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pool, nil
}

func readPair(certFile, keyFile string) (certPEM, keyPEM []byte, err error) {
	if certPEM, err = os.ReadFile(certFile); err != nil {
		return nil, nil, fmt.Errorf("reading certificate: %w", err)
	}
	if keyPEM, err = os.ReadFile(keyFile); err != nil {
		return nil, nil, fmt.Errorf("reading key: %w", err)
	}
	return certPEM, keyPEM, nil
}

// tlsCertificate builds a tls.Certificate (with its chain, if certPEM holds
// intermediates) and checks that the key matches.
func tlsCertificate(certPEM, keyPEM []byte) (tls.Certificate, error) {
	kp, err := ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	certs, err := ParseCertsPEM(certPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	chain := make([][]byte, len(certs))
	for i, c := range certs {
		chain[i] = c.Raw
	}
	return tls.Certificate{Certificate: chain, PrivateKey: kp.Key, Leaf: kp.Cert}, nil
}
