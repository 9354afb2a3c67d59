package admission

import (
	"context"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
)

// DefaultStorageClass gives a new claim that sets no spec.storageClassName
// the default StorageClass (api.DefaultStorageClass: the newest of those
// annotated storageclass.kubernetes.io/is-default-class="true"). A claim
// that sets one, even "" (no class: bind to a volume without one), keeps
// it; with no default class the claim is left without one.
type DefaultStorageClass struct{}

var _ Mutator = DefaultStorageClass{}

// Name implements Mutator.
func (DefaultStorageClass) Name() string { return "DefaultStorageClass" }

// Admit implements Mutator.
func (DefaultStorageClass) Admit(ctx context.Context, a *Attributes, o Objects) error {
	pvc, ok := a.Object.(*corev1.PersistentVolumeClaim)
	if a.Operation != Create || !ok || pvc.GetSpec() == nil || pvc.GetSpec().StorageClassName != nil {
		return nil
	}
	all, err := o.List(ctx, "storageclasses")
	if err != nil {
		return err
	}
	classes := make([]*storagev1.StorageClass, 0, len(all))
	for _, m := range all {
		classes = append(classes, m.(*storagev1.StorageClass))
	}
	if def := api.DefaultStorageClass(classes); def != nil {
		name := def.GetMetadata().GetName()
		pvc.Spec.StorageClassName = &name
	}
	return nil
}
