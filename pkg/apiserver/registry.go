package apiserver

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/storage/value"
	"keel.dev/keel/pkg/watchcache"
)

// resource is how the apiserver stores and serves one kind: its keys, its
// cache and what differs from the generic behaviour. It is built once at
// start and read-only afterwards.
type resource struct {
	kind *scheme.Kind
	// strategy is the kind's behaviour (pkg/registry).
	strategy registry.Strategy
	cache    *watchcache.Cache
	// hasStatus: the kind has a status subresource. Update keeps the
	// stored status and UpdateStatus changes only it.
	hasStatus bool
	// selectable are the kind's field selectors beyond metadata.name and
	// metadata.namespace, and where to find their values.
	selectable []selectable
	// indexer computes the selectable fields' values from the decoded
	// object instead (custom resources); nil for most kinds.
	indexer fieldIndexer
	// fieldNames are the selectable field labels.
	fieldNames sets.Set[string]
	// keepDecoded: cache entries carry the decoded object (Entry.Object),
	// for kinds admission reads on every create.
	keepDecoded bool
	// transformer stores the kind's values (encryption at rest, see
	// Config.Encryption); nil: stored as they are.
	transformer value.Transformer
	// written is the revision of the last write of this kind through this
	// apiserver (see caughtUp).
	written atomic.Int64
	// ttl is how long an object is kept after its last write (0: until
	// deleted); see registry.Strategy.TTL.
	ttl time.Duration
	// terminating refuses creates: the custom resource's definition is
	// being deleted (see cleanUpCRD).
	terminating atomic.Bool
}

// wrote records a successful write at rev.
func (r *resource) wrote(rev int64) {
	for {
		cur := r.written.Load()
		if rev <= cur || r.written.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// caughtUp waits (briefly) until the kind's cache reflects every write this
// apiserver made, so that admission reading the cache sees its own writes:
// a namespace this apiserver just marked Terminating is Terminating.
func (r *resource) caughtUp(ctx context.Context) error {
	rev := r.written.Load()
	if r.cache.Reached(rev) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, consistentWait)
	defer cancel()
	if err := r.cache.WaitForRevision(ctx, rev); err != nil {
		return apierrors.Unavailable("the %s cache is behind this apiserver's own writes: %v", r.kind.Resource, err)
	}
	return nil
}

// keyRoot starts every object's etcd key.
const keyRoot = "/keel/"

// prefix is the etcd prefix of every object of the kind:
// /keel/<resource>/, or /keel/<group>/<resource>/ for a custom resource.
func (r *resource) prefix() string {
	if r.kind.Dynamic {
		return keyRoot + r.kind.Group + "/" + r.kind.Resource + "/"
	}
	return keyRoot + r.kind.Resource + "/"
}

// key is the etcd key of one object: /keel/<resource>/<namespace>/<name>, or
// /keel/<resource>/<name> for cluster-scoped kinds.
func (r *resource) key(namespace, name string) string {
	if r.kind.Namespaced {
		return r.prefix() + namespace + "/" + name
	}
	return r.prefix() + name
}

// nsPrefix is the etcd prefix of one namespace's objects ("" for all).
func (r *resource) nsPrefix(namespace string) string {
	if r.kind.Namespaced && namespace != "" {
		return r.prefix() + namespace + "/"
	}
	return r.prefix()
}

func newResource(k *scheme.Kind) *resource {
	desc := k.Message.ProtoReflect().Descriptor().Fields()
	if f := desc.ByName("metadata"); f == nil || f.Number() != metadataField {
		panic("apiserver: kind " + k.Kind + " lacks metadata as field 1")
	}
	s := registry.For(k)
	r := &resource{
		kind:        k,
		strategy:    s,
		hasStatus:   s.HasStatus(),
		keepDecoded: s.Watched().ReadByAPIServer,
		fieldNames:  sets.New("metadata.name", "metadata.namespace"),
	}
	if ix, ok := s.(fieldIndexer); ok {
		if names := ix.IndexedFields(); len(names) > 0 {
			r.indexer = ix
			r.fieldNames.Insert(names...)
		}
		return r
	}
	r.selectable = resolveFields(k.Message.ProtoReflect().Descriptor(), s.SelectableFields())
	for _, f := range r.selectable {
		r.fieldNames.Insert(f.label)
	}
	return r
}

// fieldIndexer is a strategy whose selectable fields' values are
// computed from the decoded object rather than read from its encoding (a
// custom resource's selectableFields: JSON paths into its content).
// IndexedFields are the labels FieldSet sets; FieldSet must be safe for
// concurrent use.
type fieldIndexer interface {
	IndexedFields() []string
	FieldSet(obj proto.Message) fields.Set
}

// decode is the watch cache's Decoder for the kind: it reads the labels
// and selectable fields straight from the encoding (decoding the whole
// object only for kinds with keepDecoded), and stamps the resourceVersion
// into the encoding.
func (r *resource) decode(key string, value []byte, rev int64) (*watchcache.Entry, error) {
	meta, set, err := scanObject(value, r.selectable)
	if err != nil {
		return nil, err
	}
	var obj proto.Message
	if r.indexer != nil || r.keepDecoded {
		if obj, err = r.unmarshal(value, rev); err != nil {
			return nil, err
		}
	}
	if r.indexer != nil {
		maps.Copy(set, r.indexer.FieldSet(obj))
	}
	e := &watchcache.Entry{
		Key:       key,
		Namespace: meta.GetNamespace(),
		Name:      meta.GetName(),
		Raw:       withVersion(value, rev),
		Rev:       rev,
		Labels:    meta.GetLabels(),
		Fields:    set,
	}
	if r.keepDecoded {
		e.Object = obj
	}
	return e, nil
}

// object returns a cache entry's object: the one the entry carries (kinds
// with keepDecoded; shared, so read only) or else a fresh decoding.
func (r *resource) object(e *watchcache.Entry) (proto.Message, error) {
	if m, ok := e.Object.(proto.Message); ok {
		return m, nil
	}
	obj := r.kind.New()
	if err := proto.Unmarshal(e.Raw, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// cachedList returns the objects the cache holds in namespace ("" for
// all) that label selects (nil: every one), decoded (shared for kinds
// with keepDecoded: read only).
func (r *resource) cachedList(namespace string, label labels.Selector) ([]proto.Message, error) {
	entries, _, err := r.cache.List(watchcache.Predicate{Namespace: namespace, Label: label})
	if err != nil {
		return nil, apierrors.Unavailable("%s: %v", r.kind.Resource, err)
	}
	out := make([]proto.Message, 0, len(entries))
	for _, e := range entries {
		m, err := r.object(e)
		if err != nil {
			return nil, apierrors.Internal("decoding %s %s: %v", r.kind.Kind, e.Name, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// cachedGet returns the object the cache holds, decoded as cachedList's;
// nil when the cache does not hold it.
func (r *resource) cachedGet(namespace, name string) (proto.Message, error) {
	e, ok := r.cache.Get(r.key(namespace, name))
	if !ok {
		return nil, nil
	}
	m, err := r.object(e)
	if err != nil {
		return nil, apierrors.Internal("decoding %s %s: %v", r.kind.Kind, name, err)
	}
	return m, nil
}

// unmarshal decodes a stored value and sets its resourceVersion.
func (r *resource) unmarshal(value []byte, rev int64) (proto.Message, error) {
	obj := r.kind.New()
	if err := proto.Unmarshal(value, obj); err != nil {
		return nil, err
	}
	scheme.Meta(obj).ResourceVersion = strconv.FormatInt(rev, 10)
	return obj, nil
}

// Every kind's metadata is field 1, and ObjectMeta.resource_version field 5;
// newResource checks the first, a test the second.
const (
	metadataField        protowire.Number = 1
	resourceVersionField protowire.Number = 5
)

// withVersion returns an object's stored encoding followed by an encoded
// metadata{resourceVersion: rev}. Protobuf merges repeated occurrences of a
// message field and keeps the last value of a scalar, so the result decodes
// to the stored object with its resourceVersion set: objects are served
// without being decoded and encoded again.
func withVersion(value []byte, rev int64) []byte {
	v := strconv.FormatInt(rev, 10)
	inner := protowire.SizeTag(resourceVersionField) + protowire.SizeBytes(len(v))
	out := make([]byte, 0, len(value)+protowire.SizeTag(metadataField)+protowire.SizeBytes(inner))
	out = append(out, value...)
	out = protowire.AppendTag(out, metadataField, protowire.BytesType)
	out = protowire.AppendVarint(out, uint64(inner))
	out = protowire.AppendTag(out, resourceVersionField, protowire.BytesType)
	return protowire.AppendString(out, v)
}

// raw wraps encoded bytes of the kind in an Any.
func (r *resource) raw(b []byte) *anypb.Any {
	return &anypb.Any{TypeUrl: r.kind.TypeURL(), Value: b}
}

// checkFieldSelector refuses field labels the kind does not index.
func (r *resource) checkFieldSelector(sel fields.Selector) []string {
	var bad []string
	for _, req := range sel.Requirements() {
		if !r.fieldNames.Has(req.Field) {
			bad = append(bad, req.Field)
		}
	}
	return bad
}

func joinQuoted(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}
