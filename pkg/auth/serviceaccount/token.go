// Package serviceaccount issues and verifies ServiceAccount tokens: JWTs
// signed with the service-account key (RS256 or ES256) that carry
// Kubernetes' claims (iss, sub, aud, exp, iat, nbf and the kubernetes.io
// claim naming the namespace, the service account and, for a bound token,
// the pod).
package serviceaccount

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/pki"
)

// Well-known names, as in Kubernetes.
const (
	// PodNameExtra and PodUIDExtra are the user's extra keys naming the
	// pod a bound token belongs to.
	PodNameExtra = "authentication.kubernetes.io/pod-name"
	PodUIDExtra  = "authentication.kubernetes.io/pod-uid"
	// DefaultIssuer is the default --service-account-issuer.
	DefaultIssuer = "https://kubernetes.default.svc.cluster.local"
)

// Ref names an object a token is bound to.
type Ref struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// KubernetesClaim is the "kubernetes.io" claim.
type KubernetesClaim struct {
	Namespace      string `json:"namespace"`
	ServiceAccount Ref    `json:"serviceaccount"`
	Pod            *Ref   `json:"pod,omitempty"`
	Secret         *Ref   `json:"secret,omitempty"`
	Node           *Ref   `json:"node,omitempty"`
}

// Claims are a token's claims.
type Claims struct {
	jwt.RegisteredClaims
	Kubernetes KubernetesClaim `json:"kubernetes.io"`
}

// Request is what a token is issued for.
type Request struct {
	Namespace          string
	ServiceAccountName string
	ServiceAccountUID  string
	// Pod, Secret and Node are the objects the token is bound to, if any.
	Pod, Secret, Node *Ref
	Audiences         []string
	Expiration        time.Duration
}

// Signer issues tokens. It is safe for concurrent use.
type Signer struct {
	issuer string
	key    crypto.Signer
	method jwt.SigningMethod
	now    func() time.Time
}

// NewSigner returns a Signer that signs with key (an RSA key: RS256; a
// P-256 ECDSA key: ES256) as issuer. now is the clock (nil: time.Now).
func NewSigner(issuer string, key crypto.Signer, now func() time.Time) (*Signer, error) {
	if issuer == "" {
		return nil, errors.New("service account issuer is empty")
	}
	var method jwt.SigningMethod
	switch k := key.(type) {
	case *rsa.PrivateKey:
		method = jwt.SigningMethodRS256
	case *ecdsa.PrivateKey:
		if k.Curve.Params().BitSize != 256 {
			return nil, fmt.Errorf("ECDSA service account signing key must be on P-256, not %s", k.Curve.Params().Name)
		}
		method = jwt.SigningMethodES256
	default:
		return nil, fmt.Errorf("service account signing key must be RSA or ECDSA, not %T", key)
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{issuer: issuer, key: key, method: method, now: now}, nil
}

// Issue returns a signed token for r and the time it expires.
func (s *Signer) Issue(r Request) (string, time.Time, error) {
	if r.Namespace == "" || r.ServiceAccountName == "" || r.ServiceAccountUID == "" {
		return "", time.Time{}, errors.New("a token needs the service account's namespace, name and uid")
	}
	if len(r.Audiences) == 0 {
		return "", time.Time{}, errors.New("a token needs at least one audience")
	}
	if r.Expiration <= 0 {
		return "", time.Time{}, errors.New("a token needs a positive expiration")
	}
	now := s.now().Truncate(time.Second)
	exp := now.Add(r.Expiration)
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   auth.ServiceAccountUser(r.Namespace, r.ServiceAccountName),
			Audience:  jwt.ClaimStrings(r.Audiences),
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
		},
		Kubernetes: KubernetesClaim{
			Namespace:      r.Namespace,
			ServiceAccount: Ref{Name: r.ServiceAccountName, UID: r.ServiceAccountUID},
			Pod:            r.Pod, Secret: r.Secret, Node: r.Node,
		},
	}
	tok, err := jwt.NewWithClaims(s.method, c).SignedString(s.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("signing the token: %w", err)
	}
	return tok, exp, nil
}

// ReadPrivateKey reads a PEM private key (PKCS#1 RSA, SEC 1 EC or PKCS#8)
// from path: --service-account-signing-key-file.
func ReadPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := pki.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// ReadPublicKeys reads every public key in the PEM file at path (PUBLIC
// KEY, RSA PUBLIC KEY, CERTIFICATE, or a private key whose public half is
// used): --service-account-key-file.
func ReadPublicKeys(path string) ([]crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys []crypto.PublicKey
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		var key any
		switch block.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = c.PublicKey
			}
		case "RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY":
			var s crypto.Signer
			if s, err = ReadPrivateKey(path); err == nil {
				key = s.Public()
			}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		switch key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
			keys = append(keys, key)
		default:
			return nil, fmt.Errorf("%s: unsupported public key type %T", path, key)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no PEM public key", path)
	}
	return keys, nil
}
