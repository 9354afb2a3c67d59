package apiserver

import (
	"errors"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/storage"
	"keel.dev/keel/pkg/storage/value"
)

// StoredResources are the resources the apiserver keeps in etcd: those an
// EncryptionConfiguration may name (see package encryptionconfig).
func StoredResources() []schema.GroupResource {
	var out []schema.GroupResource
	for _, k := range scheme.All() {
		if k.Stored() {
			out = append(out, schema.GroupResource{Group: k.Group, Resource: k.Resource})
		}
	}
	return out
}

// installEncryption gives each resource its transformer from
// cfg.Encryption and installs them on the store, which must be
// storage.Transforming. Call it before the store's first use.
func (s *Server) installEncryption() error {
	if s.cfg.Encryption == nil {
		return nil
	}
	ts, ok := s.cfg.Store.(storage.Transforming)
	if !ok {
		return errors.New("apiserver: an encryption provider config needs a store that transforms values")
	}
	for _, r := range s.resources {
		r.transformer = s.cfg.Encryption.For(schema.GroupResource{Group: r.kind.Group, Resource: r.kind.Resource})
	}
	ts.SetTransformers(s.transformerOf)
	return nil
}

// transformerOf is the transformer of the resource an etcd key belongs to
// (see resource.key), nil for keys of no resource or unencrypted ones.
func (s *Server) transformerOf(key string) value.Transformer {
	rest, ok := strings.CutPrefix(key, keyRoot)
	if !ok {
		return nil
	}
	res, rest, _ := strings.Cut(rest, "/")
	if r := s.resources[res]; r != nil {
		return r.transformer
	}
	// A custom resource's, /keel/<group>/<plural>/…: decided by its name
	// alone, so that its objects read alike before and while its
	// definition is served.
	if plural, _, ok := strings.Cut(rest, "/"); ok && strings.Contains(res, ".") {
		return s.cfg.Encryption.For(schema.GroupResource{Group: res, Resource: plural})
	}
	return nil
}
