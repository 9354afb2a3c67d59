// Package admission is the apiserver's admission chain: an ordered list of
// mutating plugins, then of validating plugins, each in its own file, run
// on every create, update and delete after authorization (Kubernetes'
// admission controllers, with their names).
//
// Mutating plugins run after defaulting and before validation and may
// change the object; validating plugins run after validation and only
// accept or refuse. A plugin reads other objects only through Objects.
// Plugins are stateless: safe for concurrent use.
package admission

import (
	"context"
	"slices"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/scheme"
)

// Operation is what a request does to an object.
type Operation string

// Operations, with Kubernetes' names.
const (
	Create Operation = "CREATE"
	Update Operation = "UPDATE"
	Delete Operation = "DELETE"
)

// Attributes describe one request to admit.
type Attributes struct {
	Operation Operation
	Kind      *scheme.Kind
	// Subresource is "status" for a status update, the subresource's
	// name for an update through another ("approval"), else "".
	Subresource string
	Namespace   string
	Name        string
	// Object is the object being written (Create, Update): mutating
	// plugins may change it. OldObject is the stored one (Update, Delete).
	Object, OldObject proto.Message
	// DryRun: the request is validated but not stored; a plugin must
	// not write on its behalf.
	DryRun bool
}

// Objects reads the objects admission decides from: a consistent view that
// includes this apiserver's own writes (the caches, falling back to etcd
// for what they do not hold yet).
type Objects interface {
	// Get returns the named object of resource, or an apierrors NotFound.
	Get(ctx context.Context, resource, namespace, name string) (proto.Message, error)
	// List returns every object of resource (all namespaces).
	List(ctx context.Context, resource string) ([]proto.Message, error)
}

// Mutator is a mutating admission plugin.
type Mutator interface {
	Name() string
	// Admit may change a.Object; an error refuses the request.
	Admit(ctx context.Context, a *Attributes, o Objects) error
}

// Validator is a validating admission plugin.
type Validator interface {
	Name() string
	// Validate refuses the request with an error; it changes nothing.
	Validate(ctx context.Context, a *Attributes, o Objects) error
}

// Chain is the ordered admission plugins.
type Chain struct {
	Mutating   []Mutator
	Validating []Validator
}

// Default is the chain the apiserver runs: NamespaceLifecycle,
// LimitRanger, ServiceAccount, Priority, DefaultTolerationSeconds,
// DefaultStorageClass, StorageObjectInUseProtection, RuntimeClass and
// DefaultIngressClass (mutating), then NamespaceLifecycle, LimitRanger,
// NodeRestriction, RuntimeClass and CertificateSubjectRestriction
// (validating). NamespaceLifecycle checks creates first, as in Kubernetes,
// so that nothing is looked up in a namespace that is going, and deletes
// (which run no mutating plugin) among the validating ones. The apiserver
// appends the plugins that need its authorizer (RBACEscalation,
// CertificateApproval, CertificateSigning), then ResourceQuota, which
// writes quota status through it and so runs last.
// mountServiceAccountTokens tells ServiceAccount to mount a token volume
// in pods (the apiserver can issue tokens).
func Default(mountServiceAccountTokens bool) *Chain {
	return &Chain{
		Mutating: []Mutator{NamespaceLifecycle{}, LimitRanger{}, ServiceAccount{MountToken: mountServiceAccountTokens}, Priority{}, DefaultTolerationSeconds{},
			DefaultStorageClass{}, StorageObjectInUseProtection{}, RuntimeClass{}, DefaultIngressClass{}},
		Validating: []Validator{NamespaceLifecycle{}, LimitRanger{}, NodeRestriction{}, RuntimeClass{}, CertificateSubjectRestriction{}},
	}
}

// Admit runs the mutating plugins in order; the first error stops it.
func (c *Chain) Admit(ctx context.Context, a *Attributes, o Objects) error {
	for _, p := range c.Mutating {
		if err := p.Admit(ctx, a, o); err != nil {
			return err
		}
	}
	return nil
}

// Validate runs the validating plugins in order; the first error stops it.
func (c *Chain) Validate(ctx context.Context, a *Attributes, o Objects) error {
	for _, p := range c.Validating {
		if err := p.Validate(ctx, a, o); err != nil {
			return err
		}
	}
	return nil
}

// Names lists the plugins, mutating then validating, each once, for logs.
func (c *Chain) Names() []string {
	var out []string
	add := func(name string) {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	for _, p := range c.Mutating {
		add(p.Name())
	}
	for _, p := range c.Validating {
		add(p.Name())
	}
	return out
}
