// Package scheme is the catalogue of Keel's kinds: for each one its API
// group, version, kind, resource name, short names, scope and Go message
// type. The apiserver, the client, the manifest decoder and keelctl look
// kinds up here.
//
// Kinds are added by pkg/registry.Register, which each kind's strategy
// goes through (pkg/registry/all lists them); a binary that looks kinds up
// imports pkg/registry/all. The catalogue is filled at init and read-only
// afterwards: safe for concurrent use without locking.
package scheme

import (
	"fmt"
	"sort"
	"strings"

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
	// Message is a zero value of the kind's Go message type; use New for instances.
	Message proto.Message
}

// APIVersion is the manifest apiVersion: "v1" for the core group, else "group/version".
func (k *Kind) APIVersion() string {
	if k.Group == "" {
		return k.Version
	}
	return k.Group + "/" + k.Version
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

// New returns a new, empty message of the kind.
func (k *Kind) New() proto.Message { return k.Message.ProtoReflect().New().Interface() }

// FullName is the protobuf message name ("keel.apps.v1.Deployment").
func (k *Kind) FullName() protoreflect.FullName {
	return k.Message.ProtoReflect().Descriptor().FullName()
}

// TypeURL is the google.protobuf.Any type URL of the kind's messages.
func (k *Kind) TypeURL() string { return "type.googleapis.com/" + string(k.FullName()) }

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
	sort.Slice(all, func(i, j int) bool { return all[i].Resource < all[j].Resource })
	byName[k.FullName()] = k
	byGVK[k.APIVersion()+"/"+k.Kind] = k
	byResource[k.Resource] = k
	byResource[strings.ToLower(k.Kind)] = k
	for _, s := range k.ShortNames {
		byResource[s] = k
	}
}

// All returns every kind, sorted by resource name. The slice must not be modified.
func All() []*Kind { return registered() }

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
// case-insensitively ("pods", "pod", "po", "Pod").
func ByResource(name string) (*Kind, bool) {
	registered()
	k, ok := byResource[strings.ToLower(name)]
	return k, ok
}

// ByGVK finds a kind by manifest apiVersion and kind.
func ByGVK(apiVersion, kind string) (*Kind, bool) {
	registered()
	k, ok := byGVK[apiVersion+"/"+kind]
	return k, ok
}

// ByMessage finds the kind of a message.
func ByMessage(m proto.Message) (*Kind, bool) {
	registered()
	k, ok := byName[m.ProtoReflect().Descriptor().FullName()]
	return k, ok
}

// ByTypeURL finds the kind named by a google.protobuf.Any type URL.
func ByTypeURL(url string) (*Kind, bool) {
	registered()
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
