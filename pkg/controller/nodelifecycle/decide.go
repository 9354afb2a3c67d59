package nodelifecycle

import (
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/taints"
)

// Probe is the last heartbeat seen of a node, and when (on the
// controller's clock).
type Probe struct {
	Heartbeat time.Time
	SeenAt    time.Time
}

// Input is one snapshot to decide on. Decide does not modify it.
type Input struct {
	Nodes []*corev1.Node
	// Leases maps a node's name to its Lease's renewTime, for the nodes
	// that have one.
	Leases map[string]time.Time
	// Pods maps a node's name to the pods bound to it; needed for the
	// nodes with a NoExecute taint and those whose Ready condition is not
	// True (or turns Unknown in this pass).
	Pods map[string][]*corev1.Pod
	// Probes are the previous pass's (Plan.Probes); nil the first time.
	Probes map[string]Probe
	Now    time.Time
}

// NodeAction is what a pass writes to one node: first its status with
// every kubelet-reported condition Unknown (MarkUnknown, the node to
// write), then, on the node as written, its taints (when Taints is not
// nil). A failed MarkUnknown skips the taints.
type NodeAction struct {
	Node        *corev1.Node
	MarkUnknown *corev1.Node
	Taints      *[]*corev1.Taint
}

// Plan is what one pass does: the node writes, then the pod status
// writes, then the pod deletions (graceful, each with the pod's uid as
// precondition).
type Plan struct {
	Nodes []NodeAction
	// MarkNotReady are the pods to write with condition Ready False
	// (copies, with the cache's resourceVersion): those on nodes whose
	// Ready condition is not True, so they leave their Services'
	// endpoints, as Kubernetes' node lifecycle controller does.
	MarkNotReady []*corev1.Pod
	Evict        []*corev1.Pod
	// Probes replace Input.Probes for the next pass: one per node.
	Probes map[string]Probe
}

// Decide is one monitoring pass (see the package comment): which nodes
// to mark Unknown, which taints each node should carry, which pods to
// mark not ready, which to evict. Evictions are decided on the taints the nodes carry now (taints
// this pass adds count from the next one). Zero fields of cfg take the
// defaults.
func Decide(in Input, cfg Config) Plan {
	cfg = cfg.withDefaults()
	p := Plan{Probes: make(map[string]Probe, len(in.Nodes))}
	unhealthy := 0
	for _, n := range in.Nodes {
		name := n.GetMetadata().GetName()
		hb := ready(n).GetLastHeartbeatTime().AsTime()
		if renew, ok := in.Leases[name]; ok && renew.After(hb) {
			hb = renew
		}
		probe, ok := in.Probes[name]
		if !ok || !probe.Heartbeat.Equal(hb) {
			probe = Probe{Heartbeat: hb, SeenAt: in.Now}
		}
		p.Probes[name] = probe
		a := NodeAction{Node: n}
		status := ready(n).GetStatus()
		if in.Now.Sub(probe.SeenAt) > cfg.GracePeriod && status != api.ConditionUnknown {
			a.MarkUnknown = markUnknown(n, in.Now)
			status = api.ConditionUnknown
		}
		if status != api.ConditionTrue {
			unhealthy++
		}
		if next, changed := wantTaints(n.GetSpec().GetTaints(), status, in.Now); changed {
			a.Taints = &next
		}
		if a.MarkUnknown != nil || a.Taints != nil {
			p.Nodes = append(p.Nodes, a)
		}
		if status != api.ConditionTrue {
			p.MarkNotReady = append(p.MarkNotReady, markPodsNotReady(in.Pods[name], in.Now)...)
		}
	}
	fullDisruption := len(in.Nodes) > 0 && unhealthy == len(in.Nodes)
	for _, n := range in.Nodes {
		p.Evict = append(p.Evict, evictions(n, in.Pods[n.GetMetadata().GetName()], in.Now, fullDisruption, cfg)...)
	}
	return p
}

func ready(n *corev1.Node) *corev1.NodeCondition {
	return api.GetNodeCondition(n.GetStatus(), api.NodeReady)
}

// markUnknown is n with its kubelet-reported conditions (Ready at least)
// Unknown.
func markUnknown(n *corev1.Node, now time.Time) *corev1.Node {
	next := proto.Clone(n).(*corev1.Node)
	if next.Status == nil {
		next.Status = &corev1.NodeStatus{}
	}
	if ready(next) == nil {
		next.Status.Conditions = append(next.Status.Conditions, &corev1.NodeCondition{Type: api.NodeReady})
	}
	for _, cond := range next.Status.Conditions {
		if cond.GetStatus() != api.ConditionUnknown {
			cond.LastTransitionTime = timestamppb.New(now)
		}
		cond.Status, cond.Reason, cond.Message = api.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status."
	}
	return next
}

// wantTaints is cur with the not-ready and unreachable taints matching
// the Ready status (False: not-ready, Unknown: unreachable, each with
// NoSchedule and NoExecute; True: neither), and whether that differs
// from cur. Taints kept keep their timeAdded; new ones are added at now.
func wantTaints(cur []*corev1.Taint, status string, now time.Time) ([]*corev1.Taint, bool) {
	want := map[string]string{api.ConditionFalse: api.TaintNodeNotReady, api.ConditionUnknown: api.TaintNodeUnreachable}[status]
	next := slices.DeleteFunc(slices.Clone(cur), func(t *corev1.Taint) bool {
		return (t.GetKey() == api.TaintNodeNotReady || t.GetKey() == api.TaintNodeUnreachable) && t.GetKey() != want
	})
	if want != "" {
		for _, effect := range []string{api.TaintEffectNoSchedule, api.TaintEffectNoExecute} {
			if !slices.ContainsFunc(next, func(t *corev1.Taint) bool { return t.GetKey() == want && t.GetEffect() == effect }) {
				next = append(next, &corev1.Taint{Key: want, Effect: effect, TimeAdded: timestamppb.New(now)})
			}
		}
	}
	changed := len(next) != len(cur) || slices.ContainsFunc(next, func(t *corev1.Taint) bool { return !slices.Contains(cur, t) })
	return next, changed
}

// evictions are the pods of node n (not already being deleted) whose time
// under its NoExecute taints is up. In a full disruption the not-ready
// and unreachable taints evict nothing.
func evictions(n *corev1.Node, pods []*corev1.Pod, now time.Time, fullDisruption bool, cfg Config) []*corev1.Pod {
	var noExec []*corev1.Taint
	for _, t := range n.GetSpec().GetTaints() {
		if t.GetEffect() != api.TaintEffectNoExecute {
			continue
		}
		if fullDisruption && (t.GetKey() == api.TaintNodeNotReady || t.GetKey() == api.TaintNodeUnreachable) {
			continue
		}
		noExec = append(noExec, t)
	}
	if len(noExec) == 0 {
		return nil
	}
	var out []*corev1.Pod
	for _, p := range pods {
		if p.GetMetadata().GetDeletionTimestamp() == nil && due(p, noExec, now, cfg.DefaultTolerationSeconds) {
			out = append(out, p)
		}
	}
	return out
}

// due reports whether the pod's time under any of the taints is up.
func due(p *corev1.Pod, noExec []*corev1.Taint, now time.Time, defaultTolerationSeconds int64) bool {
	for _, t := range noExec {
		var matching []*corev1.Toleration
		for _, tol := range p.GetSpec().GetTolerations() {
			if taints.Tolerates(tol, t) {
				matching = append(matching, tol)
			}
		}
		limit := int64(-1) // tolerated for ever
		switch {
		case len(matching) == 0 && (t.GetKey() == api.TaintNodeNotReady || t.GetKey() == api.TaintNodeUnreachable):
			limit = defaultTolerationSeconds
		case len(matching) == 0:
			return true
		default:
			for _, tol := range matching {
				if tol.TolerationSeconds == nil {
					limit = -1
					break
				}
				limit = max(limit, tol.GetTolerationSeconds())
			}
		}
		if limit >= 0 && !now.Before(t.GetTimeAdded().AsTime().Add(time.Duration(limit)*time.Second)) {
			return true
		}
	}
	return false
}

// markPodsNotReady are copies of the pods whose Ready condition is True,
// with it False since now; pods being deleted or finished are left alone.
func markPodsNotReady(pods []*corev1.Pod, now time.Time) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if api.IsPodTerminal(p) || !api.IsPodReady(p) {
			continue
		}
		next := proto.Clone(p).(*corev1.Pod)
		for _, c := range next.Status.Conditions {
			if c.GetType() == api.PodReady {
				c.Status, c.LastTransitionTime = api.ConditionFalse, timestamppb.New(now)
			}
		}
		out = append(out, next)
	}
	return out
}
