package localpath_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/kubelet/localpath"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// localVolume is a local-path volume of the claim default/name (uid uid)
// pinned to node, under root.
func localVolume(root, uid, node string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		Metadata: &metav1.ObjectMeta{Name: "pvc-" + uid, Labels: map[string]string{api.LabelLocalPathNode: node},
			Annotations: map[string]string{api.AnnProvisionedBy: api.LocalPathProvisioner, api.AnnLocalPathRoot: root},
			Finalizers:  []string{api.LocalPathCleanupFinalizer}},
		Spec: &corev1.PersistentVolumeSpec{Capacity: map[string]*metav1.Quantity{"storage": {String_: "1Gi"}}, AccessModes: []string{api.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: api.PersistentVolumeReclaimDelete, StorageClassName: api.LocalPathClass,
			Local: &corev1.LocalVolumeSource{Path: api.LocalPathDir(root, uid, "default", "data-"+uid)},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []*corev1.NodeSelectorTerm{{
				MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: api.LabelHostname, Operator: "In", Values: []string{node}}}}}}}},
	}
}

// TestCleanerRemovesItsNodesDirectories runs the cleaner as the kubelet of
// n1 (Node,RBAC) against a real apiserver: deleting n1's volume removes
// its directory, then the cleanup finalizer; n2's volume and directory
// are not touched. The only requests refused are the test's own two at
// the end.
func TestCleanerRemovesItsNodesDirectories(t *testing.T) {
	s := testserver.StartSecure(t, []string{"n1", "n2"}, nil)
	admin := s.Client(pki.AdminName)
	kubelet := s.Client(pki.KubeletClientName("n1"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	root := t.TempDir()
	pvs := client.For[*corev1.PersistentVolume](admin, "")
	var dirs []string
	for _, v := range []*corev1.PersistentVolume{localVolume(root, "u1", "n1"), localVolume(root, "u2", "n2")} {
		if _, err := pvs.Create(ctx, v, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		dir := v.GetSpec().GetLocal().GetPath()
		if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o777); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, dir)
	}

	f := informer.NewFactory(kubelet, 0)
	c := localpath.New(f, client.For[*corev1.PersistentVolume](kubelet, ""), "n1", nil)
	f.Start(ctx)
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; f.Shutdown() })

	for _, name := range []string{"pvc-u1", "pvc-u2"} {
		if _, _, err := pvs.Delete(ctx, name, client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The volume keeps the pv-protection finalizer (no controller here):
	// the kubelet's part is its own finalizer.
	testutil.Eventually(t, 30*time.Second, "n1's cleanup finalizer removed", func() error {
		v, err := pvs.Get(ctx, "pvc-u1")
		if err != nil {
			return err
		}
		if slices.Contains(v.GetMetadata().GetFinalizers(), api.LocalPathCleanupFinalizer) {
			return fmt.Errorf("finalizers %v", v.GetMetadata().GetFinalizers())
		}
		return nil
	})
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Errorf("n1's directory: %v, want it removed", err)
	}
	if _, err := os.Stat(dirs[1]); err != nil {
		t.Errorf("n2's directory: %v, want it kept", err)
	}
	if v, err := pvs.Get(ctx, "pvc-u2"); err != nil || v.GetMetadata().GetDeletionTimestamp() == nil {
		t.Errorf("n2's volume: %v (%v), want it kept, being deleted", v.GetMetadata(), err)
	}

	// n1 may not read n2's volume, nor change anything but the finalizer
	// of its own.
	if _, err := client.For[*corev1.PersistentVolume](kubelet, "").Get(ctx, "pvc-u2"); !apierrors.IsForbidden(err) {
		t.Errorf("n1 reading n2's volume: %v, want Forbidden", err)
	}
	mine := localVolume(root, "u3", "n1")
	if _, err := pvs.Create(ctx, mine, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "n1 reads its new volume", func() error {
		got, err := client.For[*corev1.PersistentVolume](kubelet, "").Get(ctx, "pvc-u3")
		if err != nil {
			return err
		}
		mine = got
		return nil
	})
	mine.Spec.PersistentVolumeReclaimPolicy = api.PersistentVolumeReclaimRetain
	if _, err := client.For[*corev1.PersistentVolume](kubelet, "").Update(ctx, mine, client.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("n1 changing its volume's reclaim policy: %v, want Forbidden", err)
	}
	// Authorization refused only the read; NodeRestriction the update.
	if f := s.Forbidden(); len(f) != 1 {
		t.Errorf("refused requests: %q, want the test's own read", f)
	}
}
