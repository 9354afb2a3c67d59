package storage

import (
	"fmt"

	"keel.dev/keel/pkg/storage/value"
)

// Transformers picks how the value under a key is stored: a Transformer
// (encryption at rest), or nil to store it as it is.
type Transformers func(key string) value.Transformer

// Transforming is a store whose values can be transformed on their way to
// and from etcd. Every read (Get, List, Watch events) and write (Create,
// Update) of a key with a transformer goes through it; side keys do not.
type Transforming interface {
	// SetTransformers installs ts; call it before the store's first use.
	SetTransformers(ts Transformers)
}

// SetTransformers implements Transforming.
func (e *Etcd) SetTransformers(ts Transformers) { e.transformers = ts }

// toStorage is value's stored form under key.
func (e *Etcd) toStorage(key string, v []byte) ([]byte, error) {
	t := e.transformer(key)
	if t == nil {
		return v, nil
	}
	out, err := t.TransformToStorage(v, key)
	if err != nil {
		return nil, fmt.Errorf("%w: writing %s: %v", ErrTransform, key, err)
	}
	return out, nil
}

// fromStorage is the plaintext of the value stored under key, and whether
// it is stale (see KeyValue.Stale).
func fromStorage(ts Transformers, key string, v []byte) ([]byte, bool, error) {
	if ts == nil || len(v) == 0 {
		return v, false, nil
	}
	t := ts(key)
	if t == nil {
		return v, false, nil
	}
	out, stale, err := t.TransformFromStorage(v, key)
	if err != nil {
		return nil, false, fmt.Errorf("%w: reading %s: %v", ErrTransform, key, err)
	}
	return out, stale, nil
}

func (e *Etcd) transformer(key string) value.Transformer {
	if e.transformers == nil {
		return nil
	}
	return e.transformers(key)
}

// keyValue is kv with its value read through the key's transformer.
func (e *Etcd) keyValue(key string, v []byte, create, mod int64) (*KeyValue, error) {
	plain, stale, err := fromStorage(e.transformers, key, v)
	if err != nil {
		return nil, err
	}
	return &KeyValue{Key: key, Value: plain, CreateRevision: create, ModRevision: mod, Stale: stale}, nil
}
