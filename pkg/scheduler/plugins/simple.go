package plugins

import (
	"context"
	"fmt"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/taints"
)

// NodeUnschedulable rejects nodes marked spec.unschedulable (cordoned),
// unless the pod tolerates node.kubernetes.io/unschedulable:NoSchedule.
type NodeUnschedulable struct{}

var (
	_ framework.FilterPlugin      = (*NodeUnschedulable)(nil)
	_ framework.EnqueueExtensions = (*NodeUnschedulable)(nil)
)

var (
	unschedulableTaint  = &corev1.Taint{Key: api.TaintNodeUnschedulable, Effect: api.TaintEffectNoSchedule}
	statusUnschedulable = framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) were unschedulable")
	statusNodeName      = framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) didn't match the requested node name")
	statusNodeAffinity  = framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) didn't match Pod's node affinity/selector")
	statusNodePorts     = framework.NewStatus(framework.Unschedulable, "node(s) didn't have free ports for the requested pod ports")
	skip                = framework.NewStatus(framework.Skip)
)

func (*NodeUnschedulable) Name() string { return NodeUnschedulableName }

func (*NodeUnschedulable) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	if !ni.Unschedulable || taints.TaintTolerated(pod.Tolerations, unschedulableTaint) {
		return nil
	}
	return statusUnschedulable
}

func (*NodeUnschedulable) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{{Resource: framework.NodeEvent, Action: framework.Add | framework.UpdateNodeUnschedulable}}
}

// NodeName rejects every node but the one a pod's spec.nodeName names,
// when it names one.
type NodeName struct{}

var (
	_ framework.FilterPlugin      = (*NodeName)(nil)
	_ framework.EnqueueExtensions = (*NodeName)(nil)
)

func (*NodeName) Name() string { return NodeNameName }

func (*NodeName) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	if n := pod.Pod.GetSpec().GetNodeName(); n == "" || n == ni.Name {
		return nil
	}
	return statusNodeName
}

func (*NodeName) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{{Resource: framework.NodeEvent, Action: framework.Add}}
}

// TaintToleration rejects nodes with a NoSchedule or NoExecute taint the
// pod does not tolerate (including the not-ready and unreachable taints a
// node's conditions imply), and prefers nodes with fewer untolerated
// PreferNoSchedule taints.
type TaintToleration struct{}

var (
	_ framework.FilterPlugin      = (*TaintToleration)(nil)
	_ framework.ScorePlugin       = (*TaintToleration)(nil)
	_ framework.EnqueueExtensions = (*TaintToleration)(nil)
)

func (*TaintToleration) Name() string { return TaintTolerationName }

func (*TaintToleration) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	t := taints.FirstUntoleratedTaint(ni.Taints, pod.Tolerations, api.TaintEffectNoSchedule, api.TaintEffectNoExecute)
	if t == nil {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.GetKey(), t.GetValue()))
}

// Score counts the untolerated PreferNoSchedule taints (normalized so that
// fewer is better).
func (*TaintToleration) Score(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) (int64, *framework.Status) {
	var n int64
	for _, t := range ni.Taints {
		if t.GetEffect() != api.TaintEffectPreferNoSchedule {
			continue
		}
		tolerated := false
		for _, tol := range pod.Tolerations {
			if (tol.GetEffect() == "" || tol.GetEffect() == api.TaintEffectPreferNoSchedule) && taints.Tolerates(tol, t) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			n++
		}
	}
	return n, nil
}

func (p *TaintToleration) ScoreExtensions() framework.ScoreExtensions { return p }

func (*TaintToleration) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, scores []framework.NodeScore) *framework.Status {
	defaultNormalize(scores, true)
	return nil
}

func (*TaintToleration) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{{Resource: framework.NodeEvent, Action: framework.Add | framework.UpdateNodeTaint}}
}

// NodeAffinity enforces spec.nodeSelector and the required node affinity
// (In, NotIn, Exists, DoesNotExist, Gt, Lt on labels; In, NotIn on
// metadata.name), and scores nodes by the summed weights of the preferred
// terms they match.
type NodeAffinity struct{}

var (
	_ framework.PreFilterPlugin   = (*NodeAffinity)(nil)
	_ framework.FilterPlugin      = (*NodeAffinity)(nil)
	_ framework.PreScorePlugin    = (*NodeAffinity)(nil)
	_ framework.ScorePlugin       = (*NodeAffinity)(nil)
	_ framework.EnqueueExtensions = (*NodeAffinity)(nil)
)

func (*NodeAffinity) Name() string { return NodeAffinityName }

// PreFilter narrows the cycle to the nodes the required node affinity
// names, when it names them (a DaemonSet's pod names its one node): the
// other nodes are not filtered at all.
func (p *NodeAffinity) PreFilter(_ context.Context, state *framework.CycleState, pod *framework.PodInfo) *framework.Status {
	if pod.NodeSelector == nil {
		return skip
	}
	if names, ok := pod.NodeSelector.NodeNames(); ok {
		state.NarrowNodes(p.Name(), names, statusNodeAffinity)
	}
	return nil
}

func (*NodeAffinity) PreFilterExtensions() framework.PreFilterExtensions { return nil }

func (*NodeAffinity) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	if pod.NodeSelector.Matches(ni.Name, ni.Labels) {
		return nil
	}
	return statusNodeAffinity
}

func (*NodeAffinity) PreScore(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	if len(pod.PreferredNodeTerms) == 0 {
		return skip
	}
	return nil
}

func (*NodeAffinity) Score(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) (int64, *framework.Status) {
	var s int64
	for i := range pod.PreferredNodeTerms {
		if t := &pod.PreferredNodeTerms[i]; t.Matches(ni.Name, ni.Labels) {
			s += int64(t.Weight)
		}
	}
	return s, nil
}

func (p *NodeAffinity) ScoreExtensions() framework.ScoreExtensions { return p }

func (*NodeAffinity) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, scores []framework.NodeScore) *framework.Status {
	defaultNormalize(scores, false)
	return nil
}

func (*NodeAffinity) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{{Resource: framework.NodeEvent, Action: framework.Add | framework.UpdateNodeLabel}}
}

// NodePorts rejects nodes where a host port the pod needs is taken.
type NodePorts struct{}

var (
	_ framework.PreFilterPlugin   = (*NodePorts)(nil)
	_ framework.FilterPlugin      = (*NodePorts)(nil)
	_ framework.EnqueueExtensions = (*NodePorts)(nil)
)

func (*NodePorts) Name() string { return NodePortsName }

func (*NodePorts) PreFilter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo) *framework.Status {
	if len(pod.HostPorts) == 0 {
		return skip
	}
	return nil
}

func (*NodePorts) PreFilterExtensions() framework.PreFilterExtensions { return nil }

func (*NodePorts) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	if ni.PortsInUse(pod.HostPorts) {
		return statusNodePorts
	}
	return nil
}

func (*NodePorts) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.NodeEvent, Action: framework.Add},
		{Resource: framework.AssignedPodEvent, Action: framework.Delete | framework.UpdatePodRequest},
	}
}

// DefaultBinder binds through the API's pods/binding.
type DefaultBinder struct {
	bind BindFunc
}

var _ framework.BindPlugin = (*DefaultBinder)(nil)

func (*DefaultBinder) Name() string { return DefaultBinderName }

func (b *DefaultBinder) Bind(ctx context.Context, _ *framework.CycleState, pod *framework.PodInfo, node string) *framework.Status {
	return framework.AsStatus(b.bind(ctx, pod, node))
}
