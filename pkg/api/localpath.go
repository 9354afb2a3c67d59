package api

import (
	"path/filepath"
	"strings"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
)

// Keel's local-path provisioner (k3s ships one alike): the default
// StorageClass LocalPathClass names LocalPathProvisioner, which the
// controller-manager runs. It provisions a directory per volume under a
// root on the node the scheduler chose: a PersistentVolume with a local
// source, node affinity to that node, the root in AnnLocalPathRoot and
// the finalizer LocalPathCleanupFinalizer. The node's kubelet makes the
// directory when it first mounts the volume and, once the volume is
// being deleted, removes the directory and then the finalizer.
const (
	LocalPathProvisioner = "keel.dev/local-path"
	LocalPathClass       = "local-path"
	// AnnLocalPathRoot on a local-path volume is the root its directory
	// was made under; the kubelet removes nothing outside it.
	AnnLocalPathRoot          = "keel.dev/local-path-root"
	LocalPathCleanupFinalizer = "keel.dev/local-path-cleanup"
	DefaultLocalPathRoot      = "/var/lib/keel/storage"
	// AnnProvisionedBy on a volume names the provisioner that made it.
	AnnProvisionedBy = "pv.kubernetes.io/provisioned-by"
)

// LocalPathStorageClass is the default StorageClass LocalPathClass a
// fresh cluster has (the apiserver creates it at start when missing):
// volumes bound once a pod is scheduled, since the directory lives on
// that pod's node, and deleted with their claim.
func LocalPathStorageClass() *storagev1.StorageClass {
	reclaim, mode := PersistentVolumeReclaimDelete, VolumeBindingWaitForFirstConsumer
	return &storagev1.StorageClass{
		Metadata:          &metav1.ObjectMeta{Name: LocalPathClass, Annotations: map[string]string{IsDefaultStorageClassAnnotation: "true"}},
		Provisioner:       LocalPathProvisioner,
		ReclaimPolicy:     &reclaim,
		VolumeBindingMode: &mode,
	}
}

// LocalPathDir is the directory of the local-path volume of the claim
// namespace/name with uid under root: root/pvc-UID_NAMESPACE_NAME.
func LocalPathDir(root, uid, namespace, name string) string {
	return filepath.Join(root, "pvc-"+uid+"_"+namespace+"_"+name)
}

// LocalPathDirUnder reports whether dir is a volume directory directly
// under root, as LocalPathDir makes them: root absolute, clean and not
// "/", dir its child named pvc-… . The kubelet removes no other path.
func LocalPathDirUnder(root, dir string) bool {
	if !filepath.IsAbs(root) || filepath.Clean(root) != root || root == "/" || filepath.Clean(dir) != dir {
		return false
	}
	parent, base := filepath.Split(dir)
	return filepath.Clean(parent) == root && strings.HasPrefix(base, "pvc-") && base != "pvc-"
}

// LabelLocalPathNode on a local-path volume names the node it is pinned
// to: its kubelet watches the volumes so labelled, and the Node
// authorizer lets it list and watch those only.
const LabelLocalPathNode = "keel.dev/local-path-node"

// VolumePinnedNode is the one node a volume's required node affinity
// admits by name, "" when it admits any other: a single term whose only
// requirement is kubernetes.io/hostname In [NODE] (Keel's kubelet labels
// its Node with its name), as local-path volumes have.
func VolumePinnedNode(pv *corev1.PersistentVolume) string {
	terms := pv.GetSpec().GetNodeAffinity().GetRequired().GetNodeSelectorTerms()
	if len(terms) != 1 || len(terms[0].GetMatchFields()) != 0 || len(terms[0].GetMatchExpressions()) != 1 {
		return ""
	}
	r := terms[0].GetMatchExpressions()[0]
	if r.GetKey() != LabelHostname || r.GetOperator() != "In" || len(r.GetValues()) != 1 {
		return ""
	}
	return r.GetValues()[0]
}
