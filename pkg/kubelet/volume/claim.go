package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// Claims is how the manager resolves persistentVolumeClaim volumes (part
// of Getter): the claim of the pod's namespace, then the volume bound to
// it. A missing object is an apierrors NotFound error.
type Claims interface {
	PersistentVolumeClaim(ns, name string) (*corev1.PersistentVolumeClaim, error)
	PersistentVolume(name string) (*corev1.PersistentVolume, error)
}

// PendingError is a volume without which no container of the pod may
// start (a persistentVolumeClaim volume whose claim is missing, not bound,
// or whose volume cannot be mounted): the pod waits for it, as in
// Kubernetes. Setup's error wraps one for each such volume.
type PendingError struct{ Err error }

func (e *PendingError) Error() string { return e.Err.Error() }
func (e *PendingError) Unwrap() error { return e.Err }

// IsPending tells whether err (from Setup) holds a volume that is not
// ready yet, so that no container may start.
func IsPending(err error) bool {
	var p *PendingError
	return errors.As(err, &p)
}

// claimVolume is a persistentVolumeClaim volume resolved to its host
// directory.
type claimVolume struct {
	claim *corev1.PersistentVolumeClaim
	path  string
	// owned: the volume's files take the pod's fsGroup: a local PV's
	// (hostPath ones do not, as in Kubernetes), a CSI PV's when its
	// driver's fsGroupPolicy says so.
	owned bool
	// csi: a CSI PV, published at path.
	csi *csiVolume
}

// resolveClaim follows a persistentVolumeClaim volume of namespace ns to
// the directory to mount, as Kubernetes' kubelet does: the claim must
// exist, not be being deleted, and be Bound; its volume must be bound back
// to it (claimRef uid). hostPath and local volumes are supported; a
// directory of a volume Keel's local-path provisioner made is created when
// missing (mode 0777, as k3s' provisioner makes it); a CSI volume is
// staged and published by its driver (setupCSI). Errors are worded as
// Kubernetes' ("error processing PVC ns/name: PVC is not bound").
func (m *Manager) resolveClaim(ctx context.Context, pod *corev1.Pod, src *corev1.PersistentVolumeClaimVolumeSource) (*claimVolume, error) {
	ns, name := pod.GetMetadata().GetNamespace(), src.GetClaimName()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("error processing PVC %s/%s: %s", ns, name, fmt.Sprintf(format, args...))
	}
	claims, ok := m.getter.(Claims)
	if !ok {
		return nil, fail("persistentVolumeClaim volumes are not served on this node")
	}
	pvc, err := claims.PersistentVolumeClaim(ns, name)
	if err != nil {
		return nil, fail("failed to fetch PVC from API server: %v", err)
	}
	switch {
	case pvc.GetMetadata().GetDeletionTimestamp() != nil:
		return nil, fail("PVC is being deleted")
	case pvc.GetStatus().GetPhase() != "Bound":
		return nil, fail("PVC is not bound")
	case pvc.GetSpec().GetVolumeName() == "":
		return nil, fail("PVC has empty pvc.Spec.VolumeName")
	}
	pvName := pvc.GetSpec().GetVolumeName()
	pv, err := claims.PersistentVolume(pvName)
	if err != nil {
		return nil, fail("failed to fetch PV %s from API server: %v", pvName, err)
	}
	ref := pv.GetSpec().GetClaimRef()
	if ref == nil {
		return nil, fail("found PV object %s but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim", pvName)
	}
	if ref.GetUid() != pvc.GetMetadata().GetUid() {
		return nil, fail("found PV object %s but its pv.Spec.ClaimRef.UID %s does not point to claim.UID %s", pvName, ref.GetUid(), pvc.GetMetadata().GetUid())
	}
	if mode := pv.GetSpec().GetVolumeMode(); mode != "" && mode != "Filesystem" {
		return nil, fmt.Errorf("PV %s has volumeMode %s; only Filesystem volumes can be mounted", pvName, mode)
	}
	localPath := pv.GetMetadata().GetAnnotations()[api.AnnProvisionedBy] == api.LocalPathProvisioner
	spec := pv.GetSpec()
	switch {
	case spec.GetHostPath() != nil:
		if localPath {
			if err := ensureLocalPathDir(spec.GetHostPath().GetPath()); err != nil {
				return nil, fmt.Errorf("PV %s: %v", pvName, err)
			}
		}
		p, err := setupHostPath(spec.GetHostPath())
		if err != nil {
			return nil, fmt.Errorf("PV %s: %v", pvName, err)
		}
		return &claimVolume{claim: pvc, path: p}, nil
	case spec.GetLocal() != nil:
		p := spec.GetLocal().GetPath()
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("PV %s: local path %q is not absolute", pvName, p)
		}
		if localPath {
			if err := ensureLocalPathDir(p); err != nil {
				return nil, fmt.Errorf("PV %s: %v", pvName, err)
			}
		}
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("PV %s: local volume path: %v", pvName, err)
		}
		return &claimVolume{claim: pvc, path: filepath.Clean(p), owned: true}, nil
	case spec.GetNfs() != nil:
		return nil, fmt.Errorf("PV %s: nfs volumes are not supported by this kubelet", pvName)
	case spec.GetCsi() != nil:
		v, owned, err := m.setupCSI(ctx, pod, pv, src.GetReadOnly())
		if err != nil {
			return nil, err
		}
		return &claimVolume{claim: pvc, path: v.TargetPath, csi: v, owned: owned}, nil
	}
	return nil, fmt.Errorf("PV %s has no volume source", pvName)
}

// ensureLocalPathDir creates the directory of a local-path volume when it
// is missing: mode 0777 (any container user may write), with parents.
func ensureLocalPathDir(p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("path %q is not absolute", p)
	}
	if _, err := os.Stat(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(p, 0o777); err != nil {
		return fmt.Errorf("creating the local-path directory %s: %v", p, err)
	}
	return os.Chmod(p, 0o777) // MkdirAll's mode is subject to the umask
}
