// Package csi is the controller-manager's side of CSI, what Kubernetes'
// external-provisioner and external-attacher sidecars and its
// attach-detach controller do:
//
//   - Provisioner provisions the claims of a StorageClass whose
//     provisioner is a CSI driver (CreateVolume) and deletes their
//     storage (DeleteVolume); the PV controller calls it.
//   - AttachDetach keeps one VolumeAttachment per CSI volume and node
//     that a pod scheduled there uses, when the driver requires attaching.
//   - Attacher attaches (ControllerPublishVolume) and detaches
//     (ControllerUnpublishVolume) the VolumeAttachments of its drivers and
//     reports it in their status.
//
// The controller-manager reaches each driver's controller service on the
// unix socket --csi-controller-endpoints names, so the driver's controller
// part runs on the controller-manager's machines (see docs/storage.md).
// Each decision is a pure function; the gRPC and API calls stay in the
// thin executors.
package csi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"k8s.io/apimachinery/pkg/api/resource"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/csi"
)

// Provisioner makes and deletes volumes through one CSI driver's
// controller service. It implements the PV controller's Provisioner.
type Provisioner struct {
	// Driver is the driver's name (the classes' provisioner).
	Driver string
	// Controller is the driver's controller service.
	Controller csipb.ControllerClient
	// CSINode reads a node's CSINode (apierrors NotFound when it has
	// none), for the topology of the node chosen under
	// WaitForFirstConsumer.
	CSINode func(ctx context.Context, name string) (*storagev1.CSINode, error)
}

// Provision implements persistentvolume.Provisioner: CreateVolume, then
// the PersistentVolume describing the answer.
func (p *Provisioner) Provision(ctx context.Context, claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node *corev1.Node) (*corev1.PersistentVolume, error) {
	var csiNode *storagev1.CSINode
	if node != nil && p.CSINode != nil {
		var err error
		if csiNode, err = p.CSINode(ctx, node.GetMetadata().GetName()); apierrors.IsNotFound(err) {
			csiNode = nil
		} else if err != nil {
			return nil, err
		}
	}
	req, err := CreateVolumeRequest(p.Driver, claim, class, node, csiNode)
	if err != nil {
		return nil, err
	}
	resp, err := p.Controller.CreateVolume(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("rpc error: CreateVolume of %s: %w", p.Driver, err)
	}
	return VolumeFromResponse(p.Driver, resp, claim, class)
}

// Delete implements persistentvolume.Provisioner: DeleteVolume of the
// volume's handle (the driver treats a volume already gone as deleted).
func (p *Provisioner) Delete(ctx context.Context, pv *corev1.PersistentVolume) error {
	src := pv.GetSpec().GetCsi()
	if src.GetDriver() != p.Driver || src.GetVolumeHandle() == "" {
		return fmt.Errorf("volume %s is not a volume of CSI driver %s", pv.GetMetadata().GetName(), p.Driver)
	}
	if _, err := p.Controller.DeleteVolume(ctx, &csipb.DeleteVolumeRequest{VolumeId: src.GetVolumeHandle()}); err != nil {
		return fmt.Errorf("rpc error: DeleteVolume of %s: %w", p.Driver, err)
	}
	return nil
}

// CreateVolumeRequest is what the provisioner asks driver for claim of
// class, on node under WaitForFirstConsumer (nil otherwise), given the
// node's CSINode (nil: none):
//
//   - name pvc-<claim uid> (the driver makes one volume per name, so a
//     retry makes nothing twice), the claim's storage request as the
//     required bytes (its limit, if any, as the limit);
//   - one mount capability: the claim's access modes mapped as Kubernetes
//     maps them, the class's mount options and its
//     csi.storage.k8s.io/fstype parameter;
//   - the class's other parameters; the other csi.storage.k8s.io/ ones
//     (secrets) are refused, Keel passes no secrets to drivers;
//   - under a selected node whose CSINode lists the driver with topology
//     keys: that node's values of those keys (its labels) as the requisite
//     and preferred topology.
func CreateVolumeRequest(driver string, claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass, node *corev1.Node, csiNode *storagev1.CSINode) (*csipb.CreateVolumeRequest, error) {
	spec := claim.GetSpec()
	q, ok := spec.GetResources().GetRequests()["storage"]
	if !ok {
		return nil, errors.New("the claim has no spec.resources.requests[storage]")
	}
	req, err := resource.ParseQuantity(q.GetString_())
	if err != nil {
		return nil, fmt.Errorf("spec.resources.requests[storage]: %v", err)
	}
	capRange := &csipb.CapacityRange{RequiredBytes: req.Value()}
	if l, ok := spec.GetResources().GetLimits()["storage"]; ok {
		lim, err := resource.ParseQuantity(l.GetString_())
		if err != nil {
			return nil, fmt.Errorf("spec.resources.limits[storage]: %v", err)
		}
		capRange.LimitBytes = lim.Value()
	}
	params := map[string]string{}
	fsType := ""
	for _, k := range sortedKeys(class.GetParameters()) {
		v := class.GetParameters()[k]
		switch {
		case strings.EqualFold(k, csi.FSTypeParameter):
			fsType = v
		case strings.HasPrefix(strings.ToLower(k), csi.ReservedParameterPrefix):
			return nil, fmt.Errorf("StorageClass %q parameter %q: CSI secrets and other %s parameters are not supported by Keel",
				class.GetMetadata().GetName(), k, csi.ReservedParameterPrefix)
		default:
			params[k] = v
		}
	}
	capability, err := csi.MountCapability(spec.GetAccessModes(), spec.GetVolumeMode(), fsType, class.GetMountOptions())
	if err != nil {
		return nil, err
	}
	r := &csipb.CreateVolumeRequest{
		Name:               "pvc-" + claim.GetMetadata().GetUid(),
		CapacityRange:      capRange,
		VolumeCapabilities: []*csipb.VolumeCapability{capability},
		Parameters:         params,
	}
	if node != nil {
		for _, d := range csiNode.GetSpec().GetDrivers() {
			if d.GetName() != driver || len(d.GetTopologyKeys()) == 0 {
				continue
			}
			seg := map[string]string{}
			for _, k := range d.GetTopologyKeys() {
				v, ok := node.GetMetadata().GetLabels()[k]
				if !ok {
					return nil, fmt.Errorf("node %s has no label %s, a topology key of CSI driver %s", node.GetMetadata().GetName(), k, driver)
				}
				seg[k] = v
			}
			t := &csipb.Topology{Segments: seg}
			r.AccessibilityRequirements = &csipb.TopologyRequirement{Requisite: []*csipb.Topology{t}, Preferred: []*csipb.Topology{t}}
		}
	}
	return r, nil
}

// VolumeFromResponse is the PersistentVolume describing the volume driver
// made for claim (the PV controller completes it): a csi source (driver,
// the volume id as handle, the class's fstype, the volume context as
// attributes), the capacity the driver reports (the claim's request when
// it reports none), and node affinity from the volume's accessible
// topology (one term per topology, each requiring its segments).
func VolumeFromResponse(driver string, resp *csipb.CreateVolumeResponse, claim *corev1.PersistentVolumeClaim, class *storagev1.StorageClass) (*corev1.PersistentVolume, error) {
	vol := resp.GetVolume()
	if vol.GetVolumeId() == "" {
		return nil, fmt.Errorf("CreateVolume of %s returned no volume id", driver)
	}
	size := claim.GetSpec().GetResources().GetRequests()["storage"].GetString_()
	if b := vol.GetCapacityBytes(); b > 0 {
		size = resource.NewQuantity(b, resource.BinarySI).String()
	}
	fsType := ""
	for k, v := range class.GetParameters() {
		if strings.EqualFold(k, csi.FSTypeParameter) {
			fsType = v
		}
	}
	pv := &corev1.PersistentVolume{
		Metadata: &metav1.ObjectMeta{},
		Spec: &corev1.PersistentVolumeSpec{
			Capacity: map[string]*metav1.Quantity{"storage": {String_: size}},
			Csi: &corev1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: vol.GetVolumeId(), FsType: fsType,
				VolumeAttributes: vol.GetVolumeContext()},
		},
	}
	var terms []*corev1.NodeSelectorTerm
	for _, t := range vol.GetAccessibleTopology() {
		var reqs []*corev1.NodeSelectorRequirement
		for _, k := range sortedKeys(t.GetSegments()) {
			reqs = append(reqs, &corev1.NodeSelectorRequirement{Key: k, Operator: "In", Values: []string{t.GetSegments()[k]}})
		}
		if len(reqs) > 0 {
			terms = append(terms, &corev1.NodeSelectorTerm{MatchExpressions: reqs})
		}
	}
	if len(terms) > 0 {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: terms}}
	}
	return pv, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
