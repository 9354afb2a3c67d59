package value

import (
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
)

// SecretboxKeySize is the only key size secretbox takes.
const SecretboxKeySize = 32

const secretboxNonceSize = 24

// NewSecretbox is NaCl secretbox (XSalsa20 and Poly1305) under a 32-byte
// key, with a random 24-byte nonce per value stored before the box. Like
// Kubernetes' secretbox provider it ignores the additional data.
func NewSecretbox(key []byte) (Cipher, error) {
	if len(key) != SecretboxKeySize {
		return nil, fmt.Errorf("secretbox keys are %d bytes, not %d", SecretboxKeySize, len(key))
	}
	var k [SecretboxKeySize]byte
	copy(k[:], key)
	return box{&k}, nil
}

type box struct{ key *[SecretboxKeySize]byte }

func (b box) Seal(plain, _ []byte) ([]byte, error) {
	var nonce [secretboxNonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("making a nonce: %w", err)
	}
	out := make([]byte, secretboxNonceSize, secretboxNonceSize+len(plain)+secretbox.Overhead)
	copy(out, nonce[:])
	return secretbox.Seal(out, plain, &nonce, b.key), nil
}

func (b box) Open(sealed, _ []byte) ([]byte, error) {
	if len(sealed) < secretboxNonceSize+secretbox.Overhead {
		return nil, errors.New("stored value too short")
	}
	var nonce [secretboxNonceSize]byte
	copy(nonce[:], sealed)
	plain, ok := secretbox.Open(nil, sealed[secretboxNonceSize:], &nonce, b.key)
	if !ok {
		return nil, errors.New("decryption failed: wrong key, or the value was altered")
	}
	return plain, nil
}
