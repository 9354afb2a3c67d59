package value

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// NewAESGCM is AES in GCM mode under key (16, 24 or 32 bytes): a random
// 12-byte nonce per value, stored before the ciphertext, and the etcd key
// as authenticated data. Random nonces bound how many values one key may
// safely seal (about 2^32 by NIST's guidance for random 96-bit nonces, far
// fewer if nonce reuse is to stay negligible); rotate aesgcm keys well
// before that, as Kubernetes advises (every 200,000 writes).
func NewAESGCM(key []byte) (Cipher, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return gcm{aead}, nil
}

type gcm struct{ aead cipher.AEAD }

func (g gcm) Seal(plain, additional []byte) ([]byte, error) {
	n := g.aead.NonceSize()
	out := make([]byte, n, n+len(plain)+g.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("making a nonce: %w", err)
	}
	return g.aead.Seal(out, out[:n], plain, additional), nil
}

func (g gcm) Open(sealed, additional []byte) ([]byte, error) {
	n := g.aead.NonceSize()
	if len(sealed) < n+g.aead.Overhead() {
		return nil, errors.New("stored value too short")
	}
	plain, err := g.aead.Open(nil, sealed[:n], sealed[n:], additional)
	if err != nil {
		return nil, errors.New("decryption failed: wrong key, or the value was altered or moved to another key")
	}
	return plain, nil
}

// NewAESCBC is AES in CBC mode under key (16, 24 or 32 bytes) with PKCS#7
// padding and a random IV per value stored before the ciphertext. It has no
// integrity check and ignores the additional data: a wrong key is usually,
// not always, caught by the padding check. Prefer aesgcm or secretbox.
func NewAESCBC(key []byte) (Cipher, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cbc{block}, nil
}

type cbc struct{ block cipher.Block }

var errPadding = errors.New("decryption failed: invalid padding (wrong key, or the value was altered)")

func (c cbc) Seal(plain, _ []byte) ([]byte, error) {
	bs := aes.BlockSize
	pad := bs - len(plain)%bs
	out := make([]byte, bs+len(plain)+pad)
	if _, err := rand.Read(out[:bs]); err != nil {
		return nil, fmt.Errorf("making an IV: %w", err)
	}
	body := out[bs:]
	copy(body, plain)
	for i := len(plain); i < len(body); i++ {
		body[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(c.block, out[:bs]).CryptBlocks(body, body)
	return out, nil
}

func (c cbc) Open(sealed, _ []byte) ([]byte, error) {
	bs := aes.BlockSize
	if len(sealed) < 2*bs || len(sealed)%bs != 0 {
		return nil, errors.New("stored value is not a whole number of AES blocks after its IV")
	}
	body := make([]byte, len(sealed)-bs)
	cipher.NewCBCDecrypter(c.block, sealed[:bs]).CryptBlocks(body, sealed[bs:])
	pad := int(body[len(body)-1])
	if pad == 0 || pad > bs {
		return nil, errPadding
	}
	for _, b := range body[len(body)-pad:] {
		if int(b) != pad {
			return nil, errPadding
		}
	}
	return body[:len(body)-pad], nil
}
