// Package value transforms the values the apiserver stores in etcd:
// encryption at rest. A Transformer turns an encoded object into its stored
// form and back; the stored form names the provider and key that made it
// (k8s:enc:<provider>:v1:<key>:), as Kubernetes' EncryptionConfiguration
// providers do, so that every configured provider can read while only the
// first one writes.
//
// Everything here is pure (no I/O beyond crypto/rand for nonces and IVs)
// and safe for concurrent use.
package value

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Transformer turns a value into its stored form and back. key is the etcd
// key the value is stored under: providers that authenticate their
// ciphertext (aesgcm) bind it to that key, so a stored value copied under
// another key does not decrypt.
type Transformer interface {
	// TransformToStorage returns the stored form of plain.
	TransformToStorage(plain []byte, key string) ([]byte, error)
	// TransformFromStorage returns the plaintext of stored. stale is true
	// when a provider other than the one that writes read it: writing the
	// value again re-encrypts it with the current provider and key.
	TransformFromStorage(stored []byte, key string) (plain []byte, stale bool, err error)
}

// EncryptedPrefix starts every value an encrypting provider wrote.
const EncryptedPrefix = "k8s:enc:"

// Prefix is the stored-value prefix of one provider's key: "k8s:enc:" +
// provider + ":v1:" + keyName + ":".
func Prefix(provider, keyName string) string {
	return EncryptedPrefix + provider + ":v1:" + keyName + ":"
}

// Provider is one way of storing values: a cipher under one key with its
// prefix, or identity (empty prefix, stored as is).
type Provider struct {
	// Prefix starts every value this provider writes ("" for identity).
	Prefix string
	// Cipher seals and opens the rest of the value.
	Cipher Cipher
	// metricPrefix labels the metrics: the prefix without the key name, or
	// "identity".
	metricPrefix string
}

// Cipher seals values and opens them. additional is data to authenticate
// but not to encrypt (the etcd key); ciphers without authentication ignore
// it.
type Cipher interface {
	Seal(plain, additional []byte) ([]byte, error)
	Open(sealed, additional []byte) ([]byte, error)
}

// NewProvider is the provider of cipher c under the named key, e.g.
// NewProvider("aesgcm", "key1", c) writes "k8s:enc:aesgcm:v1:key1:…".
func NewProvider(provider, keyName string, c Cipher) Provider {
	return Provider{Prefix: Prefix(provider, keyName), Cipher: c, metricPrefix: EncryptedPrefix + provider + ":v1:"}
}

// Identity stores values unchanged. It refuses to read a value that starts
// with EncryptedPrefix, leaving it to the providers after it.
var Identity = Provider{Cipher: identity{}, metricPrefix: "identity"}

type identity struct{}

var errEncrypted = errors.New("identity provider read an encrypted value")

func (identity) Seal(plain, _ []byte) ([]byte, error) { return plain, nil }
func (identity) Open(sealed, _ []byte) ([]byte, error) {
	if bytes.HasPrefix(sealed, []byte(EncryptedPrefix)) {
		return nil, errEncrypted
	}
	return sealed, nil
}

var transformations = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "apiserver_storage_transformation_operations_total",
	Help: "Transformations of stored values, by direction (to_storage, from_storage), provider prefix and status (OK, Unknown).",
}, []string{"transformation_type", "transformer_prefix", "status"})

func count(direction, prefix string, err error) {
	status := "OK"
	if err != nil {
		status = "Unknown"
	}
	transformations.WithLabelValues(direction, prefix, status).Inc()
}

// Chain is the Transformer of an ordered list of providers: the first
// writes; a read goes to the first provider whose prefix the value starts
// with (identity matches anything not encrypted), and is stale unless that
// is the first provider.
type Chain []Provider

var _ Transformer = Chain(nil)

// TransformToStorage seals plain with the first provider.
func (c Chain) TransformToStorage(plain []byte, key string) ([]byte, error) {
	if len(c) == 0 {
		return nil, errors.New("no encryption provider configured")
	}
	p := c[0]
	sealed, err := p.Cipher.Seal(plain, []byte(key))
	count("to_storage", p.metricPrefix, err)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.name(), err)
	}
	if p.Prefix == "" {
		return sealed, nil
	}
	out := make([]byte, 0, len(p.Prefix)+len(sealed))
	return append(append(out, p.Prefix...), sealed...), nil
}

// TransformFromStorage opens stored with the provider its prefix names.
func (c Chain) TransformFromStorage(stored []byte, key string) ([]byte, bool, error) {
	for i, p := range c {
		if !bytes.HasPrefix(stored, []byte(p.Prefix)) {
			continue
		}
		plain, err := p.Cipher.Open(stored[len(p.Prefix):], []byte(key))
		if p.Prefix == "" && err != nil {
			continue // encrypted: a later provider may hold its key
		}
		count("from_storage", p.metricPrefix, err)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", p.name(), err)
		}
		return plain, i != 0, nil
	}
	return nil, false, fmt.Errorf("no configured provider reads this value (%s)", describe(stored))
}

// name is how errors name the provider: its prefix, or identity.
func (p Provider) name() string {
	if p.Prefix == "" {
		return "identity"
	}
	return strings.TrimSuffix(p.Prefix, ":")
}

// describe says what a value that no provider read starts with, without
// showing its content: the provider prefix it carries, if any.
func describe(stored []byte) string {
	if !bytes.HasPrefix(stored, []byte(EncryptedPrefix)) {
		return "it is not encrypted and identity is not configured"
	}
	rest := stored[len(EncryptedPrefix):]
	// provider:v1:keyname:
	parts := bytes.SplitN(rest, []byte(":"), 4)
	if len(parts) < 4 {
		return "it starts with " + EncryptedPrefix + " but has no key name"
	}
	return fmt.Sprintf("it was written by %s key %q, which is not configured", parts[0], parts[2])
}
