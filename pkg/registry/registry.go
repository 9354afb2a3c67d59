// Package registry is the home of every kind's behaviour: one Strategy per
// kind, the way Kubernetes' registry/<group>/<kind>/strategy.go files work.
// A strategy holds everything the system needs to know about its kind —
// names and scope, defaulting, validation on create, update and status
// update, what the main resource and the status subresource may change,
// whether metadata.generation tracks the spec, field selectors, table
// columns, describe text, categories, deletion behaviour, and which
// components watch it — so that the apiserver, keelctl's printers, the
// client's informers and the garbage collector derive from the registry
// instead of switching over kinds.
//
// Each kind lives in its own package, pkg/registry/<group>/<kind>, which
// declares a *Kind[T] value; pkg/registry/all registers each in one line.
// The static registry is filled at init and read-only afterwards; dynamic
// kinds (those of CustomResourceDefinitions) come and go at run time
// through SetDynamic. Every function here is safe for concurrent use.
package registry

import (
	"context"
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/scheme"
)

// Strategy is what the rest of the system sees of a kind. It is implemented
// by *Kind[T]; callers pass messages of the kind's type (a message of
// another type is a programming error and panics).
type Strategy interface {
	// Info is the kind's identity: group, version, kind, resource, short
	// names, scope and message type.
	Info() *scheme.Kind

	// NameValidation is the rule metadata.name follows.
	NameValidation() apivalidation.ValidateNameFunc
	// HasStatus: the kind has a status subresource. The main resource
	// never changes status, and UpdateStatus changes nothing else.
	HasStatus() bool
	// StatusOnCreate: a create may set status (Nodes, posted by the kubelet
	// that registers them); otherwise status is cleared on create.
	StatusOnCreate() bool
	// TracksGeneration: metadata.generation starts at 1 and is bumped by
	// every spec change. Other kinds leave it 0.
	TracksGeneration() bool
	// Default sets Kubernetes' defaults on obj, in place; idempotent.
	Default(obj proto.Message)
	// PrepareForCreate sets, in place, the fields of a create the
	// apiserver owns and takes from the request's context rather than
	// from the client (a CertificateSigningRequest's requestor). Called
	// after Default, before admission and validation.
	PrepareForCreate(ctx context.Context, obj proto.Message)
	// PrepareForUpdate adjusts an update after defaulting, before
	// validation (e.g. a Service keeps the addresses it holds).
	PrepareForUpdate(obj, old proto.Message)
	// Validate checks the kind-specific part of an object (metadata is
	// checked by ValidateCreate).
	Validate(obj proto.Message) field.ErrorList
	// ValidateUpdate checks what may not change from old to obj, beyond
	// Validate.
	ValidateUpdate(obj, old proto.Message) field.ErrorList
	// ValidateStatus checks a status update (obj carries old's spec and a
	// new status).
	ValidateStatus(obj, old proto.Message) field.ErrorList
	// GracePeriod is how long a delete of obj waits (seconds) before the
	// object goes; requested is the caller's grace period, if any.
	GracePeriod(obj proto.Message, requested *int64) int64
	// PrepareForDelete marks obj (a copy, in place) as being deleted:
	// called when its deletionTimestamp is first set.
	PrepareForDelete(obj proto.Message)
	// HoldsDeletion: beyond metadata.finalizers, something in obj still
	// holds its pending deletion (a Namespace's spec.finalizers).
	HoldsDeletion(obj proto.Message) bool
	// SelectableFields are the field-selector labels the kind supports
	// beyond metadata.name and metadata.namespace.
	SelectableFields() []string

	// Columns are the kind's `get` table columns, in order.
	Columns() []Column
	// Row returns every cell of obj's row (wide ones included), in
	// Columns order.
	Row(obj proto.Message, now time.Time) []string
	// Related lists the objects `describe` shows beside obj.
	Related(obj proto.Message) []Query
	// Describe renders obj as `describe` does.
	Describe(in DescribeInput) string
	// Categories are the categories the kind belongs to ("all").
	Categories() []string
	// Scale is the kind's scale subresource, nil if it has none.
	Scale() *Scale
	// Expose is what a Service in front of obj selects and serves; nil if
	// objects of the kind cannot be exposed.
	Expose(obj proto.Message) *Exposure
	// Watched says which components keep an informer of the kind.
	Watched() Watchers
	// Subresource is the update subresource name the kind declares beyond
	// "status", or nil.
	Subresource(name string) *Subresource
	// TTL is how long an object of the kind is kept after its last write
	// under the apiserver's opts (Events: --event-ttl); 0 keeps it until
	// deleted.
	TTL(opts StorageOptions) time.Duration
}

// StorageOptions are the apiserver settings that a kind's storage depends
// on.
type StorageOptions struct {
	// EventTTL is how long Events are kept after their last write
	// (--event-ttl).
	EventTTL time.Duration
}

// Column is one column of a kind's table.
type Column struct {
	Name string
	// Wide: shown only with -o wide.
	Wide bool
}

// Query names related objects to fetch for a description: the objects of
// Resource in Namespace ("" for every namespace) matching the selectors,
// or the one object called Name.
type Query struct {
	// Key is how the description finds the result in DescribeInput.Related.
	Key           string
	Resource      string
	Namespace     string
	Name          string
	LabelSelector string
	FieldSelector string
}

// DescribeInput is an object to describe and what its description shows,
// fetched by the caller.
type DescribeInput struct {
	Object proto.Message
	// Events are the events about the object, in any order.
	Events []*corev1.Event
	// Related holds the result of each of the strategy's Related queries,
	// by Query.Key; a missing single object is absent.
	Related map[string][]proto.Message
	// Now is the time ages are computed against; Location the zone of
	// absolute times (time.Local if nil).
	Now      time.Time
	Location *time.Location
}

// Scale is a kind's scale subresource: where its replica count lives.
type Scale struct {
	// Replicas returns the replica count as stored (nil when unset).
	Replicas func(obj proto.Message) *int32
	// SetReplicas sets the replica count, in place.
	SetReplicas func(obj proto.Message, n int32)
	// Status, when set, is the Scale's status of obj: the observed replica
	// count and the label selector of the pods counted (a custom
	// resource's statusReplicasPath and labelSelectorPath). Nil: the
	// message's status.replicas and spec.selector.
	Status func(obj proto.Message) (replicas int32, selector string)
}

// Subresource is an update subresource of a kind beyond status: what an
// update through it may change (a CertificateSigningRequest's approval
// conditions). The apiserver authorizes it as "update" on
// "<resource>/<name>", prepares the stored object with Prepare, then runs
// ValidateUpdate and Validate.
type Subresource struct {
	// Prepare returns the object to store: stored (a copy) with what the
	// subresource may change taken from in.
	Prepare func(stored, in proto.Message) proto.Message
	// Validate checks obj (what Prepare returned) against old.
	Validate func(obj, old proto.Message) field.ErrorList
}

// Watchers says which components keep an informer or cache of a kind.
type Watchers struct {
	// GarbageCollected: the garbage collector watches the kind, as an owner
	// or dependent through ownerReferences.
	GarbageCollected bool
	// ReadByAPIServer: the apiserver reads objects of the kind while it
	// serves other requests (admission, authorization), so its watch
	// cache keeps them decoded.
	ReadByAPIServer bool
}

var (
	strategies []Strategy // sorted by resource
	registered []Strategy // in registration order
	byKind     = map[*scheme.Kind]Strategy{}
)

// Register adds a kind's strategy and its identity to the scheme. It is
// called from pkg/registry/all's init, once per kind; a second
// registration of the same kind, or a strategy that fails Check, panics.
func Register(s Strategy) {
	if err := Check(s); err != nil {
		panic("registry: " + err.Error())
	}
	k := s.Info()
	scheme.Register(k)
	byKind[k] = s
	registered = append(registered, s)
	strategies = append(strategies, s)
	sort.Slice(strategies, func(i, j int) bool {
		a, b := strategies[i].Info(), strategies[j].Info()
		if a.Resource != b.Resource {
			return a.Resource < b.Resource
		}
		return a.Group < b.Group
	})
}

// All returns every statically registered strategy, sorted by resource.
// The slice must not be modified. Dynamic kinds' strategies are listed by
// Dynamic.
func All() []Strategy { return strategies }

// Dynamic returns the strategies of the dynamic kinds (scheme.Dynamic's
// order): the kinds of CustomResourceDefinitions, added and removed at
// run time.
func Dynamic() []Strategy {
	ks := scheme.Dynamic()
	out := make([]Strategy, 0, len(ks))
	for _, k := range ks {
		out = append(out, k.Behaviour.(Strategy))
	}
	return out
}

// SetDynamic makes ss the dynamic kinds of owner (see scheme.SetDynamic),
// replacing those it had; no strategies remove them. Each strategy's Info
// must be a Dynamic kind, which it owns: its Behaviour is set to the
// strategy.
func SetDynamic(owner string, ss []Strategy) error {
	kinds := make([]*scheme.Kind, len(ss))
	for i, s := range ss {
		kinds[i] = s.Info()
		kinds[i].Behaviour = s
	}
	return scheme.SetDynamic(owner, kinds)
}

// For returns the strategy of a registered kind. It panics for a kind that
// was not registered: scheme kinds come only from Register and SetDynamic.
func For(k *scheme.Kind) Strategy {
	if k.Dynamic {
		return k.Behaviour.(Strategy)
	}
	s, ok := byKind[k]
	if !ok {
		panic(fmt.Sprintf("registry: kind %s has no strategy", k.Kind))
	}
	return s
}

// Of returns the strategy of a message's kind, false if the message is not
// of a registered kind.
func Of(m proto.Message) (Strategy, bool) {
	k, ok := scheme.ByMessage(m)
	if !ok {
		return nil, false
	}
	return For(k), true
}

// InCategory returns the strategies of the kinds in category, in the
// order they were registered (pkg/registry/all registers them in kubectl's
// order for "all": pods, services, deployments, replicasets, jobs…).
func InCategory(category string) []Strategy {
	var out []Strategy
	for _, s := range registered {
		for _, c := range s.Categories() {
			if c == category {
				out = append(out, s)
				break
			}
		}
	}
	return out
}
