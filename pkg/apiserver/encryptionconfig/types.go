package encryptionconfig

// The file format: Kubernetes' EncryptionConfiguration of
// apiserver.config.k8s.io/v1, without the kms provider.

const (
	// APIVersion and Kind are what a file must declare.
	APIVersion = "apiserver.config.k8s.io/v1"
	Kind       = "EncryptionConfiguration"
)

// EncryptionConfiguration lists, for groups of resources, the providers
// that store them: the first provider writes, every provider reads.
type EncryptionConfiguration struct {
	APIVersion string                  `json:"apiVersion"`
	Kind       string                  `json:"kind"`
	Resources  []ResourceConfiguration `json:"resources"`
}

// ResourceConfiguration is one group of resources and their providers.
type ResourceConfiguration struct {
	// Resources are resource names: "secrets" (core group),
	// "deployments.apps", or the wildcards "*." (every core resource),
	// "*.apps" (every resource of a group) and "*.*" (every resource).
	Resources []string `json:"resources"`
	// Providers are tried in order when reading; the first one writes.
	Providers []ProviderConfiguration `json:"providers"`
}

// ProviderConfiguration is exactly one provider.
type ProviderConfiguration struct {
	AESGCM    *KeysConfiguration     `json:"aesgcm,omitempty"`
	AESCBC    *KeysConfiguration     `json:"aescbc,omitempty"`
	Secretbox *KeysConfiguration     `json:"secretbox,omitempty"`
	Identity  *IdentityConfiguration `json:"identity,omitempty"`
}

// KeysConfiguration lists a provider's keys: the first encrypts, each
// decrypts what was written under its name.
type KeysConfiguration struct {
	Keys []Key `json:"keys"`
}

// Key is a named key; Secret is its bytes in base64.
type Key struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

// IdentityConfiguration has no fields: identity stores values unchanged.
type IdentityConfiguration struct{}
