package plugins

import (
	"context"
	"slices"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/scheduler/framework"
)

var statusReadWriteOncePodConflict = framework.NewStatus(framework.Unschedulable,
	"node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode")

// VolumeRestrictions lets one pod at a time use a claim with the
// ReadWriteOncePod access mode, as Kubernetes' plugin of that name does:
// while another placed (or assumed) pod uses such a claim of the pod,
// the pod fits no node. The rejection is Unschedulable, so preemption
// may evict the holder when it has a lower priority.
type VolumeRestrictions struct {
	handle  framework.Handle
	storage StorageLister
}

var (
	_ framework.PreFilterPlugin     = (*VolumeRestrictions)(nil)
	_ framework.PreFilterExtensions = (*VolumeRestrictions)(nil)
	_ framework.FilterPlugin        = (*VolumeRestrictions)(nil)
	_ framework.EnqueueExtensions   = (*VolumeRestrictions)(nil)
)

func (*VolumeRestrictions) Name() string { return VolumeRestrictionsName }

const volumeRestrictionsKey framework.StateKey = VolumeRestrictionsName

// rwopState is the pod's ReadWriteOncePod claims (by name, in its
// namespace) and how many other pods use one of them.
type rwopState struct {
	claims    map[string]bool
	conflicts int
}

func (s *rwopState) Clone() framework.StateData {
	c := *s
	return &c // claims is read-only
}

// PreFilter counts the placed pods that share one of the pod's
// ReadWriteOncePod claims; a pod without such claims skips the plugin.
func (p *VolumeRestrictions) PreFilter(_ context.Context, state *framework.CycleState, pod *framework.PodInfo) *framework.Status {
	ns := pod.Pod.GetMetadata().GetNamespace()
	s := &rwopState{claims: map[string]bool{}}
	for _, name := range claimNames(pod.Pod) {
		if c, ok := p.storage.Claim(ns, name); ok && slices.Contains(c.GetSpec().GetAccessModes(), api.ReadWriteOncePod) {
			s.claims[name] = true
		}
	}
	if len(s.claims) == 0 {
		return skip
	}
	for _, ni := range p.handle.Snapshot().NodeInfos() {
		for _, other := range ni.Pods {
			if other.UID != pod.UID && s.uses(other, ns) {
				s.conflicts++
			}
		}
	}
	state.Write(volumeRestrictionsKey, s)
	return nil
}

// uses reports whether other, a pod, mounts one of the claims.
func (s *rwopState) uses(other *framework.PodInfo, ns string) bool {
	if other.Pod.GetMetadata().GetNamespace() != ns {
		return false
	}
	for _, name := range claimNames(other.Pod) {
		if s.claims[name] {
			return true
		}
	}
	return false
}

func (p *VolumeRestrictions) PreFilterExtensions() framework.PreFilterExtensions { return p }

// AddPod and RemovePod keep the count right in preemption's what-ifs.
func (p *VolumeRestrictions) AddPod(_ context.Context, state *framework.CycleState, pod, add *framework.PodInfo, _ *framework.NodeInfo) *framework.Status {
	return p.update(state, pod, add, 1)
}

func (p *VolumeRestrictions) RemovePod(_ context.Context, state *framework.CycleState, pod, remove *framework.PodInfo, _ *framework.NodeInfo) *framework.Status {
	return p.update(state, pod, remove, -1)
}

func (p *VolumeRestrictions) update(state *framework.CycleState, pod, other *framework.PodInfo, delta int) *framework.Status {
	d, err := state.Read(volumeRestrictionsKey)
	if err != nil {
		return nil // skipped
	}
	s := d.(*rwopState)
	if other.UID != pod.UID && s.uses(other, pod.Pod.GetMetadata().GetNamespace()) {
		s.conflicts += delta
	}
	return nil
}

// Filter rejects every node while another pod uses one of the pod's
// ReadWriteOncePod claims.
func (p *VolumeRestrictions) Filter(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, _ *framework.NodeInfo) *framework.Status {
	d, err := state.Read(volumeRestrictionsKey)
	if err != nil {
		return framework.AsStatus(err)
	}
	if d.(*rwopState).conflicts > 0 {
		return statusReadWriteOncePodConflict
	}
	return nil
}

// EventsToRegister: the other pod leaving, or a claim changing.
func (*VolumeRestrictions) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.AssignedPodEvent, Action: framework.Delete},
		{Resource: framework.PersistentVolumeClaimEvent, Action: framework.Add | framework.UpdateObject},
	}
}
