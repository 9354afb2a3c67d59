package localpath

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
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

// updates counts the updates a Cleaner writes.
type updates []*corev1.PersistentVolume

func (u *updates) Update(_ context.Context, vol *corev1.PersistentVolume, _ client.UpdateOptions) (*corev1.PersistentVolume, error) {
	*u = append(*u, vol)
	return vol, nil
}

// TestSyncRemovesTheFinalizerOnce: a cache that still shows the finalizer
// after the cleaner removed it (the update, or the deletion, has not
// reached it) does not make the cleaner write again: the volume may be
// gone, and the node may no longer touch it. A volume of the same name
// but a new UID is cleaned up again.
func TestSyncRemovesTheFinalizerOnce(t *testing.T) {
	var written updates
	var removed []string
	cache := map[string]*corev1.PersistentVolume{}
	c := &Cleaner{node: "n1", writer: &written, finalized: map[string]string{}, log: zap.NewNop(),
		cached: func(name string) (*corev1.PersistentVolume, bool) { v, ok := cache[name]; return v, ok },
		remove: func(dir string) error { removed = append(removed, dir); return nil }}
	withUID := func(uid string) func(*corev1.PersistentVolume) {
		return func(v *corev1.PersistentVolume) { v.Metadata.Uid = uid }
	}
	ctx := context.Background()
	sync := func() {
		t.Helper()
		if err := c.sync(ctx, "pvc-u1"); err != nil {
			t.Fatal(err)
		}
	}

	cache["pvc-u1"] = volume(withUID("a"))
	sync()
	sync() // the cache has not caught up
	if len(written) != 1 || len(removed) != 1 {
		t.Fatalf("after two syncs of a stale cache: %d updates, %d removals, want 1 and 1", len(written), len(removed))
	}
	if f := written[0].GetMetadata().GetFinalizers(); len(f) != 0 {
		t.Errorf("the update's finalizers: %v, want none", f)
	}

	delete(cache, "pvc-u1") // the deletion reaches the cache
	sync()
	if len(c.finalized) != 0 {
		t.Errorf("finalized after the deletion: %v, want it forgotten", c.finalized)
	}
	cache["pvc-u1"] = volume(withUID("b"))
	sync()
	if len(written) != 2 {
		t.Errorf("a new volume of the same name: %d updates in all, want 2", len(written))
	}
}
