package apiserver_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/scheme"
)

// TestStorageBadInput (issue 15): a volume with an unknown or the
// unsupported Recycle reclaim policy, a claim with no size, and a class
// with no provisioner are refused with their field paths and nothing is
// stored; a claim's spec may not change but for a larger size, nor a
// class's provisioner.
func TestStorageBadInput(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	for _, tc := range []struct {
		name   string
		obj    proto.Message
		fields []string
	}{
		{"pv unknown reclaim policy", fromYAML[*corev1.PersistentVolume](t, `
metadata: {name: pv-bad}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce, ReadWriteAlways]
  persistentVolumeReclaimPolicy: Keep
  hostPath: {path: /mnt/data}
`), []string{"spec.persistentVolumeReclaimPolicy", "spec.accessModes[1]"}},
		{"pv recycle, no capacity, two sources", fromYAML[*corev1.PersistentVolume](t, `
metadata: {name: pv-recycle}
spec:
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Recycle
  hostPath: {path: /mnt/data}
  local: {path: /mnt/disk}
`), []string{"spec.persistentVolumeReclaimPolicy", "spec.capacity", "spec.local", "spec.nodeAffinity"}},
		{"pvc no size", fromYAML[*corev1.PersistentVolumeClaim](t, `
metadata: {name: claim, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
`), []string{"spec.resources.requests[storage]"}},
		{"pvc zero size, no access modes", fromYAML[*corev1.PersistentVolumeClaim](t, `
metadata: {name: claim0, namespace: default}
spec:
  resources: {requests: {storage: "0"}}
`), []string{"spec.resources.requests[storage]", "spec.accessModes"}},
		{"sc no provisioner", fromYAML[*storagev1.StorageClass](t, `
metadata: {name: fast}
reclaimPolicy: Recycle
volumeBindingMode: Later
`), []string{"provisioner", "reclaimPolicy", "volumeBindingMode"}},
		{"csinode duplicate driver", fromYAML[*storagev1.CSINode](t, `
metadata: {name: worker-1}
spec:
  drivers:
  - {name: a.example.com, nodeID: n1}
  - {name: a.example.com, nodeID: n1}
`), []string{"spec.drivers[1].name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, c.srv)
			writesNothing(c, "invalid "+tc.name, func() {
				_, err := create(c, tc.obj)
				wantCode(t, err, codes.InvalidArgument)
				got := fieldsOf(t, err)
				for _, f := range tc.fields {
					if !contains(got, f) {
						t.Fatalf("error details %v lack %s\n(%v)", got, f, err)
					}
				}
			})
			m := scheme.Meta(tc.obj)
			_, err := c.api.Get(c.ctx, &apiv1.GetRequest{Resource: resourceOf(tc.obj), Namespace: m.Namespace, Name: m.Name})
			if !apierrors.IsNotFound(err) {
				t.Fatalf("get after refused create: %v", err)
			}
		})
	}

	// A claim's spec is fixed but for a larger size and a volume name set
	// once; defaults are applied.
	pvc := mustCreate(c, fromYAML[*corev1.PersistentVolumeClaim](t, `
metadata: {name: data, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`))
	if pvc.GetSpec().GetVolumeMode() != "Filesystem" || pvc.GetStatus().GetPhase() != "Pending" {
		t.Fatalf("claim defaults: volumeMode %q phase %q", pvc.GetSpec().GetVolumeMode(), pvc.GetStatus().GetPhase())
	}
	for _, tc := range []struct {
		name  string
		edit  func(*corev1.PersistentVolumeClaim)
		field string
	}{
		{"shrink", func(p *corev1.PersistentVolumeClaim) {
			p.Spec.Resources.Requests["storage"] = &metav1.Quantity{String_: "500Mi"}
		}, "spec.resources.requests[storage]"},
		{"access modes", func(p *corev1.PersistentVolumeClaim) { p.Spec.AccessModes = []string{"ReadWriteMany"} }, "spec"},
	} {
		bad := proto.Clone(pvc).(*corev1.PersistentVolumeClaim)
		tc.edit(bad)
		writesNothing(c, "claim "+tc.name, func() {
			_, err := update(c, bad)
			wantCode(t, err, codes.InvalidArgument)
			if f := fieldsOf(t, err); !contains(f, tc.field) {
				t.Fatalf("%s: fields %v, want %s (%v)", tc.name, f, tc.field, err)
			}
		})
	}
	grown := proto.Clone(pvc).(*corev1.PersistentVolumeClaim)
	grown.Spec.Resources.Requests["storage"] = &metav1.Quantity{String_: "2Gi"}
	grown.Spec.VolumeName = "pv-1"
	grown = mustUpdate(c, grown)
	renamed := proto.Clone(grown).(*corev1.PersistentVolumeClaim)
	renamed.Spec.VolumeName = "pv-2"
	if _, err := update(c, renamed); !apierrors.IsInvalid(err) {
		t.Fatalf("a second volumeName: %v, want Invalid", err)
	}

	// A class's provisioner and parameters are fixed; defaults applied.
	sc := mustCreate(c, fromYAML[*storagev1.StorageClass](t, `
metadata: {name: standard}
provisioner: keel.dev/local-path
parameters: {root: /var/lib/keel/storage}
`))
	if sc.GetReclaimPolicy() != "Delete" || sc.GetVolumeBindingMode() != "Immediate" {
		t.Fatalf("class defaults: reclaimPolicy %q volumeBindingMode %q", sc.GetReclaimPolicy(), sc.GetVolumeBindingMode())
	}
	bad := proto.Clone(sc).(*storagev1.StorageClass)
	bad.Provisioner = "other.example.com"
	bad.Parameters = nil
	writesNothing(c, "class update", func() {
		_, err := update(c, bad)
		if f := fieldsOf(t, err); !contains(f, "provisioner") || !contains(f, "parameters") {
			t.Fatalf("fields %v (%v)", f, err)
		}
	})
}

// TestStorageAdmission: through the apiserver's chain, a claim without a
// class gets the default class and its protection finalizer, so deleting
// it only marks it; a volume gets its own finalizer.
func TestStorageAdmission(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	// The apiserver made the default class local-path at start.
	pvc := mustCreate(c, fromYAML[*corev1.PersistentVolumeClaim](t, `
metadata: {name: data, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`))
	if pvc.GetSpec().GetStorageClassName() != "local-path" {
		t.Errorf("storageClassName %q, want the default local-path", pvc.GetSpec().GetStorageClassName())
	}
	if f := pvc.GetMetadata().GetFinalizers(); len(f) != 1 || f[0] != "kubernetes.io/pvc-protection" {
		t.Errorf("claim finalizers %v", f)
	}
	resp := mustDelete(c, &apiv1.DeleteRequest{Resource: "persistentvolumeclaims", Namespace: "default", Name: "data"})
	if resp.Deleted {
		t.Fatal("a protected claim was deleted at once")
	}
	if got := mustGet[*corev1.PersistentVolumeClaim](c, "default", "data"); got.GetMetadata().GetDeletionTimestamp() == nil {
		t.Error("the kept claim is not marked for deletion")
	}
	pv := mustCreate(c, fromYAML[*corev1.PersistentVolume](t, `
metadata: {name: pv-1}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /mnt/data}
`))
	if f := pv.GetMetadata().GetFinalizers(); len(f) != 1 || f[0] != "kubernetes.io/pv-protection" {
		t.Errorf("volume finalizers %v", f)
	}
	if pv.GetSpec().GetPersistentVolumeReclaimPolicy() != "Retain" || pv.GetSpec().GetVolumeMode() != "Filesystem" {
		t.Errorf("volume defaults: %q %q", pv.GetSpec().GetPersistentVolumeReclaimPolicy(), pv.GetSpec().GetVolumeMode())
	}

	// Claims count toward a quota by number, by storage and by class.
	mustCreate(c, fromYAML[*corev1.ResourceQuota](t, `
metadata: {name: storage, namespace: default}
spec:
  hard: {requests.storage: 2Gi, local-path.storageclass.storage.k8s.io/persistentvolumeclaims: "2"}
`))
	mustCreate(c, fromYAML[*corev1.PersistentVolumeClaim](t, `
metadata: {name: small, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 500Mi}}
`))
	_, err := create(c, fromYAML[*corev1.PersistentVolumeClaim](t, `
metadata: {name: big, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`))
	if err == nil || !strings.Contains(err.Error(), "exceeded quota: storage") || !strings.Contains(err.Error(), "local-path.storageclass.storage.k8s.io/persistentvolumeclaims=1") {
		t.Fatalf("a third claim of the class: %v, want exceeded quota", err)
	}
}
