// Package csi holds what Keel's kubelet and controller-manager share to
// speak the Container Storage Interface (github.com/container-storage-interface/spec)
// to a driver: dialling its unix socket, the volume capability a
// PersistentVolume asks for, capability lookups, and the names Kubernetes
// gives to attachments, staging paths and finalizers. Everything here is
// pure but Dial.
package csi

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
)

// Dial connects to a CSI endpoint: a unix socket given as unix:///path or
// /path. The connection is lazy (gRPC connects on the first call);
// callers close it.
func Dial(endpoint string) (*grpc.ClientConn, error) {
	path, err := SocketPath(endpoint)
	if err != nil {
		return nil, err
	}
	return grpc.NewClient("passthrough:///"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}))
}

// SocketPath is the file of a unix endpoint (unix:///path or /path).
func SocketPath(endpoint string) (string, error) {
	p := strings.TrimPrefix(endpoint, "unix://")
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("CSI endpoint %q: only unix sockets (unix:///path or /path) are supported", endpoint)
	}
	return p, nil
}

// CallTimeout bounds one CSI call that is not a provisioning or
// attaching one (those take the caller's context).
const CallTimeout = 2 * time.Minute

// AccessMode is the CSI access mode of a volume with Kubernetes' access
// modes, as Kubernetes maps them: ReadWriteOncePod is
// SINGLE_NODE_SINGLE_WRITER, ReadWriteMany MULTI_NODE_MULTI_WRITER,
// ReadOnlyMany (alone) MULTI_NODE_READER_ONLY, else SINGLE_NODE_WRITER.
func AccessMode(modes []string) csipb.VolumeCapability_AccessMode_Mode {
	switch {
	case slices.Contains(modes, api.ReadWriteOncePod):
		return csipb.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER
	case slices.Contains(modes, api.ReadWriteMany):
		return csipb.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER
	case slices.Contains(modes, api.ReadOnlyMany) && !slices.Contains(modes, api.ReadWriteOnce):
		return csipb.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY
	}
	return csipb.VolumeCapability_AccessMode_SINGLE_NODE_WRITER
}

// ErrBlock: Keel mounts filesystems only.
var ErrBlock = errors.New("volumeMode Block is not supported for CSI volumes; only Filesystem")

// MountCapability is the capability of a filesystem volume with the given
// access modes, filesystem type and mount options. volumeMode Block is
// ErrBlock.
func MountCapability(accessModes []string, volumeMode, fsType string, mountOptions []string) (*csipb.VolumeCapability, error) {
	if volumeMode == api.PersistentVolumeBlock {
		return nil, ErrBlock
	}
	return &csipb.VolumeCapability{
		AccessType: &csipb.VolumeCapability_Mount{Mount: &csipb.VolumeCapability_MountVolume{FsType: fsType, MountFlags: mountOptions}},
		AccessMode: &csipb.VolumeCapability_AccessMode{Mode: AccessMode(accessModes)},
	}, nil
}

// VolumeCapability is the capability of the CSI PersistentVolume pv.
func VolumeCapability(pv *corev1.PersistentVolume) (*csipb.VolumeCapability, error) {
	s := pv.GetSpec()
	return MountCapability(s.GetAccessModes(), s.GetVolumeMode(), s.GetCsi().GetFsType(), s.GetMountOptions())
}

// HasNodeCapability tells whether a NodeGetCapabilities answer lists t.
func HasNodeCapability(resp *csipb.NodeGetCapabilitiesResponse, t csipb.NodeServiceCapability_RPC_Type) bool {
	for _, c := range resp.GetCapabilities() {
		if c.GetRpc().GetType() == t {
			return true
		}
	}
	return false
}

// HasControllerCapability tells whether a ControllerGetCapabilities answer
// lists t.
func HasControllerCapability(resp *csipb.ControllerGetCapabilitiesResponse, t csipb.ControllerServiceCapability_RPC_Type) bool {
	for _, c := range resp.GetCapabilities() {
		if c.GetRpc().GetType() == t {
			return true
		}
	}
	return false
}

// AttachmentName is the name of the VolumeAttachment of volume handle of
// driver to node, as Kubernetes names it: csi-<sha256 of handle, driver
// and node, hex>.
func AttachmentName(handle, driver, node string) string {
	return fmt.Sprintf("csi-%x", sha256.Sum256([]byte(handle+driver+node)))
}

// AttachRequired tells whether volumes of a driver need a
// VolumeAttachment before a node may use them: the CSIDriver's
// spec.attachRequired, true when there is no CSIDriver or it says
// nothing (Kubernetes' default).
func AttachRequired(d *storagev1.CSIDriver) bool {
	if d == nil || d.GetSpec() == nil || d.GetSpec().AttachRequired == nil {
		return true
	}
	return d.GetSpec().GetAttachRequired()
}

// AttacherFinalizer is the finalizer the attacher of driver puts on the
// VolumeAttachments it attached (external-attacher/<driver with / as
// ->), removed once it has detached them.
func AttacherFinalizer(driver string) string {
	return "external-attacher/" + strings.ReplaceAll(driver, "/", "-")
}

// VolumeHandleDir is the directory name of a volume's per-node staging
// path: the hex sha256 of its handle, as Kubernetes names it.
func VolumeHandleDir(handle string) string {
	return fmt.Sprintf("%x", sha256.Sum256([]byte(handle)))
}

// Parameters of a StorageClass that are the CO's, not the driver's
// (prefix csi.storage.k8s.io/): FSTypeParameter is the filesystem type of
// the provisioned volumes; the others name secrets, which Keel does not
// pass to drivers.
const (
	ReservedParameterPrefix = "csi.storage.k8s.io/"
	FSTypeParameter         = ReservedParameterPrefix + "fstype"
)
