// Package hostpath is a small CSI driver for Keel's tests (like
// Kubernetes' csi-driver-host-path): each volume is a directory under a
// root on the machine. It serves the Identity, Controller and Node
// services, and the kubelet's plugin-registration service, on unix
// sockets; it reads nothing from the API.
//
//   - CreateVolume makes ROOT/<name> (the volume id is the request's
//     name, so a retried call makes nothing twice) and, when the CO gives
//     topology requirements, reports the first preferred (else requisite)
//     topology as the volume's, so it is pinned to the node chosen;
//     DeleteVolume removes the directory.
//   - ControllerPublishVolume / Unpublish only check the volume exists
//     (there is nothing to attach); they let tests drive the attach path.
//   - NodeStageVolume bind-mounts the directory at the staging path,
//     NodePublishVolume the staging path at the target (read-only when
//     asked); the Unstage/Unpublish calls unmount and remove those paths.
//     NodeGetVolumeStats reports the filesystem's and the tree's usage.
//   - NodeGetInfo names the node NodeID, with the topology
//     kubernetes.io/hostname=NodeID (Keel's kubelet labels its Node so) and
//     MaxVolumes as its volume limit.
//
// The controller and the node part share the root, so both run on one
// machine (the single-node clusters of the tests); it is not a driver for
// several machines.
package hostpath

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"syscall"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TopologyKey is the one topology key of the driver's nodes.
const TopologyKey = "kubernetes.io/hostname"

// PublishContextKey is set by ControllerPublishVolume, so a test can see
// that the node got the attachment's metadata.
const PublishContextKey = "hostpath.csi.keel.dev/attached-to"

// Driver is the driver's state. Its methods are safe for concurrent use
// (each touches only its own volume's paths).
type Driver struct {
	// Name is the driver's name (hostpath.csi.keel.dev).
	Name string
	// Root holds the volumes' directories.
	Root string
	// NodeID is the node's name for the Node service.
	NodeID string
	// MaxVolumes is NodeGetInfo's max_volumes_per_node (0: no limit).
	MaxVolumes int64
	// NoStage leaves out STAGE_UNSTAGE_VOLUME: NodePublish then mounts
	// the volume's directory directly.
	NoStage bool
	// Version is the vendor version reported.
	Version string
}

// Identity, Controller and Node are the driver's gRPC services.
type (
	Identity struct {
		csipb.UnimplementedIdentityServer
		D *Driver
	}
	Controller struct {
		csipb.UnimplementedControllerServer
		D *Driver
	}
	Node struct {
		csipb.UnimplementedNodeServer
		D *Driver
	}
)

var volumeID = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$`)

func (d *Driver) dir(id string) (string, error) {
	if !volumeID.MatchString(id) {
		return "", status.Errorf(codes.InvalidArgument, "volume id %q: letters, digits, '.', '_' and '-' only", id)
	}
	return filepath.Join(d.Root, id), nil
}

func (s Identity) GetPluginInfo(context.Context, *csipb.GetPluginInfoRequest) (*csipb.GetPluginInfoResponse, error) {
	return &csipb.GetPluginInfoResponse{Name: s.D.Name, VendorVersion: s.D.Version}, nil
}

func (s Identity) GetPluginCapabilities(context.Context, *csipb.GetPluginCapabilitiesRequest) (*csipb.GetPluginCapabilitiesResponse, error) {
	svc := func(t csipb.PluginCapability_Service_Type) *csipb.PluginCapability {
		return &csipb.PluginCapability{Type: &csipb.PluginCapability_Service_{Service: &csipb.PluginCapability_Service{Type: t}}}
	}
	return &csipb.GetPluginCapabilitiesResponse{Capabilities: []*csipb.PluginCapability{
		svc(csipb.PluginCapability_Service_CONTROLLER_SERVICE),
		svc(csipb.PluginCapability_Service_VOLUME_ACCESSIBILITY_CONSTRAINTS),
	}}, nil
}

func (s Identity) Probe(context.Context, *csipb.ProbeRequest) (*csipb.ProbeResponse, error) {
	return &csipb.ProbeResponse{Ready: wrapperspb.Bool(true)}, nil
}

func (s Controller) ControllerGetCapabilities(context.Context, *csipb.ControllerGetCapabilitiesRequest) (*csipb.ControllerGetCapabilitiesResponse, error) {
	rpc := func(t csipb.ControllerServiceCapability_RPC_Type) *csipb.ControllerServiceCapability {
		return &csipb.ControllerServiceCapability{Type: &csipb.ControllerServiceCapability_Rpc{Rpc: &csipb.ControllerServiceCapability_RPC{Type: t}}}
	}
	return &csipb.ControllerGetCapabilitiesResponse{Capabilities: []*csipb.ControllerServiceCapability{
		rpc(csipb.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME),
		rpc(csipb.ControllerServiceCapability_RPC_PUBLISH_UNPUBLISH_VOLUME),
	}}, nil
}

func (s Controller) CreateVolume(_ context.Context, req *csipb.CreateVolumeRequest) (*csipb.CreateVolumeResponse, error) {
	if req.GetName() == "" {
		return nil, status.Error(codes.InvalidArgument, "name is required")
	}
	if len(req.GetVolumeCapabilities()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "volume_capabilities are required")
	}
	for _, c := range req.GetVolumeCapabilities() {
		if c.GetBlock() != nil {
			return nil, status.Error(codes.InvalidArgument, "block volumes are not supported")
		}
	}
	dir, err := s.D.dir(req.GetName())
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, status.Errorf(codes.Internal, "creating %s: %v", dir, err)
	}
	if err := os.Chmod(dir, 0o777); err != nil { // any container user may write, as local-path
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	vol := &csipb.Volume{VolumeId: req.GetName(), CapacityBytes: req.GetCapacityRange().GetRequiredBytes(),
		VolumeContext: map[string]string{"path": dir}}
	if t := req.GetAccessibilityRequirements(); t != nil {
		switch {
		case len(t.GetPreferred()) > 0:
			vol.AccessibleTopology = t.GetPreferred()[:1]
		case len(t.GetRequisite()) > 0:
			vol.AccessibleTopology = t.GetRequisite()[:1]
		}
	}
	return &csipb.CreateVolumeResponse{Volume: vol}, nil
}

func (s Controller) DeleteVolume(_ context.Context, req *csipb.DeleteVolumeRequest) (*csipb.DeleteVolumeResponse, error) {
	dir, err := s.D.dir(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, status.Errorf(codes.Internal, "removing %s: %v", dir, err)
	}
	return &csipb.DeleteVolumeResponse{}, nil
}

func (s Controller) ControllerPublishVolume(_ context.Context, req *csipb.ControllerPublishVolumeRequest) (*csipb.ControllerPublishVolumeResponse, error) {
	if req.GetNodeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "node_id is required")
	}
	if err := s.D.exists(req.GetVolumeId()); err != nil {
		return nil, err
	}
	return &csipb.ControllerPublishVolumeResponse{PublishContext: map[string]string{PublishContextKey: req.GetNodeId()}}, nil
}

func (s Controller) ControllerUnpublishVolume(_ context.Context, req *csipb.ControllerUnpublishVolumeRequest) (*csipb.ControllerUnpublishVolumeResponse, error) {
	if _, err := s.D.dir(req.GetVolumeId()); err != nil {
		return nil, err
	}
	return &csipb.ControllerUnpublishVolumeResponse{}, nil
}

func (s Controller) ValidateVolumeCapabilities(_ context.Context, req *csipb.ValidateVolumeCapabilitiesRequest) (*csipb.ValidateVolumeCapabilitiesResponse, error) {
	if err := s.D.exists(req.GetVolumeId()); err != nil {
		return nil, err
	}
	return &csipb.ValidateVolumeCapabilitiesResponse{Confirmed: &csipb.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeCapabilities: req.GetVolumeCapabilities()}}, nil
}

func (d *Driver) exists(id string) error {
	dir, err := d.dir(id)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return status.Errorf(codes.NotFound, "volume %q does not exist", id)
	} else if err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	}
	return nil
}

func (s Node) NodeGetCapabilities(context.Context, *csipb.NodeGetCapabilitiesRequest) (*csipb.NodeGetCapabilitiesResponse, error) {
	rpc := func(t csipb.NodeServiceCapability_RPC_Type) *csipb.NodeServiceCapability {
		return &csipb.NodeServiceCapability{Type: &csipb.NodeServiceCapability_Rpc{Rpc: &csipb.NodeServiceCapability_RPC{Type: t}}}
	}
	caps := []*csipb.NodeServiceCapability{rpc(csipb.NodeServiceCapability_RPC_GET_VOLUME_STATS)}
	if !s.D.NoStage {
		caps = append(caps, rpc(csipb.NodeServiceCapability_RPC_STAGE_UNSTAGE_VOLUME))
	}
	return &csipb.NodeGetCapabilitiesResponse{Capabilities: caps}, nil
}

func (s Node) NodeGetInfo(context.Context, *csipb.NodeGetInfoRequest) (*csipb.NodeGetInfoResponse, error) {
	return &csipb.NodeGetInfoResponse{NodeId: s.D.NodeID, MaxVolumesPerNode: s.D.MaxVolumes,
		AccessibleTopology: &csipb.Topology{Segments: map[string]string{TopologyKey: s.D.NodeID}}}, nil
}

func (s Node) NodeStageVolume(_ context.Context, req *csipb.NodeStageVolumeRequest) (*csipb.NodeStageVolumeResponse, error) {
	if s.D.NoStage {
		return nil, status.Error(codes.Unimplemented, "this driver does not stage")
	}
	if req.GetStagingTargetPath() == "" || req.GetVolumeCapability() == nil {
		return nil, status.Error(codes.InvalidArgument, "staging_target_path and volume_capability are required")
	}
	if err := s.D.exists(req.GetVolumeId()); err != nil {
		return nil, err
	}
	src, _ := s.D.dir(req.GetVolumeId())
	if err := bindMount(src, req.GetStagingTargetPath(), false); err != nil {
		return nil, err
	}
	return &csipb.NodeStageVolumeResponse{}, nil
}

func (s Node) NodeUnstageVolume(_ context.Context, req *csipb.NodeUnstageVolumeRequest) (*csipb.NodeUnstageVolumeResponse, error) {
	if req.GetStagingTargetPath() == "" {
		return nil, status.Error(codes.InvalidArgument, "staging_target_path is required")
	}
	if err := unmountAndRemove(req.GetStagingTargetPath()); err != nil {
		return nil, err
	}
	return &csipb.NodeUnstageVolumeResponse{}, nil
}

func (s Node) NodePublishVolume(_ context.Context, req *csipb.NodePublishVolumeRequest) (*csipb.NodePublishVolumeResponse, error) {
	if req.GetTargetPath() == "" || req.GetVolumeCapability() == nil {
		return nil, status.Error(codes.InvalidArgument, "target_path and volume_capability are required")
	}
	if err := s.D.exists(req.GetVolumeId()); err != nil {
		return nil, err
	}
	src := req.GetStagingTargetPath()
	if s.D.NoStage {
		src, _ = s.D.dir(req.GetVolumeId())
	} else if src == "" {
		return nil, status.Error(codes.FailedPrecondition, "the volume is not staged (no staging_target_path)")
	}
	if err := bindMount(src, req.GetTargetPath(), req.GetReadonly()); err != nil {
		return nil, err
	}
	return &csipb.NodePublishVolumeResponse{}, nil
}

func (s Node) NodeUnpublishVolume(_ context.Context, req *csipb.NodeUnpublishVolumeRequest) (*csipb.NodeUnpublishVolumeResponse, error) {
	if req.GetTargetPath() == "" {
		return nil, status.Error(codes.InvalidArgument, "target_path is required")
	}
	if err := unmountAndRemove(req.GetTargetPath()); err != nil {
		return nil, err
	}
	return &csipb.NodeUnpublishVolumeResponse{}, nil
}

func (s Node) NodeGetVolumeStats(_ context.Context, req *csipb.NodeGetVolumeStatsRequest) (*csipb.NodeGetVolumeStatsResponse, error) {
	p := req.GetVolumePath()
	if p == "" {
		return nil, status.Error(codes.InvalidArgument, "volume_path is required")
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(p, &st); errors.Is(err, syscall.ENOENT) {
		return nil, status.Errorf(codes.NotFound, "%s does not exist", p)
	} else if err != nil {
		return nil, status.Errorf(codes.Internal, "statfs %s: %v", p, err)
	}
	var used, inodes int64
	_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil {
			if sys, ok := info.Sys().(*syscall.Stat_t); ok {
				used += sys.Blocks * 512
			}
		}
		inodes++
		return nil
	})
	bs := int64(st.Bsize)
	return &csipb.NodeGetVolumeStatsResponse{Usage: []*csipb.VolumeUsage{
		{Unit: csipb.VolumeUsage_BYTES, Total: int64(st.Blocks) * bs, Available: int64(st.Bavail) * bs, Used: used},
		{Unit: csipb.VolumeUsage_INODES, Total: int64(st.Files), Available: int64(st.Ffree), Used: inodes},
	}}, nil
}

// bindMount bind-mounts src at dst (made when missing), read-only if ro,
// unless dst is a mount point already.
func bindMount(src, dst string, ro bool) error {
	if err := os.MkdirAll(dst, 0o750); err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	}
	if mounted, err := isMountPoint(dst); err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	} else if mounted {
		return nil
	}
	if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
		return status.Errorf(codes.Internal, "bind-mounting %s at %s: %v", src, dst, err)
	}
	if ro {
		if err := syscall.Mount("", dst, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
			_ = syscall.Unmount(dst, 0)
			return status.Errorf(codes.Internal, "remounting %s read-only: %v", dst, err)
		}
	}
	return nil
}

// unmountAndRemove unmounts p when it is a mount point and removes it (an
// empty directory); a path already gone is success.
func unmountAndRemove(p string) error {
	mounted, err := isMountPoint(p)
	if err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	}
	if mounted {
		if err := syscall.Unmount(p, 0); err != nil {
			return status.Errorf(codes.Internal, "unmounting %s: %v", p, err)
		}
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return status.Errorf(codes.Internal, "removing %s: %v", p, err)
	}
	return nil
}

// isMountPoint tells whether p is the root of a mount, by /proc/self/mountinfo
// (a bind mount of a directory of the same filesystem has the same device).
func isMountPoint(p string) (bool, error) {
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return false, err
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	return mountinfoHas(string(b), real), nil
}
