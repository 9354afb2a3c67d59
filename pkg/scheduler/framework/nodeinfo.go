package framework

import (
	"fmt"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// NodeInfo is a node and the pods on it (bound or assumed), with the sums
// the plugins need. NodeInfos belong to the scheduler cache: only the
// scheduling loop changes them, between cycles; during a cycle plugins read
// them (from several goroutines) and never modify them. Preemption works on
// clones.
type NodeInfo struct {
	// Node is nil for a node known only through pods bound to it.
	Node   *corev1.Node
	Name   string
	Labels map[string]string
	// Taints are the node's taints plus those its conditions imply: a node
	// whose Ready condition is False or missing counts as tainted
	// node.kubernetes.io/not-ready:NoSchedule, Unknown as
	// node.kubernetes.io/unreachable:NoSchedule, as Kubernetes' node
	// lifecycle controller taints them.
	Taints        []*corev1.Taint
	Unschedulable bool
	Allocatable   Resource
	// Requested sums the Requests of Pods; NonZeroRequested their
	// NonZeroRequests.
	Requested, NonZeroRequested Resource
	Pods                        []*PodInfo
	// PodsWithAffinity have some pod (anti-)affinity term;
	// PodsWithRequiredAntiAffinity a required anti-affinity term.
	PodsWithAffinity             []*PodInfo
	PodsWithRequiredAntiAffinity []*PodInfo
	// UsedPorts are the host ports of Pods.
	UsedPorts map[HostPort]int
	// controllers counts Pods per controller uid.
	controllers map[string]int
	// Err is set when the node's allocatable could not be parsed; such a
	// node fits no pod.
	Err error
	// Generation increases with every change.
	Generation int64
}

// NewNodeInfo returns the NodeInfo of node (nil: pods only).
func NewNodeInfo(node *corev1.Node) *NodeInfo {
	ni := &NodeInfo{}
	if node != nil {
		ni.SetNode(node)
	}
	return ni
}

// SetNode sets or replaces the node object.
func (n *NodeInfo) SetNode(node *corev1.Node) {
	n.Node = node
	n.Name = node.GetMetadata().GetName()
	n.Labels = node.GetMetadata().GetLabels()
	n.Unschedulable = node.GetSpec().GetUnschedulable()
	n.Taints = EffectiveTaints(node)
	a, err := ResourceFromList(node.GetStatus().GetAllocatable())
	n.Allocatable, n.Err = a, nil
	if err != nil {
		n.Err = fmt.Errorf("node %s: allocatable: %w", n.Name, err)
	}
	n.Generation++
}

// EffectiveTaints are node's taints plus those implied by its Ready
// condition (see NodeInfo.Taints).
func EffectiveTaints(node *corev1.Node) []*corev1.Taint {
	taints := node.GetSpec().GetTaints()
	implied := ""
	switch ReadyStatus(node) {
	case api.ConditionTrue:
	case api.ConditionUnknown:
		implied = api.TaintNodeUnreachable
	default:
		implied = api.TaintNodeNotReady
	}
	if implied == "" {
		return taints
	}
	for _, t := range taints {
		if t.GetKey() == implied && t.GetEffect() == api.TaintEffectNoSchedule {
			return taints
		}
	}
	out := make([]*corev1.Taint, 0, len(taints)+1)
	out = append(out, taints...)
	return append(out, &corev1.Taint{Key: implied, Effect: api.TaintEffectNoSchedule})
}

// ReadyStatus is the status of node's Ready condition ("" if absent).
func ReadyStatus(node *corev1.Node) string {
	return api.GetNodeCondition(node.GetStatus(), api.NodeReady).GetStatus()
}

// AddPod accounts pod on the node.
func (n *NodeInfo) AddPod(pi *PodInfo) {
	n.Pods = append(n.Pods, pi)
	if pi.HasAffinity() {
		n.PodsWithAffinity = append(n.PodsWithAffinity, pi)
	}
	if len(pi.RequiredAntiAffinityTerms) > 0 {
		n.PodsWithRequiredAntiAffinity = append(n.PodsWithRequiredAntiAffinity, pi)
	}
	n.Requested.Add(&pi.Requests)
	n.NonZeroRequested.Add(&pi.NonZeroRequests)
	for _, p := range pi.HostPorts {
		if n.UsedPorts == nil {
			n.UsedPorts = map[HostPort]int{}
		}
		n.UsedPorts[p]++
	}
	if pi.ControllerUID != "" {
		if n.controllers == nil {
			n.controllers = map[string]int{}
		}
		n.controllers[pi.ControllerUID]++
	}
	n.Generation++
}

// RemovePod removes the pod with pi's UID; it reports whether it was there.
func (n *NodeInfo) RemovePod(pi *PodInfo) bool {
	idx := -1
	for i, p := range n.Pods {
		if p.UID == pi.UID {
			idx = i
			break
		}
	}
	if idx < 0 {
		return false
	}
	old := n.Pods[idx]
	n.Pods = removeAt(n.Pods, idx)
	n.PodsWithAffinity = removeUID(n.PodsWithAffinity, old.UID)
	n.PodsWithRequiredAntiAffinity = removeUID(n.PodsWithRequiredAntiAffinity, old.UID)
	n.Requested.Sub(&old.Requests)
	n.NonZeroRequested.Sub(&old.NonZeroRequests)
	for _, p := range old.HostPorts {
		if n.UsedPorts[p]--; n.UsedPorts[p] <= 0 {
			delete(n.UsedPorts, p)
		}
	}
	if old.ControllerUID != "" {
		if n.controllers[old.ControllerUID]--; n.controllers[old.ControllerUID] <= 0 {
			delete(n.controllers, old.ControllerUID)
		}
	}
	n.Generation++
	return true
}

func removeAt(s []*PodInfo, i int) []*PodInfo {
	last := len(s) - 1
	s[i] = s[last]
	s[last] = nil
	return s[:last]
}

func removeUID(s []*PodInfo, uid string) []*PodInfo {
	for i, p := range s {
		if p.UID == uid {
			return removeAt(s, i)
		}
	}
	return s
}

// ControllerCount is the number of pods on the node controlled by uid.
func (n *NodeInfo) ControllerCount(uid string) int { return n.controllers[uid] }

// PortsInUse reports whether any of ports conflicts with a used host port:
// same protocol and port, and the same IP or either IP is 0.0.0.0.
func (n *NodeInfo) PortsInUse(ports []HostPort) bool {
	if len(n.UsedPorts) == 0 {
		return false
	}
	for _, p := range ports {
		for u := range n.UsedPorts {
			if u.Port != p.Port || u.Protocol != p.Protocol {
				continue
			}
			if u.IP == p.IP || u.IP == "0.0.0.0" || p.IP == "0.0.0.0" {
				return true
			}
		}
	}
	return false
}

// Clone returns a copy that can be changed without affecting n (the
// PodInfos themselves are shared: they are immutable).
func (n *NodeInfo) Clone() *NodeInfo {
	c := *n
	c.Allocatable = n.Allocatable.Clone()
	c.Requested = n.Requested.Clone()
	c.NonZeroRequested = n.NonZeroRequested.Clone()
	c.Pods = append([]*PodInfo(nil), n.Pods...)
	c.PodsWithAffinity = append([]*PodInfo(nil), n.PodsWithAffinity...)
	c.PodsWithRequiredAntiAffinity = append([]*PodInfo(nil), n.PodsWithRequiredAntiAffinity...)
	if n.UsedPorts != nil {
		c.UsedPorts = make(map[HostPort]int, len(n.UsedPorts))
		for k, v := range n.UsedPorts {
			c.UsedPorts[k] = v
		}
	}
	if n.controllers != nil {
		c.controllers = make(map[string]int, len(n.controllers))
		for k, v := range n.controllers {
			c.controllers[k] = v
		}
	}
	return &c
}
