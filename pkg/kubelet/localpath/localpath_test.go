package localpath

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

const root = "/var/lib/keel/storage"

func volume(opts ...func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
	v := &corev1.PersistentVolume{
		Metadata: &metav1.ObjectMeta{Name: "pvc-u1", DeletionTimestamp: timestamppb.New(time.Unix(1, 0)),
			Finalizers:  []string{api.LocalPathCleanupFinalizer},
			Annotations: map[string]string{api.AnnProvisionedBy: api.LocalPathProvisioner, api.AnnLocalPathRoot: root}},
		Spec: &corev1.PersistentVolumeSpec{Local: &corev1.LocalVolumeSource{Path: api.LocalPathDir(root, "u1", "default", "data")},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []*corev1.NodeSelectorTerm{{
				MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: api.LabelHostname, Operator: "In", Values: []string{"n1"}}}}}}}},
	}
	for _, o := range opts {
		o(v)
	}
	return v
}

func TestCleanup(t *testing.T) {
	for _, tc := range []struct {
		name    string
		vol     *corev1.PersistentVolume
		node    string
		want    string
		wantErr string
	}{
		{name: "deleted volume of this node", vol: volume(), node: "n1", want: root + "/pvc-u1_default_data"},
		{name: "a hostPath source", vol: volume(func(v *corev1.PersistentVolume) {
			v.Spec.Local = nil
			v.Spec.HostPath = &corev1.HostPathVolumeSource{Path: root + "/pvc-u1_default_data"}
		}), node: "n1", want: root + "/pvc-u1_default_data"},
		{name: "another node's", vol: volume(), node: "n2"},
		{name: "not being deleted", vol: volume(func(v *corev1.PersistentVolume) { v.Metadata.DeletionTimestamp = nil }), node: "n1"},
		{name: "finalizer gone", vol: volume(func(v *corev1.PersistentVolume) { v.Metadata.Finalizers = nil }), node: "n1"},
		{name: "another provisioner's", vol: volume(func(v *corev1.PersistentVolume) { v.Metadata.Annotations[api.AnnProvisionedBy] = "x" }), node: "n1"},
		{name: "a path outside the root", vol: volume(func(v *corev1.PersistentVolume) { v.Spec.Local.Path = "/etc" }), node: "n1",
			wantErr: `refusing to remove "/etc"`},
		{name: "a path escaping the root", vol: volume(func(v *corev1.PersistentVolume) { v.Spec.Local.Path = root + "/pvc-u1/../../../etc" }), node: "n1",
			wantErr: "refusing to remove"},
		{name: "a root of /", vol: volume(func(v *corev1.PersistentVolume) {
			v.Metadata.Annotations[api.AnnLocalPathRoot] = "/"
			v.Spec.Local.Path = "/pvc-x"
		}), node: "n1", wantErr: "refusing to remove"},
		{name: "no root recorded", vol: volume(func(v *corev1.PersistentVolume) { delete(v.Metadata.Annotations, api.AnnLocalPathRoot) }), node: "n1",
			wantErr: "refusing to remove"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := Cleanup(tc.vol, tc.node)
			if dir != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Cleanup = %q, %v; want %q, error %q", dir, err, tc.want, tc.wantErr)
			}
		})
	}
}
