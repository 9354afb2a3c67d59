package plugins

import (
	"context"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/volumematch"
)

var statusMaxVolumeCount = framework.NewStatus(framework.Unschedulable, "node(s) exceed max volume count")

// NodeVolumeLimits keeps a node's CSI volumes within what its drivers
// declare they can attach (the CSINode's spec.drivers[].allocatable.count),
// as Kubernetes' plugin of that name does. A pod's volumes are those of
// its claims' PersistentVolumes (spec.csi, counted once per driver and
// volume handle across the node's pods); an unbound claim counts as one
// new volume of its class's provisioner. Nodes without a CSINode, and
// drivers without a count, have no limit.
type NodeVolumeLimits struct {
	storage StorageLister
}

var (
	_ framework.PreFilterPlugin   = (*NodeVolumeLimits)(nil)
	_ framework.FilterPlugin      = (*NodeVolumeLimits)(nil)
	_ framework.EnqueueExtensions = (*NodeVolumeLimits)(nil)
)

func (*NodeVolumeLimits) Name() string { return NodeVolumeLimitsName }

const nodeVolumeLimitsKey framework.StateKey = NodeVolumeLimitsName

// csiVolumes are volumes by "driver/handle", each naming its driver.
type csiVolumes map[string]string

func (c csiVolumes) Clone() framework.StateData { return c } // read-only after PreFilter

// podCSIVolumes returns the CSI volumes of pod's claims. Claims and
// volumes that do not exist (yet) count for nothing: VolumeBinding
// rejects their pod.
func podCSIVolumes(pod *corev1.Pod, storage StorageLister, into csiVolumes) {
	ns := pod.GetMetadata().GetNamespace()
	for _, name := range claimNames(pod) {
		claim, ok := storage.Claim(ns, name)
		if !ok {
			continue
		}
		if vn := claim.GetSpec().GetVolumeName(); vn != "" {
			if vol, ok := storage.Volume(vn); ok && vol.GetSpec().GetCsi() != nil {
				csi := vol.GetSpec().GetCsi()
				into[csi.GetDriver()+"/"+csi.GetVolumeHandle()] = csi.GetDriver()
			}
			continue
		}
		if class, ok := storage.Class(volumematch.ClaimClass(claim)); ok && class.GetProvisioner() != "" {
			into[class.GetProvisioner()+"/claim:"+ns+"/"+name] = class.GetProvisioner()
		}
	}
}

// PreFilter finds the pod's CSI volumes; a pod without any skips the
// plugin.
func (p *NodeVolumeLimits) PreFilter(_ context.Context, state *framework.CycleState, pod *framework.PodInfo) *framework.Status {
	if !hasClaims(pod.Pod) {
		return skip
	}
	vols := csiVolumes{}
	podCSIVolumes(pod.Pod, p.storage, vols)
	if len(vols) == 0 {
		return skip
	}
	state.Write(nodeVolumeLimitsKey, vols)
	return nil
}

func (*NodeVolumeLimits) PreFilterExtensions() framework.PreFilterExtensions { return nil }

// Filter counts, per driver with a limit on the node, the volumes the
// node's pods use plus the pod's new ones.
func (p *NodeVolumeLimits) Filter(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	d, err := state.Read(nodeVolumeLimitsKey)
	if err != nil {
		return framework.AsStatus(err)
	}
	csiNode, ok := p.storage.CSINode(ni.Name)
	if !ok {
		return nil
	}
	limits := map[string]int32{}
	for _, drv := range csiNode.GetSpec().GetDrivers() {
		if a := drv.GetAllocatable(); a != nil && a.Count != nil {
			limits[drv.GetName()] = a.GetCount()
		}
	}
	newVols := d.(csiVolumes)
	limited := false
	for _, drv := range newVols {
		if _, ok := limits[drv]; ok {
			limited = true
		}
	}
	if !limited {
		return nil
	}
	inUse := csiVolumes{}
	for _, pi := range ni.Pods {
		podCSIVolumes(pi.Pod, p.storage, inUse)
	}
	counts := map[string]int32{}
	for _, drv := range inUse {
		counts[drv]++
	}
	for key, drv := range newVols {
		if _, ok := inUse[key]; !ok {
			counts[drv]++
		}
	}
	for _, drv := range newVols {
		if limit, ok := limits[drv]; ok && counts[drv] > limit {
			return statusMaxVolumeCount
		}
	}
	return nil
}

// EventsToRegister: a pod leaving the node, a CSINode (new limits), or a
// claim or volume changing may free room.
func (*NodeVolumeLimits) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.AssignedPodEvent, Action: framework.Delete},
		{Resource: framework.CSINodeEvent, Action: framework.Add | framework.UpdateObject},
		{Resource: framework.PersistentVolumeClaimEvent, Action: framework.Add | framework.UpdateObject},
		{Resource: framework.PersistentVolumeEvent, Action: framework.Add | framework.UpdateObject},
	}
}
