// Package localpath is Keel's local-path provisioner in the
// controller-manager (see api.LocalPathProvisioner): it describes a
// directory per volume under a root on the node chosen for the claim's
// first pod. The directory itself is made and removed on that node by
// its kubelet (the controller-manager runs elsewhere), so Provision and
// Delete do no I/O.
package localpath

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/controller/volume/persistentvolume"
)

// Provisioner provisions local-path volumes under Root, or under a
// node's own root in NodeRoots.
type Provisioner struct {
	// Root is the directory the volumes' directories are made in, on
	// every node not in NodeRoots; absolute and clean.
	Root string
	// NodeRoots maps a node's name to the root used on that node instead
	// of Root (as nodePathMap of Rancher's local-path-provisioner);
	// absolute and clean. Read only.
	NodeRoots map[string]string
}

var _ persistentvolume.Provisioner = Provisioner{}

// New returns the provisioner of volumes under root on every node but
// those of nodeRoots (node name → root), which get their own. Each root
// must be an absolute path other than "/"; a node name must not be empty.
func New(root string, nodeRoots map[string]string) (Provisioner, error) {
	if err := checkRoot(root); err != nil {
		return Provisioner{}, err
	}
	p := Provisioner{Root: filepath.Clean(root)}
	for node, r := range nodeRoots {
		if node == "" {
			return Provisioner{}, fmt.Errorf("the local-path root %q is given for an empty node name", r)
		}
		if err := checkRoot(r); err != nil {
			return Provisioner{}, fmt.Errorf("node %s: %w", node, err)
		}
		if p.NodeRoots == nil {
			p.NodeRoots = map[string]string{}
		}
		p.NodeRoots[node] = filepath.Clean(r)
	}
	return p, nil
}

func checkRoot(root string) error {
	if !filepath.IsAbs(root) || filepath.Clean(root) == "/" {
		return fmt.Errorf("the local-path root %q must be an absolute directory other than /", root)
	}
	return nil
}

// RootOn is the root of the volumes provisioned on the node named node.
func (p Provisioner) RootOn(node string) string {
	if r, ok := p.NodeRoots[node]; ok {
		return r
	}
	return p.Root
}

// Provision describes the claim's directory on node: a volume with a
// local source at api.LocalPathDir under the node's root (RootOn), node affinity to the node's hostname
// (Keel's kubelet labels its Node with its name), api.LabelLocalPathNode,
// the claim's request as its capacity, the root recorded in
// api.AnnLocalPathRoot and the finalizer api.LocalPathCleanupFinalizer
// that the node's kubelet removes once the directory is gone. A claim
// without a node (a class with Immediate binding) or without a storage
// request is refused.
func (p Provisioner) Provision(_ context.Context, claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node *corev1.Node) (*corev1.PersistentVolume, error) {
	if node == nil {
		return nil, fmt.Errorf("%s provisions only on a selected node: StorageClass %q needs volumeBindingMode: WaitForFirstConsumer",
			api.LocalPathProvisioner, class.GetMetadata().GetName())
	}
	size, ok := claim.GetSpec().GetResources().GetRequests()["storage"]
	if !ok {
		return nil, errors.New("the claim has no spec.resources.requests[storage]")
	}
	nodeName := node.GetMetadata().GetName()
	m := claim.GetMetadata()
	root := p.RootOn(nodeName)
	return &corev1.PersistentVolume{
		Metadata: &metav1.ObjectMeta{
			Labels:      map[string]string{api.LabelLocalPathNode: nodeName},
			Annotations: map[string]string{api.AnnLocalPathRoot: root},
			Finalizers:  []string{api.LocalPathCleanupFinalizer},
		},
		Spec: &corev1.PersistentVolumeSpec{
			Capacity: map[string]*metav1.Quantity{"storage": {String_: size.GetString_()}},
			Local:    &corev1.LocalVolumeSource{Path: api.LocalPathDir(root, m.GetUid(), m.GetNamespace(), m.GetName())},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []*corev1.NodeSelectorTerm{{
				MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: api.LabelHostname, Operator: "In", Values: []string{nodeName}}},
			}}}},
		},
	}, nil
}

// Delete does nothing here: deleting the PersistentVolume leaves it
// with api.LocalPathCleanupFinalizer until the node's kubelet has removed
// the directory.
func (Provisioner) Delete(context.Context, *corev1.PersistentVolume) error { return nil }
