package admission

import (
	"context"
	"fmt"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// NamespaceLifecycle refuses new objects in a namespace that does not
// exist or is being terminated (Admit), and the deletion of the namespaces every
// cluster needs (default, kube-system, kube-public, kube-node-lease).
type NamespaceLifecycle struct{}

// Immortal are the namespaces NamespaceLifecycle does not let anyone
// delete; the apiserver creates them at start.
var Immortal = []string{api.NamespaceDefault, api.NamespaceSystem, api.NamespacePublic, api.NamespaceNodeLease}

var (
	_ Validator = NamespaceLifecycle{}
	_ Mutator   = NamespaceLifecycle{}
)

// Name implements Validator.
func (NamespaceLifecycle) Name() string { return "NamespaceLifecycle" }

// Admit implements Mutator: it refuses a create in a namespace that does
// not exist or is going, and changes nothing. It runs first in the chain,
// as Kubernetes' plugin does.
func (NamespaceLifecycle) Admit(ctx context.Context, a *Attributes, o Objects) error {
	if a.Operation != Create || !a.Kind.Namespaced || a.Namespace == "" {
		return nil
	}
	m, err := o.Get(ctx, "namespaces", "", a.Namespace)
	if err != nil {
		return err
	}
	ns := m.(*corev1.Namespace)
	if ns.GetMetadata().GetDeletionTimestamp() != nil || ns.GetStatus().GetPhase() == api.NamespaceTerminating {
		return apierrors.Forbidden(a.Kind.QualifiedResource(), "", fmt.Sprintf("unable to create new content in namespace %s because it is being terminated", a.Namespace))
	}
	return nil
}

// Validate implements Validator: it refuses the deletion of an Immortal
// namespace.
func (NamespaceLifecycle) Validate(_ context.Context, a *Attributes, _ Objects) error {
	if a.Operation == Delete && a.Kind.Resource == "namespaces" {
		for _, n := range Immortal {
			if a.Name == n {
				return apierrors.Forbidden("namespaces", a.Name, "this namespace may not be deleted")
			}
		}
	}
	return nil
}
