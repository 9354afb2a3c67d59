package admission_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/apiserver/admission"
)

func class(name string, created int64, isDefault string) *storagev1.StorageClass {
	m := &metav1.ObjectMeta{Name: name, CreationTimestamp: timestamppb.New(time.Unix(created, 0))}
	if isDefault != "" {
		m.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": isDefault}
	}
	return &storagev1.StorageClass{Metadata: m, Provisioner: "keel.dev/local-path"}
}

// TestDefaultStorageClass: a claim without a class gets the default one
// (the newest of several, as Kubernetes); a class set, even "", is kept;
// no default, no class; only creates are changed.
func TestDefaultStorageClass(t *testing.T) {
	for _, c := range []struct {
		name    string
		classes []*storagev1.StorageClass
		set     *string
		op      admission.Operation
		want    *string
	}{
		{"one default", []*storagev1.StorageClass{class("slow", 1, ""), class("local-path", 2, "true")}, nil, admission.Create, proto.String("local-path")},
		{"newest default", []*storagev1.StorageClass{class("old", 1, "true"), class("new", 5, "true"), class("newer-not", 9, "false")}, nil, admission.Create, proto.String("new")},
		{"same instant: first by name", []*storagev1.StorageClass{class("b", 5, "true"), class("a", 5, "true")}, nil, admission.Create, proto.String("a")},
		{"no default", []*storagev1.StorageClass{class("slow", 1, "")}, nil, admission.Create, nil},
		{"class named", []*storagev1.StorageClass{class("local-path", 2, "true")}, proto.String("fast"), admission.Create, proto.String("fast")},
		{"empty class kept", []*storagev1.StorageClass{class("local-path", 2, "true")}, proto.String(""), admission.Create, proto.String("")},
		{"update untouched", []*storagev1.StorageClass{class("local-path", 2, "true")}, nil, admission.Update, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			cluster := objects{}
			for _, sc := range c.classes {
				cluster["storageclasses//"+sc.Metadata.Name] = sc
			}
			pvc := &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: "data", Namespace: "team"},
				Spec: &corev1.PersistentVolumeClaimSpec{StorageClassName: c.set}}
			a := &admission.Attributes{Operation: c.op, Kind: kind(t, "pvc"), Namespace: "team", Name: "data", Object: pvc}
			if err := (admission.DefaultStorageClass{}).Admit(context.Background(), a, cluster); err != nil {
				t.Fatal(err)
			}
			if got := pvc.GetSpec().StorageClassName; (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
				t.Errorf("storageClassName %v, want %v", got, c.want)
			}
		})
	}
}

// TestStorageObjectInUseProtection: new claims and volumes get their
// protection finalizer once, beside their own; updates are untouched.
func TestStorageObjectInUseProtection(t *testing.T) {
	pvc := &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: "data", Finalizers: []string{"example.com/keep"}}}
	pv := &corev1.PersistentVolume{}
	for _, obj := range []proto.Message{pvc, pv} {
		for range 2 {
			k := kind(t, map[bool]string{true: "pvc", false: "pv"}[obj == proto.Message(pvc)])
			if err := (admission.StorageObjectInUseProtection{}).Admit(context.Background(), &admission.Attributes{Operation: admission.Create, Kind: k, Object: obj}, objects{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := pvc.GetMetadata().GetFinalizers(); !slices.Equal(got, []string{"example.com/keep", "kubernetes.io/pvc-protection"}) {
		t.Errorf("claim finalizers %v", got)
	}
	if got := pv.GetMetadata().GetFinalizers(); !slices.Equal(got, []string{"kubernetes.io/pv-protection"}) {
		t.Errorf("volume finalizers %v", got)
	}
	old := &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: "data"}}
	upd := proto.Clone(old).(*corev1.PersistentVolumeClaim)
	if err := (admission.StorageObjectInUseProtection{}).Admit(context.Background(), &admission.Attributes{Operation: admission.Update, Kind: kind(t, "pvc"), Object: upd, OldObject: old}, objects{}); err != nil {
		t.Fatal(err)
	}
	if len(upd.GetMetadata().GetFinalizers()) != 0 {
		t.Errorf("an update gained finalizers %v", upd.GetMetadata().GetFinalizers())
	}
}
