package admission

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// admitVolume lets a node change one thing of a PersistentVolume: remove
// the finalizer api.LocalPathCleanupFinalizer from a local-path volume
// pinned to itself (api.VolumePinnedNode), once it has removed the
// volume's directory. Anything else a node writes to a volume is refused.
func admitVolume(self string, a *Attributes) error {
	deny := func(msg string) error {
		return apierrors.Forbidden("persistentvolumes", a.Name, fmt.Sprintf("node %q %s", self, msg))
	}
	if a.Operation != Update || a.Subresource != "" {
		return deny("can only remove the " + api.LocalPathCleanupFinalizer + " finalizer of a persistentvolume")
	}
	old, pv := a.OldObject.(*corev1.PersistentVolume), a.Object.(*corev1.PersistentVolume)
	if api.VolumePinnedNode(old) != self {
		return deny("can only change persistentvolumes pinned to itself")
	}
	want := proto.Clone(old).(*corev1.PersistentVolume)
	want.Metadata.Finalizers = slices.DeleteFunc(want.Metadata.Finalizers, func(f string) bool { return f == api.LocalPathCleanupFinalizer })
	got := proto.Clone(pv).(*corev1.PersistentVolume)
	got.Metadata.ResourceVersion = want.Metadata.GetResourceVersion()
	got.Status = want.GetStatus()
	if !proto.Equal(got, want) {
		return deny("can only remove the " + api.LocalPathCleanupFinalizer + " finalizer of a persistentvolume")
	}
	return nil
}
