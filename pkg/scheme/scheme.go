// Package scheme is the catalogue of Keel's kinds: for each one its API
// group, version, kind, resource name, short names, scope and Go message
// type. The apiserver, the client, the manifest decoder and keelctl look
// kinds up here.
//
// Kinds are added by pkg/registry.Register, which each kind's strategy
// goes through (pkg/registry/all lists them); a binary that looks kinds up
// imports pkg/registry/all. These static kinds are registered at init and
// read-only afterwards. Dynamic kinds (those of CustomResourceDefinitions)
// are added and removed at run time through SetDynamic; lookups see them
// after the static kinds, from an immutable snapshot replaced on each
// change. Every function is safe for concurrent use.
package scheme

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// Kind describes one API kind.
type Kind struct {
	Group    string // "" for the core group, "apps", "batch", …
	Version  string // "v1"
	Kind     string // "Deployment"
	Resource string // lowercase plural: "deployments"
	// ShortNames are keelctl's abbreviations ("deploy").
	ShortNames []string
	// Namespaced is false for cluster-scoped kinds (Namespace, Node, PriorityClass).
	Namespaced bool
	// CreateOnly kinds are not stored: create is their only verb and
	// returns the server's answer (SelfSubjectAccessReview, TokenReview).
	// They have no watch cache and are never listed.
	CreateOnly bool
	// Computed kinds are not stored either: get and list are their verbs,
	// answered by the apiserver from elsewhere on each request (the
	// metrics.k8s.io kinds, from the kubelets). They have no watch cache,
	// no writes and no garbage collection.
	Computed bool
	// Message is a zero value of the kind's Go message type; use New for instances.
	Message proto.Message
	// Dynamic kinds are added at run time (see SetDynamic): every dynamic
	// kind shares one message type, which carries the object's apiVersion
	// and kind in fields api_version and kind; New sets them, and the
	// kind's Any type URL names the kind.
	Dynamic bool
	// Behaviour is what pkg/registry keeps about a dynamic kind (its
	// strategy); nil for static kinds.
	Behaviour any
	// Storage, for a dynamic kind, is the kind objects are stored as (the
	// definition's storage version); nil for static kinds. The versions
	// of one definition share their storage.
	Storage *Kind
}

// Stored tells whether objects of the kind are stored (neither CreateOnly
// nor Computed): written, watched, garbage-collected, quota-counted.
func (k *Kind) Stored() bool { return !k.CreateOnly && !k.Computed }

// APIVersion is the manifest apiVersion: "v1" for the core group, else "group/version".
func (k *Kind) APIVersion() string {
	if k.Group == "" {
		return k.Version
	}
	return k.Group + "/" + k.Version
}

// SameAs reports whether k and o are the same group, version and kind:
// a dynamic kind is built anew each time its definition changes, so
// compare kinds with SameAs rather than ==.
func (k *Kind) SameAs(o *Kind) bool {
	return k == o || k != nil && o != nil && k.Group == o.Group && k.Version == o.Version && k.Kind == o.Kind
}

// QualifiedResource is the resource with its API group, as Kubernetes names
// it in messages: "pods", "deployments.apps".
func (k *Kind) QualifiedResource() string {
	if k.Group == "" {
		return k.Resource
	}
	return k.Resource + "." + k.Group
}

// QualifiedKind is the kind with its API group: "Pod", "Deployment.apps".
func (k *Kind) QualifiedKind() string {
	if k.Group == "" {
		return k.Kind
	}
	return k.Kind + "." + k.Group
}

// New returns a new, empty message of the kind (with its apiVersion and
// kind set, for a dynamic kind).
func (k *Kind) New() proto.Message {
	m := k.Message.ProtoReflect().New().Interface()
	if k.Dynamic {
		k.Stamp(m)
	}
	return m
}

// Stamp sets the apiVersion and kind fields of m, a message of a dynamic
// kind's type, to k's; it does nothing for a static kind.
func (k *Kind) Stamp(m proto.Message) {
	if !k.Dynamic {
		return
	}
	r := m.ProtoReflect()
	fs := r.Descriptor().Fields()
	r.Set(fs.ByName("api_version"), protoreflect.ValueOfString(k.APIVersion()))
	r.Set(fs.ByName("kind"), protoreflect.ValueOfString(k.Kind))
}

// StorageKind is the kind objects of k are stored as: k itself, or a
// dynamic kind's storage version.
func (k *Kind) StorageKind() *Kind {
	if k.Storage != nil {
		return k.Storage
	}
	return k
}

// FullName is the protobuf message name ("keel.apps.v1.Deployment").
func (k *Kind) FullName() protoreflect.FullName {
	return k.Message.ProtoReflect().Descriptor().FullName()
}

// TypeURL is the google.protobuf.Any type URL of the kind's messages. A
// dynamic kind's names its group, version and kind before the message
// type ("apis.keel.dev/stable.example.com/v1/CronTab/keel.apiextensions.v1.CustomResource"):
// its last segment is the message type, as Any requires.
func (k *Kind) TypeURL() string {
	if k.Dynamic {
		return dynamicURLPrefix + k.Group + "/" + k.Version + "/" + k.Kind + "/" + string(k.FullName())
	}
	return "type.googleapis.com/" + string(k.FullName())
}

const dynamicURLPrefix = "apis.keel.dev/"

var (
	all        []*Kind
	byResource = map[string]*Kind{} // resource, singular and short names, lowercase
	byGVK      = map[string]*Kind{} // apiVersion + "/" + Kind
	byName     = map[protoreflect.FullName]*Kind{}
)

// Register adds a kind. It is called at init, by pkg/registry.Register
// only; a kind registered twice panics.
func Register(k *Kind) {
	if _, dup := byName[k.FullName()]; dup {
		panic("scheme: kind registered twice: " + string(k.FullName()))
	}
	all = append(all, k)
	sort.Slice(all, func(i, j int) bool {
		if all[i].Resource != all[j].Resource {
			return all[i].Resource < all[j].Resource
		}
		return all[i].Group < all[j].Group
	})
	byName[k.FullName()] = k
	byGVK[k.APIVersion()+"/"+k.Kind] = k
	for _, name := range append([]string{k.Resource, strings.ToLower(k.Kind)}, k.ShortNames...) {
		// A bare name two groups share ("pods": core and metrics.k8s.io)
		// is the core group's, as kubectl resolves it; the other is
		// named with its group ("pods.metrics.k8s.io").
		if other, taken := byResource[name]; taken && other.Group == "" && k.Group != "" {
			continue
		}
		byResource[name] = k
	}
}

// All returns every static kind, sorted by resource name, then group. The slice must
// not be modified. Dynamic kinds are listed by Dynamic.
func All() []*Kind { return registered() }

// dynamicSet is an immutable snapshot of the dynamic kinds.
type dynamicSet struct {
	owners     map[string][]*Kind // by owner (a CustomResourceDefinition's name)
	all        []*Kind            // sorted by group, resource, version
	byResource map[string]*Kind   // resource, singular and short names, resource.group
	byGVK      map[string]*Kind
	byURL      map[string]*Kind
	types      map[protoreflect.FullName]bool // the message types of dynamic kinds
	generation uint64                         // counts the changes
}

var (
	dynMu sync.Mutex // serializes SetDynamic
	dyn   atomic.Pointer[dynamicSet]
)

func currentDynamic() *dynamicSet {
	if d := dyn.Load(); d != nil {
		return d
	}
	return &dynamicSet{}
}

// Dynamic returns the dynamic kinds, sorted by group, resource and
// version. The slice must not be modified.
func Dynamic() []*Kind { return currentDynamic().all }

// DynamicGeneration counts the changes of the dynamic kinds: what is
// derived from Dynamic is stale when it changed.
func DynamicGeneration() uint64 { return currentDynamic().generation }

// SetDynamic makes kinds the dynamic kinds of owner (a
// CustomResourceDefinition's name), replacing those it had; no kinds
// removes them. Every kind must be Dynamic. A kind whose apiVersion and
// kind, or whose resource in its group, a static kind or another owner's
// kind already has is refused, and nothing changes. For lookups by a bare
// resource, singular or short name, static kinds come first, then the
// storage versions of dynamic kinds.
func SetDynamic(owner string, kinds []*Kind) error {
	dynMu.Lock()
	defer dynMu.Unlock()
	old := currentDynamic()
	owners := make(map[string][]*Kind, len(old.owners)+1)
	for o, ks := range old.owners {
		if o != owner {
			owners[o] = ks
		}
	}
	if len(kinds) > 0 {
		owners[owner] = kinds
	}
	next := &dynamicSet{owners: owners, generation: old.generation + 1, byResource: map[string]*Kind{}, byGVK: map[string]*Kind{},
		byURL: map[string]*Kind{}, types: map[protoreflect.FullName]bool{}}
	for _, o := range sortedOwners(owners) {
		for _, k := range owners[o] {
			if !k.Dynamic {
				return fmt.Errorf("scheme: kind %s is not dynamic", k.Kind)
			}
			gvk := k.APIVersion() + "/" + k.Kind
			if _, taken := byGVK[gvk]; taken {
				return fmt.Errorf("kind %s of %s is served by the apiserver itself", k.Kind, k.APIVersion())
			}
			if _, taken := next.byGVK[gvk]; taken {
				return fmt.Errorf("kind %s of %s is already defined", k.Kind, k.APIVersion())
			}
			for _, s := range registered() {
				if s.Group == k.Group && s.Resource == k.Resource {
					return fmt.Errorf("resource %s is served by the apiserver itself", k.QualifiedResource())
				}
			}
			next.byGVK[gvk] = k
			next.byURL[k.TypeURL()] = k
			next.types[k.FullName()] = true
			next.all = append(next.all, k)
			if k.StorageKind() != k {
				continue // bare names find the storage version
			}
			if other, taken := next.byResource[k.QualifiedResource()]; taken && other.StorageKind() != k {
				return fmt.Errorf("resource %s is already defined", k.QualifiedResource())
			}
			next.byResource[k.QualifiedResource()] = k
			for _, name := range append([]string{k.Resource, strings.ToLower(k.Kind)}, k.ShortNames...) {
				if _, taken := next.byResource[name]; !taken {
					next.byResource[name] = k
				}
			}
		}
	}
	sort.Slice(next.all, func(i, j int) bool {
		a, b := next.all[i], next.all[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		return a.Version < b.Version
	})
	dyn.Store(next)
	return nil
}

func sortedOwners(m map[string][]*Kind) []string {
	out := make([]string, 0, len(m))
	for o := range m {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// registered returns the kinds, panicking when there are none: a program
// that looks kinds up without importing pkg/registry/all is broken, and
// says so at once rather than failing every lookup.
func registered() []*Kind {
	if len(all) == 0 {
		panic("scheme: no kinds registered; import _ \"keel.dev/keel/pkg/registry/all\"")
	}
	return all
}

// ByResource finds a kind by resource name, singular kind name or short name,
// case-insensitively ("pods", "pod", "po", "Pod"). A bare name two groups
// share is the core group's.
// A name may be qualified by its group ("deployments.apps",
// "crontabs.stable.example.com"): the group's kind of that resource.
func ByResource(name string) (*Kind, bool) {
	registered()
	name = strings.ToLower(name)
	if k, ok := byResource[name]; ok {
		return k, true
	}
	if k, ok := currentDynamic().byResource[name]; ok {
		return k, true
	}
	if res, group, ok := strings.Cut(name, "."); ok {
		for _, k := range all {
			if k.Resource == res && k.Group == group {
				return k, true
			}
		}
	}
	return nil, false
}

// ByGVK finds a kind by manifest apiVersion and kind.
func ByGVK(apiVersion, kind string) (*Kind, bool) {
	registered()
	if k, ok := byGVK[apiVersion+"/"+kind]; ok {
		return k, true
	}
	k, ok := currentDynamic().byGVK[apiVersion+"/"+kind]
	return k, ok
}

// ByMessage finds the kind of a message.
func ByMessage(m proto.Message) (*Kind, bool) {
	registered()
	r := m.ProtoReflect()
	name := r.Descriptor().FullName()
	if k, ok := byName[name]; ok {
		return k, true
	}
	d := currentDynamic()
	if !d.types[name] {
		return nil, false
	}
	fs := r.Descriptor().Fields()
	k, ok := d.byGVK[r.Get(fs.ByName("api_version")).String()+"/"+r.Get(fs.ByName("kind")).String()]
	return k, ok
}

// ByTypeURL finds the kind named by a google.protobuf.Any type URL.
func ByTypeURL(url string) (*Kind, bool) {
	registered()
	if strings.HasPrefix(url, dynamicURLPrefix) {
		k, ok := currentDynamic().byURL[url]
		return k, ok
	}
	name := url
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		name = url[i+1:]
	}
	k, ok := byName[protoreflect.FullName(name)]
	return k, ok
}

// Unpack decodes an Any into a new message of its kind. Fields the schema
// does not know are kept (proto.Unmarshal's default), so that a client
// passes on what a newer server sent.
func Unpack(a *anypb.Any) (proto.Message, *Kind, error) {
	return unpack(a, proto.UnmarshalOptions{})
}

// UnpackKnown decodes an Any like Unpack but drops the fields the schema does
// not know, at every level of nesting: what a server decodes from a client,
// so that nothing unknown is stored or served back.
func UnpackKnown(a *anypb.Any) (proto.Message, *Kind, error) {
	return unpack(a, proto.UnmarshalOptions{DiscardUnknown: true})
}

func unpack(a *anypb.Any, opts proto.UnmarshalOptions) (proto.Message, *Kind, error) {
	if a == nil {
		return nil, nil, fmt.Errorf("no object")
	}
	k, ok := ByTypeURL(a.GetTypeUrl())
	if !ok {
		return nil, nil, fmt.Errorf("unknown object type %q", a.GetTypeUrl())
	}
	m := k.New()
	if err := opts.Unmarshal(a.GetValue(), m); err != nil {
		return nil, nil, fmt.Errorf("decoding %s: %w", k.Kind, err)
	}
	return m, k, nil
}

// Pack encodes a registered message into an Any.
func Pack(m proto.Message) (*anypb.Any, error) {
	k, ok := ByMessage(m)
	if !ok {
		return nil, fmt.Errorf("scheme: %s is not a registered kind", m.ProtoReflect().Descriptor().FullName())
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	return &anypb.Any{TypeUrl: k.TypeURL(), Value: b}, nil
}
