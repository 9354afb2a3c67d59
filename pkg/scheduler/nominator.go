package scheduler

import "keel.dev/keel/pkg/scheduler/framework"

// nominator records the node each pending pod was nominated to by
// preemption (ours, or read from status.nominatedNodeName). It is owned by
// the scheduling loop and read-only during cycles.
type nominator struct {
	byNode map[string][]*framework.PodInfo
	node   map[string]string // uid -> node
}

var _ framework.NominatorWithNode = (*nominator)(nil)

func newNominator() *nominator {
	return &nominator{byNode: map[string][]*framework.PodInfo{}, node: map[string]string{}}
}

func (n *nominator) NominatedPodsForNode(node string) []*framework.PodInfo { return n.byNode[node] }

func (n *nominator) NominatedNodeName(pi *framework.PodInfo) string { return n.node[pi.UID] }

// add nominates node for pi (replacing an earlier nomination).
func (n *nominator) add(pi *framework.PodInfo, node string) {
	n.delete(pi.UID)
	n.node[pi.UID] = node
	n.byNode[node] = append(n.byNode[node], pi)
}

// refresh replaces the PodInfo of a nominated pod by a newer one.
func (n *nominator) refresh(pi *framework.PodInfo) {
	node, ok := n.node[pi.UID]
	if !ok {
		return
	}
	for i, p := range n.byNode[node] {
		if p.UID == pi.UID {
			n.byNode[node][i] = pi
		}
	}
}

func (n *nominator) delete(uid string) {
	node, ok := n.node[uid]
	if !ok {
		return
	}
	delete(n.node, uid)
	pods := n.byNode[node]
	for i, p := range pods {
		if p.UID == uid {
			pods = append(pods[:i:i], pods[i+1:]...)
			break
		}
	}
	if len(pods) == 0 {
		delete(n.byNode, node)
	} else {
		n.byNode[node] = pods
	}
}
