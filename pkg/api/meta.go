package api

import (
	"crypto/rand"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// ControllerRef returns the owner reference marked controller, or nil.
func ControllerRef(meta *metav1.ObjectMeta) *metav1.OwnerReference {
	for _, r := range meta.GetOwnerReferences() {
		if r.GetController() {
			return r
		}
	}
	return nil
}

// nameAlphabet is the alphabet of generated name suffixes, Kubernetes'
// (no vowels, no look-alike digits).
const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// RandomSuffix returns 5 random characters of nameAlphabet, the suffix
// generateName and Kubernetes' generated volume names use.
func RandomSuffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = nameAlphabet[int(b[i])%len(nameAlphabet)]
	}
	return string(b)
}
