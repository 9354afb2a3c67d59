package admission

import (
	"context"
	"slices"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// StorageObjectInUseProtection puts the protection finalizer on every new
// claim (kubernetes.io/pvc-protection) and volume
// (kubernetes.io/pv-protection): deleting one then only marks it, and the
// protection controllers remove the finalizer once no pod uses the claim,
// or no claim is bound to the volume.
type StorageObjectInUseProtection struct{}

var _ Mutator = StorageObjectInUseProtection{}

// Name implements Mutator.
func (StorageObjectInUseProtection) Name() string { return "StorageObjectInUseProtection" }

// Admit implements Mutator.
func (StorageObjectInUseProtection) Admit(_ context.Context, a *Attributes, _ Objects) error {
	if a.Operation != Create {
		return nil
	}
	switch obj := a.Object.(type) {
	case *corev1.PersistentVolumeClaim:
		obj.Metadata = withFinalizer(obj.Metadata, api.PVCProtectionFinalizer)
	case *corev1.PersistentVolume:
		obj.Metadata = withFinalizer(obj.Metadata, api.PVProtectionFinalizer)
	}
	return nil
}

// withFinalizer returns m (made if nil) with f among its finalizers.
func withFinalizer(m *metav1.ObjectMeta, f string) *metav1.ObjectMeta {
	if m == nil {
		m = &metav1.ObjectMeta{}
	}
	if !slices.Contains(m.Finalizers, f) {
		m.Finalizers = append(m.Finalizers, f)
	}
	return m
}
