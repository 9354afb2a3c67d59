package pki

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
)

// SPKIHash is "sha256:" and the hex SHA-256 of cert's
// SubjectPublicKeyInfo, as kubeadm's --discovery-token-ca-cert-hash.
func SPKIHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// DiscoverCA connects to server ("host:port") and returns the CA
// certificate its TLS handshake presents whose SPKIHash is hash, once
// the server's certificate verifies against that CA for host: how a node
// that holds only a join token and the CA's hash learns the cluster CA
// without trusting the network. The server must present the CA after its
// certificate (see ServerTLSConfigFromPEM). Nothing is sent to the
// server before the CA is verified.
func DiscoverCA(ctx context.Context, server, hash string) (*x509.Certificate, error) {
	if !strings.HasPrefix(hash, "sha256:") || len(hash) != len("sha256:")+64 {
		return nil, fmt.Errorf("CA hash %q: want sha256:<64 hex digits>", hash)
	}
	host, _, err := net.SplitHostPort(server)
	if err != nil {
		return nil, fmt.Errorf("server %q: %w", server, err)
	}
	var found *x509.Certificate
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verified below, against the pinned CA only.
		InsecureSkipVerify: true, //nolint:gosec
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server presented no certificate")
			}
			for _, c := range cs.PeerCertificates[1:] {
				if c.IsCA && subtle.ConstantTimeCompare([]byte(SPKIHash(c)), []byte(strings.ToLower(hash))) == 1 {
					found = c
				}
			}
			if found == nil {
				return fmt.Errorf("the server presents no CA certificate with hash %s", hash)
			}
			roots := x509.NewCertPool()
			roots.AddCert(found)
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: host})
			return err
		},
	}
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, fmt.Errorf("discovering the cluster CA at %s: %w", server, err)
	}
	conn.Close()
	return found, nil
}
