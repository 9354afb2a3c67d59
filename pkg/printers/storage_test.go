package printers_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
)

func TestStorageTables(t *testing.T) {
	created := ago(3*time.Minute + 20*time.Second)
	size := func(s string) map[string]*metav1.Quantity {
		return map[string]*metav1.Quantity{"storage": {String_: s}}
	}
	pv := &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: "pv-1", CreationTimestamp: created},
		Spec: &corev1.PersistentVolumeSpec{Capacity: size("10Gi"), AccessModes: []string{"ReadWriteMany", "ReadWriteOnce"},
			PersistentVolumeReclaimPolicy: "Retain", StorageClassName: "manual", VolumeMode: proto.String("Filesystem"),
			ClaimRef: &corev1.ObjectReference{Namespace: "default", Name: "data"}},
		Status: &corev1.PersistentVolumeStatus{Phase: "Bound"}}
	checkTable(t, render(t, kind(t, "pv"), printers.Options{Wide: true}, pv), `
NAME   CAPACITY   ACCESS MODES   RECLAIM POLICY   STATUS   CLAIM          STORAGECLASS   VOLUMEATTRIBUTESCLASS   REASON   AGE     VOLUMEMODE
pv-1   10Gi       RWO,RWX        Retain           Bound    default/data   manual         <unset>                          3m20s   Filesystem
`)
	pvc := &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: "data", Namespace: "default", CreationTimestamp: created},
		Spec:   &corev1.PersistentVolumeClaimSpec{VolumeName: "pv-1", StorageClassName: proto.String("manual")},
		Status: &corev1.PersistentVolumeClaimStatus{Phase: "Bound", Capacity: size("10Gi"), AccessModes: []string{"ReadWriteOncePod"}}}
	pending := &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: "www-web-0", Namespace: "default", CreationTimestamp: created,
		DeletionTimestamp: timestamppb.New(now)}, Status: &corev1.PersistentVolumeClaimStatus{Phase: "Pending"}}
	checkTable(t, render(t, kind(t, "pvc"), printers.Options{}, pvc, pending), `
NAME        STATUS        VOLUME   CAPACITY   ACCESS MODES   STORAGECLASS   VOLUMEATTRIBUTESCLASS   AGE
data        Bound         pv-1     10Gi       RWOP           manual         <unset>                 3m20s
www-web-0   Terminating                                                     <unset>                 3m20s
`)
	def := &storagev1.StorageClass{Metadata: &metav1.ObjectMeta{Name: "local-path", CreationTimestamp: created,
		Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner: "keel.dev/local-path", VolumeBindingMode: proto.String("WaitForFirstConsumer")}
	other := &storagev1.StorageClass{Metadata: &metav1.ObjectMeta{Name: "fast", CreationTimestamp: created},
		Provisioner: "csi.example.com", ReclaimPolicy: proto.String("Retain"), AllowVolumeExpansion: proto.Bool(true)}
	checkTable(t, render(t, kind(t, "sc"), printers.Options{}, def, other), `
NAME                   PROVISIONER           RECLAIMPOLICY   VOLUMEBINDINGMODE      ALLOWVOLUMEEXPANSION   AGE
local-path (default)   keel.dev/local-path   Delete          WaitForFirstConsumer   false                  3m20s
fast                   csi.example.com       Retain          Immediate              true                   3m20s
`)
}

// TestDescribeClaim: "Used By" lists the pods of the namespace whose
// volumes name the claim, and only those.
func TestDescribeClaim(t *testing.T) {
	pvc := &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: "data", Namespace: "default",
		Finalizers: []string{"kubernetes.io/pvc-protection"}},
		Spec:   &corev1.PersistentVolumeClaimSpec{VolumeName: "pv-1", StorageClassName: proto.String("manual"), VolumeMode: proto.String("Filesystem")},
		Status: &corev1.PersistentVolumeClaimStatus{Phase: "Bound", Capacity: map[string]*metav1.Quantity{"storage": {String_: "1Gi"}}, AccessModes: []string{"ReadWriteOnce"}}}
	using := func(name, claim string) *corev1.Pod {
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: &corev1.PodSpec{Volumes: []*corev1.Volume{
			{Name: "cache", EmptyDir: &corev1.EmptyDirVolumeSource{}},
			{Name: "v", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}}
	}
	got := printers.Describe(registry.DescribeInput{Object: pvc, Now: now, Location: time.UTC, Related: map[string][]proto.Message{
		printers.RelatedPods: {using("web-1", "data"), using("other", "logs"), using("web-0", "data")}}})
	checkDescribe(t, got,
		"Name:          data\n", "Namespace:     default\n", "StorageClass:  manual\n", "Status:        Bound\n",
		"Volume:        pv-1\n", "Finalizers:    [kubernetes.io/pvc-protection]\n", "Capacity:      1Gi\n",
		"Access Modes:  RWO\n", "VolumeMode:    Filesystem\n", "Used By:       web-0\n               web-1\n", "Events:        <none>\n")
	got = printers.Describe(registry.DescribeInput{Object: pvc, Now: now})
	checkDescribe(t, got, "Used By:       <none>\n")

	pv := &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: "pv-1"}, Spec: &corev1.PersistentVolumeSpec{
		Local: &corev1.LocalVolumeSource{Path: "/mnt/disk"}, PersistentVolumeReclaimPolicy: "Delete",
		NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []*corev1.NodeSelectorTerm{{
			MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: "In", Values: []string{"node-1"}}}}}}}}}
	checkDescribe(t, printers.Describe(registry.DescribeInput{Object: pv, Now: now}),
		"Reclaim Policy:  Delete\n", "Node Affinity:\n  Required Terms:\n    Term 0:  kubernetes.io/hostname in [node-1]\n",
		"Source:\n  Type:  LocalVolume (a persistent volume backed by local storage on a node)\n  Path:  /mnt/disk\n")
}
