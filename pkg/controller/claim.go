package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/scheme"
)

// Claim is which of a namespace's objects a controller object (a
// ReplicaSet of pods, a Deployment of ReplicaSets) controls, and the
// controller-reference changes that make it so.
type Claim[T scheme.Object] struct {
	// Owned are the objects it controls, in the order given, the ones of
	// Adopt included (the executor takes out those whose adoption fails).
	Owned []T
	// Adopt are orphans (no controller) that the selector matches; none
	// when the owner is being deleted.
	Adopt []T
	// Release are objects it controls that the selector no longer
	// matches, when the claim releases them: their controller reference
	// is to be removed.
	Release []T
}

// ClaimOptions say how DecideClaim treats the objects.
type ClaimOptions[T scheme.Object] struct {
	// Release: controlled objects the selector no longer matches are
	// released (a ReplicaSet's pods); otherwise they stay owned (a
	// Deployment's ReplicaSets).
	Release bool
	// Adoptable, when set, must also hold for an orphan to be adopted
	// (a ReplicaSet adopts only active pods). Orphans being deleted are
	// never adopted.
	Adoptable func(T) bool
}

// DecideClaim decides the claim of the object with metadata owner, whose
// parsed selector is sel, on objs. Objects controlled by another object
// are left alone.
func DecideClaim[T scheme.Object](owner *metav1.ObjectMeta, sel labels.Selector, objs []T, o ClaimOptions[T]) Claim[T] {
	var c Claim[T]
	for _, obj := range objs {
		m := obj.GetMetadata()
		ref := api.ControllerRef(m)
		matches := sel.Matches(labels.Set(m.GetLabels()))
		switch {
		case ref != nil && ref.GetUid() == owner.GetUid() && (matches || !o.Release):
			c.Owned = append(c.Owned, obj)
		case ref != nil && ref.GetUid() == owner.GetUid():
			c.Release = append(c.Release, obj)
		case ref == nil && matches && owner.GetDeletionTimestamp() == nil && m.GetDeletionTimestamp() == nil &&
			(o.Adoptable == nil || o.Adoptable(obj)):
			c.Adopt = append(c.Adopt, obj)
			c.Owned = append(c.Owned, obj)
		}
	}
	return c
}

// ApplyClaim performs claim with setOwner (release: remove the object's
// controller reference; otherwise make the claiming object its
// controller) and returns the owned objects without those whose adoption
// failed. A failed release is reported but the object stays out of the
// owned ones.
func ApplyClaim[T scheme.Object](ctx context.Context, claim Claim[T], setOwner func(ctx context.Context, obj T, release bool) error) ([]T, error) {
	var errs []error
	failed := map[string]bool{}
	for _, o := range claim.Release {
		errs = append(errs, setOwner(ctx, o, true))
	}
	for _, o := range claim.Adopt {
		if err := setOwner(ctx, o, false); err != nil {
			errs = append(errs, err)
			failed[o.GetMetadata().GetUid()] = true
		}
	}
	owned := slices.DeleteFunc(slices.Clone(claim.Owned), func(o T) bool { return failed[o.GetMetadata().GetUid()] })
	return owned, errors.Join(errs...)
}

// SetControllerRef writes obj (a cached object, not changed) with owner
// as its controller, or, with a nil owner, without a controller
// reference (a release); its other owner references stay. The write
// carries obj's resourceVersion, so an object changed meanwhile is left
// for the next sync (a conflict error); an object gone is not an error.
func SetControllerRef[T scheme.Object](ctx context.Context, c *client.Client, obj T, owner proto.Message) error {
	next := proto.Clone(obj).(T)
	m := scheme.Meta(next)
	m.OwnerReferences = slices.DeleteFunc(m.OwnerReferences, func(r *metav1.OwnerReference) bool { return r.GetController() })
	verb := "releasing"
	if owner != nil {
		m.OwnerReferences = append(m.OwnerReferences, NewControllerRef(owner))
		verb = "adopting"
	}
	_, err := client.For[T](c, m.GetNamespace()).Update(ctx, next, client.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("%s %s: %w", verb, m.GetName(), err)
	}
	return nil
}
