package api

import (
	"path/filepath"
	"strings"
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
