package volume

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/csi"
)

// CSIHost is how the manager reaches CSI: the node plugins registered
// with the kubelet (package csiplugin) and the API objects a CSI volume
// depends on. Set Manager.CSI before first use; without it CSI volumes
// are refused.
type CSIHost interface {
	// NodeClient is the Node service of a registered driver; an error
	// when no plugin registered it on this node.
	NodeClient(driver string) (csipb.NodeClient, error)
	// CSIDriver and VolumeAttachment read those objects; missing is an
	// apierrors NotFound error.
	CSIDriver(name string) (*storagev1.CSIDriver, error)
	VolumeAttachment(name string) (*storagev1.VolumeAttachment, error)
	// NodeName is this node's name (for the attachment's name).
	NodeName() string
}

// KindCSI is the directory of a pod's CSI volumes (Kubernetes'):
// pods/<uid>/volumes/kubernetes.io~csi/<PV name>/{mount,vol_data.json}.
const KindCSI = "kubernetes.io~csi"

// csiVolume is what the kubelet keeps of a CSI volume it published for a
// pod, in the volume's vol_data.json, so that a restarted kubelet can
// unpublish and unstage it.
type csiVolume struct {
	Driver       string `json:"driverName"`
	VolumeHandle string `json:"volumeHandle"`
	PVName       string `json:"specVolumeID"`
	// StagingPath is where the volume was staged; "" when the driver
	// does not stage.
	StagingPath string `json:"stagingPath,omitempty"`
	TargetPath  string `json:"targetPath"`
	// Stats: the driver answers NodeGetVolumeStats.
	Stats bool `json:"stats,omitempty"`
}

// csiMountInput is what planCSIMount decides from.
type csiMountInput struct {
	PV  *corev1.PersistentVolume
	Pod *corev1.Pod
	// ReadOnly is the pod's persistentVolumeClaim source's readOnly.
	ReadOnly bool
	// Stage: the driver has STAGE_UNSTAGE_VOLUME; Stats: GET_VOLUME_STATS.
	Stage, Stats bool
	// Driver is the driver's CSIDriver (nil: none).
	Driver *storagev1.CSIDriver
	// Attachment is the volume's VolumeAttachment to this node (nil: none
	// yet); looked at only when the driver requires attaching.
	Attachment *storagev1.VolumeAttachment
	Node       string
	// TargetDir is the volume's directory under the pod (its mount and
	// vol_data.json); StagingRoot the directory of the driver's staging
	// paths (<root>/plugins/kubernetes.io/csi/<driver>).
	TargetDir, StagingRoot string
}

// csiMount is the plan for making a CSI volume ready for a pod: stage it
// (when StagingPath is set), then publish it at TargetPath.
type csiMount struct {
	Volume         csiVolume
	Capability     *csipb.VolumeCapability
	ReadOnly       bool
	VolumeContext  map[string]string
	PublishContext map[string]string
	// FSGroup: the pod's fsGroup is applied to the published files (see
	// csiFSGroup).
	FSGroup bool
}

// errAttachPending: the volume is not attached to the node yet.
var errAttachPending = errors.New("not attached yet")

// planCSIMount decides how a CSI persistent volume is mounted for a pod,
// as Kubernetes' kubelet does: when the driver requires attaching (its
// CSIDriver's attachRequired, true by default) the VolumeAttachment
// csi-<hash> must say attached, and its attachment metadata is the
// publish context; a staging driver stages at StagingRoot/<sha256 of the
// handle>/globalmount; the volume is published at TargetDir/mount,
// read-only when the PV's csi source or the pod's claim says so; a
// CSIDriver with podInfoOnMount adds the pod's name, namespace, uid and
// service account to the volume context.
func planCSIMount(in csiMountInput) (*csiMount, error) {
	src := in.PV.GetSpec().GetCsi()
	if src.GetDriver() == "" || src.GetVolumeHandle() == "" {
		return nil, fmt.Errorf("PV %s: spec.csi needs driver and volumeHandle", in.PV.GetMetadata().GetName())
	}
	capability, err := csi.VolumeCapability(in.PV)
	if err != nil {
		return nil, fmt.Errorf("PV %s: %v", in.PV.GetMetadata().GetName(), err)
	}
	m := &csiMount{
		Volume: csiVolume{Driver: src.GetDriver(), VolumeHandle: src.GetVolumeHandle(), PVName: in.PV.GetMetadata().GetName(),
			TargetPath: filepath.Join(in.TargetDir, "mount"), Stats: in.Stats},
		Capability:    capability,
		ReadOnly:      in.ReadOnly || src.GetReadOnly(),
		VolumeContext: map[string]string{},
	}
	for k, v := range src.GetVolumeAttributes() {
		m.VolumeContext[k] = v
	}
	if csi.AttachRequired(in.Driver) {
		name := csi.AttachmentName(src.GetVolumeHandle(), src.GetDriver(), in.Node)
		va := in.Attachment
		switch {
		case va == nil:
			return nil, fmt.Errorf("volume %s: waiting for VolumeAttachment %s to node %s: %w", m.Volume.PVName, name, in.Node, errAttachPending)
		case va.GetStatus().GetAttachError() != nil && !va.GetStatus().GetAttached():
			return nil, fmt.Errorf("volume %s: attaching failed: %s: %w", m.Volume.PVName, va.GetStatus().GetAttachError().GetMessage(), errAttachPending)
		case !va.GetStatus().GetAttached():
			return nil, fmt.Errorf("volume %s: VolumeAttachment %s is %w", m.Volume.PVName, name, errAttachPending)
		}
		m.PublishContext = va.GetStatus().GetAttachmentMetadata()
	}
	if in.Stage {
		m.Volume.StagingPath = filepath.Join(in.StagingRoot, csi.VolumeHandleDir(src.GetVolumeHandle()), "globalmount")
	}
	m.FSGroup = !m.ReadOnly && csiFSGroup(in.Driver, in.PV)
	if in.Driver.GetSpec().GetPodInfoOnMount() {
		md := in.Pod.GetMetadata()
		m.VolumeContext["csi.storage.k8s.io/pod.name"] = md.GetName()
		m.VolumeContext["csi.storage.k8s.io/pod.namespace"] = md.GetNamespace()
		m.VolumeContext["csi.storage.k8s.io/pod.uid"] = md.GetUid()
		m.VolumeContext["csi.storage.k8s.io/serviceAccount.name"] = in.Pod.GetSpec().GetServiceAccountName()
		m.VolumeContext["csi.storage.k8s.io/ephemeral"] = "false"
	}
	return m, nil
}

// csiFSGroup reports whether the kubelet gives a CSI volume's files to the
// pod's fsGroup, as Kubernetes decides from the CSIDriver's fsGroupPolicy:
// File, always; None, never; ReadWriteOnceWithFSType (the default, and
// without a CSIDriver), when the volume has an fsType and ReadWriteOnce
// among its access modes. A read-only mount never is.
func csiFSGroup(driver *storagev1.CSIDriver, pv *corev1.PersistentVolume) bool {
	switch driver.GetSpec().GetFsGroupPolicy() {
	case "File":
		return true
	case "None":
		return false
	}
	return pv.GetSpec().GetCsi().GetFsType() != "" && slices.Contains(pv.GetSpec().GetAccessModes(), api.ReadWriteOnce)
}

// csiStagingRoot is the directory of a driver's staging paths.
func (m *Manager) csiStagingRoot(driver string) string {
	return filepath.Join(m.rootDir, "plugins", "kubernetes.io", "csi", driver)
}

// setupCSI stages (once per node) and publishes (once per pod) the CSI
// volume pv for pod, and returns what it published and whether the pod's
// fsGroup applies to it (csiFSGroup). The driver must be registered on
// the node and, when it requires it, the volume attached.
func (m *Manager) setupCSI(ctx context.Context, pod *corev1.Pod, pv *corev1.PersistentVolume, readOnly bool) (*csiVolume, bool, error) {
	if m.CSI == nil {
		return nil, false, fmt.Errorf("PV %s: CSI volumes are not supported by this kubelet", pv.GetMetadata().GetName())
	}
	src := pv.GetSpec().GetCsi()
	node, err := m.CSI.NodeClient(src.GetDriver())
	if err != nil {
		return nil, false, fmt.Errorf("PV %s: kubernetes.io/csi: %v", pv.GetMetadata().GetName(), err)
	}
	cctx, cancel := context.WithTimeout(ctx, csi.CallTimeout)
	defer cancel()
	caps, err := node.NodeGetCapabilities(cctx, &csipb.NodeGetCapabilitiesRequest{})
	if err != nil {
		return nil, false, fmt.Errorf("PV %s: NodeGetCapabilities of %s: %v", pv.GetMetadata().GetName(), src.GetDriver(), err)
	}
	in := csiMountInput{PV: pv, Pod: pod, ReadOnly: readOnly, Node: m.CSI.NodeName(),
		Stage:     csi.HasNodeCapability(caps, csipb.NodeServiceCapability_RPC_STAGE_UNSTAGE_VOLUME),
		Stats:     csi.HasNodeCapability(caps, csipb.NodeServiceCapability_RPC_GET_VOLUME_STATS),
		TargetDir: m.VolumeDir(pod.GetMetadata().GetUid(), KindCSI, pv.GetMetadata().GetName()), StagingRoot: m.csiStagingRoot(src.GetDriver())}
	if in.Driver, err = m.CSI.CSIDriver(src.GetDriver()); apierrors.IsNotFound(err) {
		in.Driver = nil
	} else if err != nil {
		return nil, false, fmt.Errorf("reading CSIDriver %s: %v", src.GetDriver(), err)
	}
	if csi.AttachRequired(in.Driver) {
		name := csi.AttachmentName(src.GetVolumeHandle(), src.GetDriver(), in.Node)
		if in.Attachment, err = m.CSI.VolumeAttachment(name); apierrors.IsNotFound(err) {
			in.Attachment = nil
		} else if err != nil {
			return nil, false, fmt.Errorf("reading VolumeAttachment %s: %v", name, err)
		}
	}
	plan, err := planCSIMount(in)
	if err != nil {
		return nil, false, err
	}
	// Recorded first: whatever is done below, Teardown can undo.
	if err := writeCSIVolume(in.TargetDir, &plan.Volume); err != nil {
		return nil, false, err
	}
	v := plan.Volume
	if v.StagingPath != "" {
		if err := os.MkdirAll(filepath.Dir(v.StagingPath), 0o750); err != nil {
			return nil, false, err
		}
		if _, err := node.NodeStageVolume(cctx, &csipb.NodeStageVolumeRequest{VolumeId: v.VolumeHandle, PublishContext: plan.PublishContext,
			StagingTargetPath: v.StagingPath, VolumeCapability: plan.Capability, VolumeContext: plan.VolumeContext}); err != nil {
			return nil, false, fmt.Errorf("PV %s: NodeStageVolume: %v", v.PVName, err)
		}
	}
	if _, err := node.NodePublishVolume(cctx, &csipb.NodePublishVolumeRequest{VolumeId: v.VolumeHandle, PublishContext: plan.PublishContext,
		StagingTargetPath: v.StagingPath, TargetPath: v.TargetPath, VolumeCapability: plan.Capability, Readonly: plan.ReadOnly,
		VolumeContext: plan.VolumeContext}); err != nil {
		return nil, false, fmt.Errorf("PV %s: NodePublishVolume: %v", v.PVName, err)
	}
	return &v, plan.FSGroup, nil
}

const csiDataFile = "vol_data.json"

func writeCSIVolume(dir string, v *csiVolume) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+csiDataFile)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, csiDataFile))
}

// csiVolumesOf reads the CSI volumes recorded under a pod's directory, by
// their directory.
func (m *Manager) csiVolumesOf(podUID string) (map[string]*csiVolume, error) {
	base := filepath.Join(m.PodDir(podUID), "volumes", KindCSI)
	entries, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]*csiVolume{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(base, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, csiDataFile))
		if errors.Is(err, fs.ErrNotExist) {
			out[dir] = nil // nothing was published
			continue
		}
		if err != nil {
			return nil, err
		}
		var v csiVolume
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%s: %v", filepath.Join(dir, csiDataFile), err)
		}
		out[dir] = &v
	}
	return out, nil
}

// teardownCSI unpublishes the pod's CSI volumes, and unstages each one no
// other pod on the node still has published. Called with mu held, before
// the pod's directory goes: a volume that cannot be unpublished (its
// driver not registered, or failing) stops the teardown.
func (m *Manager) teardownCSI(podUID string) error {
	vols, err := m.csiVolumesOf(podUID)
	if err != nil || len(vols) == 0 {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), csi.CallTimeout)
	defer cancel()
	for dir, v := range vols {
		if v != nil {
			if m.CSI == nil {
				return fmt.Errorf("CSI volume %s: CSI is not served by this kubelet", v.PVName)
			}
			node, err := m.CSI.NodeClient(v.Driver)
			if err != nil {
				return fmt.Errorf("unmounting CSI volume %s: %v", v.PVName, err)
			}
			if _, err := node.NodeUnpublishVolume(ctx, &csipb.NodeUnpublishVolumeRequest{VolumeId: v.VolumeHandle, TargetPath: v.TargetPath}); err != nil {
				return fmt.Errorf("CSI volume %s: NodeUnpublishVolume: %v", v.PVName, err)
			}
			if v.StagingPath != "" {
				used, err := m.csiStagingUsed(podUID, v)
				if err != nil {
					return err
				}
				if !used {
					if _, err := node.NodeUnstageVolume(ctx, &csipb.NodeUnstageVolumeRequest{VolumeId: v.VolumeHandle, StagingTargetPath: v.StagingPath}); err != nil {
						return fmt.Errorf("CSI volume %s: NodeUnstageVolume: %v", v.PVName, err)
					}
					removeIfUnmounted(filepath.Dir(v.StagingPath))
				}
			}
		}
		if left, err := mountsUnder(dir); err != nil {
			return err
		} else if len(left) > 0 {
			return fmt.Errorf("CSI volume directory %s is still mounted after NodeUnpublishVolume", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	return nil
}

// csiStagingUsed tells whether a pod other than podUID still has v
// published on the node (by the vol_data.json files on disk).
func (m *Manager) csiStagingUsed(podUID string, v *csiVolume) (bool, error) {
	pods, err := m.PodsOnDisk()
	if err != nil {
		return false, err
	}
	for _, uid := range pods {
		if uid == podUID {
			continue
		}
		others, err := m.csiVolumesOf(uid)
		if err != nil {
			return false, err
		}
		for _, o := range others {
			if o != nil && o.Driver == v.Driver && o.VolumeHandle == v.VolumeHandle {
				return true, nil
			}
		}
	}
	return false, nil
}

// removeIfUnmounted removes dir (a volume's staging directory) unless
// something is still mounted in it; best effort.
func removeIfUnmounted(dir string) {
	if left, err := mountsUnder(dir); err == nil && len(left) == 0 {
		_ = os.RemoveAll(dir)
	}
}

// csiStats asks the driver for the usage of a published volume.
func (m *Manager) csiStats(v *csiVolume, s *Stats) error {
	if m.CSI == nil {
		return errors.New("no CSI host")
	}
	node, err := m.CSI.NodeClient(v.Driver)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), csi.CallTimeout)
	defer cancel()
	resp, err := node.NodeGetVolumeStats(ctx, &csipb.NodeGetVolumeStatsRequest{VolumeId: v.VolumeHandle, VolumePath: v.TargetPath, StagingTargetPath: v.StagingPath})
	if err != nil {
		return err
	}
	fillCSIStats(resp, s)
	return nil
}

// fillCSIStats copies a NodeGetVolumeStats answer into s: bytes and
// inodes (total, available, used).
func fillCSIStats(resp *csipb.NodeGetVolumeStatsResponse, s *Stats) {
	for _, u := range resp.GetUsage() {
		switch u.GetUnit() {
		case csipb.VolumeUsage_BYTES:
			s.CapacityBytes, s.AvailableBytes, s.UsedBytes = u.GetTotal(), u.GetAvailable(), u.GetUsed()
		case csipb.VolumeUsage_INODES:
			s.Inodes, s.InodesFree, s.InodesUsed = u.GetTotal(), u.GetAvailable(), u.GetUsed()
		}
	}
}
