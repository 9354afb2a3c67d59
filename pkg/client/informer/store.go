package informer

import (
	"fmt"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/labels"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/scheme"
)

// Names of the indexes every informer keeps.
const (
	// NamespaceIndex indexes objects by metadata.namespace ("" for
	// cluster-scoped kinds).
	NamespaceIndex = "namespace"
	// ControllerUIDIndex indexes objects by the uid of their controller
	// (the owner reference with controller: true); objects without one are
	// not in the index.
	ControllerUIDIndex = "controller-uid"
	// OwnerUIDIndex indexes objects by the uid of every owner reference.
	OwnerUIDIndex = "owner-uid"
	// NodeNameIndex indexes pods by spec.nodeName ("" for unbound pods).
	// Only pod informers have it.
	NodeNameIndex = "spec.nodeName"
)

// IndexFunc returns the values under which obj is indexed (none to leave it
// out). It must be a pure function of obj.
type IndexFunc[T any] func(obj T) []string

// Indexers name index functions.
type Indexers[T any] map[string]IndexFunc[T]

// Key is the store key of an object: "namespace/name", or "name" for a
// cluster-scoped object.
func Key(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// KeyOf is the store key of obj.
func KeyOf[T scheme.Object](obj T) string {
	m := obj.GetMetadata()
	return Key(m.GetNamespace(), m.GetName())
}

// DefaultIndexers are the indexes of every informer of T's kind: namespace,
// controller uid and owner uid, plus node name for pods.
func DefaultIndexers[T scheme.Object]() Indexers[T] {
	ix := Indexers[T]{
		NamespaceIndex: func(obj T) []string { return []string{obj.GetMetadata().GetNamespace()} },
		ControllerUIDIndex: func(obj T) []string {
			for _, ref := range obj.GetMetadata().GetOwnerReferences() {
				if ref.GetController() {
					return []string{ref.GetUid()}
				}
			}
			return nil
		},
		OwnerUIDIndex: func(obj T) []string {
			refs := obj.GetMetadata().GetOwnerReferences()
			if len(refs) == 0 {
				return nil
			}
			out := make([]string, len(refs))
			for i, ref := range refs {
				out[i] = ref.GetUid()
			}
			return out
		},
	}
	var zero T
	if _, ok := any(zero).(*corev1.Pod); ok {
		ix[NodeNameIndex] = func(obj T) []string {
			return []string{any(obj).(*corev1.Pod).GetSpec().GetNodeName()}
		}
	}
	return ix
}

// Store is an informer's thread-safe, indexed cache. Its exported methods
// only read: the informer alone writes it.
//
// Objects returned by a Store are shared with the informer, its handlers and
// every other reader: never modify one. Clone it first (proto.Clone), change
// the clone, and send the clone to the apiserver.
type Store[T scheme.Object] struct {
	mu       sync.RWMutex
	items    map[string]T
	indexers Indexers[T]
	// indices: index name -> value -> set of keys
	indices map[string]map[string]map[string]struct{}
}

// NewStore returns an empty store with the given indexes.
func NewStore[T scheme.Object](indexers Indexers[T]) *Store[T] {
	s := &Store[T]{items: map[string]T{}, indexers: Indexers[T]{}, indices: map[string]map[string]map[string]struct{}{}}
	for name, f := range indexers {
		s.indexers[name] = f
		s.indices[name] = map[string]map[string]struct{}{}
	}
	return s
}

// Get returns the object stored under key ("namespace/name" or "name").
func (s *Store[T]) Get(key string) (T, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	obj, ok := s.items[key]
	return obj, ok
}

// GetByName returns the named object.
func (s *Store[T]) GetByName(namespace, name string) (T, bool) {
	return s.Get(Key(namespace, name))
}

// Len is the number of objects.
func (s *Store[T]) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.items)
}

// List returns every object, in no particular order.
func (s *Store[T]) List() []T {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]T, 0, len(s.items))
	for _, obj := range s.items {
		out = append(out, obj)
	}
	return out
}

// ListKeys returns every key, sorted.
func (s *Store[T]) ListKeys() []string {
	s.mu.RLock()
	keys := make([]string, 0, len(s.items))
	for k := range s.items {
		keys = append(keys, k)
	}
	s.mu.RUnlock()
	sort.Strings(keys)
	return keys
}

// Select returns the objects of namespace ("" for every namespace) whose
// labels match sel (nil for every object).
func (s *Store[T]) Select(namespace string, sel labels.Selector) []T {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []T
	match := func(obj T) {
		if sel == nil || sel.Empty() || sel.Matches(labels.Set(obj.GetMetadata().GetLabels())) {
			out = append(out, obj)
		}
	}
	if namespace == "" {
		for _, obj := range s.items {
			match(obj)
		}
		return out
	}
	if idx, ok := s.indices[NamespaceIndex]; ok {
		for key := range idx[namespace] {
			match(s.items[key])
		}
		return out
	}
	for _, obj := range s.items {
		if obj.GetMetadata().GetNamespace() == namespace {
			match(obj)
		}
	}
	return out
}

// ByIndex returns the objects indexed under value by the named index.
func (s *Store[T]) ByIndex(index, value string) ([]T, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	idx, ok := s.indices[index]
	if !ok {
		return nil, fmt.Errorf("informer: no index named %q", index)
	}
	set := idx[value]
	out := make([]T, 0, len(set))
	for key := range set {
		out = append(out, s.items[key])
	}
	return out, nil
}

// IndexKeys returns the keys indexed under value by the named index, sorted.
func (s *Store[T]) IndexKeys(index, value string) ([]string, error) {
	s.mu.RLock()
	idx, ok := s.indices[index]
	if !ok {
		s.mu.RUnlock()
		return nil, fmt.Errorf("informer: no index named %q", index)
	}
	keys := make([]string, 0, len(idx[value]))
	for key := range idx[value] {
		keys = append(keys, key)
	}
	s.mu.RUnlock()
	sort.Strings(keys)
	return keys, nil
}

// IndexValues returns every value of the named index, sorted.
func (s *Store[T]) IndexValues(index string) []string {
	s.mu.RLock()
	idx := s.indices[index]
	values := make([]string, 0, len(idx))
	for v := range idx {
		values = append(values, v)
	}
	s.mu.RUnlock()
	sort.Strings(values)
	return values
}

// AddIndexers adds indexes and builds them over the current contents. A
// name already in use is an error.
func (s *Store[T]) AddIndexers(indexers Indexers[T]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range indexers {
		if _, dup := s.indexers[name]; dup {
			return fmt.Errorf("informer: index %q already exists", name)
		}
	}
	for name, f := range indexers {
		s.indexers[name] = f
		idx := map[string]map[string]struct{}{}
		s.indices[name] = idx
		for key, obj := range s.items {
			for _, v := range f(obj) {
				addToIndex(idx, v, key)
			}
		}
	}
	return nil
}

// upsert stores obj under key and returns the object it replaced.
func (s *Store[T]) upsert(key string, obj T) (old T, existed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upsertLocked(key, obj)
}

func (s *Store[T]) upsertLocked(key string, obj T) (old T, existed bool) {
	old, existed = s.items[key]
	if existed {
		s.unindexLocked(key, old)
	}
	s.items[key] = obj
	for name, f := range s.indexers {
		for _, v := range f(obj) {
			addToIndex(s.indices[name], v, key)
		}
	}
	return old, existed
}

// remove deletes key and returns the object it held.
func (s *Store[T]) remove(key string) (old T, existed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, existed = s.items[key]
	if existed {
		s.unindexLocked(key, old)
		delete(s.items, key)
	}
	return old, existed
}

// change is one difference found by replace.
type change[T any] struct {
	op       op
	old, obj T
}

// replace makes the store hold exactly items (by key) and returns the
// differences: deletions of keys not in items, additions, and updates of
// objects whose resourceVersion changed.
func (s *Store[T]) replace(items map[string]T) []change[T] {
	s.mu.Lock()
	defer s.mu.Unlock()
	var changes []change[T]
	for key, old := range s.items {
		if _, keep := items[key]; !keep {
			s.unindexLocked(key, old)
			delete(s.items, key)
			changes = append(changes, change[T]{op: opDelete, obj: old})
		}
	}
	for key, obj := range items {
		old, existed := s.upsertLocked(key, obj)
		switch {
		case !existed:
			changes = append(changes, change[T]{op: opAdd, obj: obj})
		case old.GetMetadata().GetResourceVersion() != obj.GetMetadata().GetResourceVersion():
			changes = append(changes, change[T]{op: opUpdate, old: old, obj: obj})
		}
	}
	return changes
}

func (s *Store[T]) unindexLocked(key string, obj T) {
	for name, f := range s.indexers {
		idx := s.indices[name]
		for _, v := range f(obj) {
			if set := idx[v]; set != nil {
				delete(set, key)
				if len(set) == 0 {
					delete(idx, v)
				}
			}
		}
	}
}

func addToIndex(idx map[string]map[string]struct{}, value, key string) {
	set := idx[value]
	if set == nil {
		set = map[string]struct{}{}
		idx[value] = set
	}
	set[key] = struct{}{}
}
