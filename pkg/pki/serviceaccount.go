package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Service-account key files: the apiserver signs ServiceAccount tokens
// with ServiceAccountKeyFile (--service-account-signing-key-file) and
// verifies them with ServiceAccountPublicKeyFile
// (--service-account-key-file), as kubeadm's sa.key and sa.pub.
const (
	ServiceAccountKeyFile       = "sa.key"
	ServiceAccountPublicKeyFile = "sa.pub"
)

// ensureServiceAccountKey creates dir/sa.key (RSA 2048, PKCS#8, 0600) and
// dir/sa.pub (its PKIX public key) unless sa.key exists; an existing
// sa.key is kept, and sa.pub is written from it when missing. It returns
// the paths it created and kept.
func ensureServiceAccountKey(dir string) (created, kept []string, err error) {
	keyPath, pubPath := filepath.Join(dir, ServiceAccountKeyFile), filepath.Join(dir, ServiceAccountPublicKeyFile)
	var key crypto.Signer
	data, err := os.ReadFile(keyPath)
	switch {
	case err == nil:
		if key, err = ParsePrivateKeyPEM(data); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", keyPath, err)
		}
		kept = append(kept, keyPath)
	case errors.Is(err, fs.ErrNotExist):
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(rk)
		if err != nil {
			return nil, nil, err
		}
		if err := writeNewFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, nil, err
		}
		key = rk
		created = append(created, keyPath)
	default:
		return nil, nil, err
	}
	if _, err := os.Stat(pubPath); err == nil {
		return created, append(kept, pubPath), nil
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, nil, err
	}
	if err := writeNewFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	return append(created, pubPath), kept, nil
}
