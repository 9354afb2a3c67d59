package localpath_test

import (
	"context"
	"testing"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/controller/volume/localpath"
)

func TestNewRefusesRoot(t *testing.T) {
	for _, root := range []string{"/", "relative", ""} {
		if _, err := localpath.New(root, nil); err == nil {
			t.Errorf("New(%q) accepted", root)
		}
		if _, err := localpath.New("/srv/vols", map[string]string{"n1": root}); err == nil {
			t.Errorf("New with node root %q accepted", root)
		}
	}
	if _, err := localpath.New("/srv/vols", map[string]string{"": "/srv/other"}); err == nil {
		t.Error("New accepted a root for an empty node name")
	}
}

// TestProvisionNodeRoots: a node with a root of its own gets its volumes
// there, recorded on the volume; the others get the common root.
func TestProvisionNodeRoots(t *testing.T) {
	p, err := localpath.New("/srv/vols", map[string]string{"n2": "/disks/n2/"})
	if err != nil {
		t.Fatal(err)
	}
	claim := &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: "data", Namespace: "team", Uid: "u1"},
		Spec: &corev1.PersistentVolumeClaimSpec{Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"storage": {String_: "1Gi"}}}}}
	for node, root := range map[string]string{"n1": "/srv/vols", "n2": "/disks/n2"} {
		v, err := p.Provision(context.Background(), claim, api.LocalPathStorageClass(), &corev1.Node{Metadata: &metav1.ObjectMeta{Name: node}})
		if err != nil {
			t.Fatal(err)
		}
		if got := v.GetSpec().GetLocal().GetPath(); got != root+"/pvc-u1_team_data" {
			t.Errorf("node %s: path %s, want under %s", node, got, root)
		}
		if got := v.GetMetadata().GetAnnotations()[api.AnnLocalPathRoot]; got != root {
			t.Errorf("node %s: recorded root %s, want %s", node, got, root)
		}
		if got := api.VolumePinnedNode(v); got != node {
			t.Errorf("pinned to %q, want %s", got, node)
		}
	}
}

// TestProvision: the volume is a directory under the root named after the
// claim, pinned to the node, of the requested size, cleaned up by the
// node's kubelet; without a node or a size nothing is provisioned.
func TestProvision(t *testing.T) {
	p, err := localpath.New("/srv/vols/", nil)
	if err != nil {
		t.Fatal(err)
	}
	claim := &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: "data", Namespace: "team", Uid: "u1"},
		Spec: &corev1.PersistentVolumeClaimSpec{Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"storage": {String_: "2Gi"}}}}}
	node := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1"}}
	v, err := p.Provision(context.Background(), claim, api.LocalPathStorageClass(), node)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.GetSpec().GetLocal().GetPath(); got != "/srv/vols/pvc-u1_team_data" {
		t.Errorf("path %s", got)
	}
	if got := v.GetSpec().GetNodeAffinity().GetRequired().GetNodeSelectorTerms()[0].GetMatchExpressions()[0]; got.GetKey() != api.LabelHostname || got.GetValues()[0] != "n1" {
		t.Errorf("node affinity %v", got)
	}
	if v.GetSpec().GetCapacity()["storage"].GetString_() != "2Gi" || v.GetMetadata().GetLabels()[api.LabelLocalPathNode] != "n1" ||
		v.GetMetadata().GetFinalizers()[0] != api.LocalPathCleanupFinalizer || v.GetMetadata().GetAnnotations()[api.AnnLocalPathRoot] != "/srv/vols" {
		t.Errorf("volume %v", v)
	}
	if _, err := p.Provision(context.Background(), claim, api.LocalPathStorageClass(), nil); err == nil {
		t.Error("provisioned without a node")
	}
	claim.Spec.Resources = nil
	if _, err := p.Provision(context.Background(), claim, api.LocalPathStorageClass(), node); err == nil {
		t.Error("provisioned without a size")
	}
}
