// Package cache is the scheduler's view of the cluster: nodes, the pods
// bound to them, and the pods the scheduler has assumed onto nodes while
// their bindings are in flight (so the next cycle already counts them).
//
// The cache is owned by one goroutine, the scheduling loop: it applies the
// informers' changes and the loop's own assumptions between cycles, and
// serves as the cycles' read-only framework.Snapshot during them. It has
// no locks; nothing else may touch it.
package cache

import (
	"fmt"
	"sort"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/scheduler/framework"
)

type podState struct {
	pi   *framework.PodInfo
	node string
	// assumed: placed by the scheduler, not yet seen bound by the
	// informer.
	assumed bool
}

// Cache holds nodes and placed pods.
type Cache struct {
	nodes    map[string]*framework.NodeInfo
	pods     map[string]*podState // by uid
	nsLabels map[string]map[string]string
	groups   *framework.GroupIndex

	// The snapshot lists, rebuilt by Prepare when dirty.
	list         []*framework.NodeInfo
	withAffinity []*framework.NodeInfo
	withAnti     []*framework.NodeInfo
	listDirty    bool
	affDirty     bool
}

var _ framework.Snapshot = (*Cache)(nil)

// New returns an empty cache.
func New() *Cache {
	return &Cache{nodes: map[string]*framework.NodeInfo{}, pods: map[string]*podState{}, nsLabels: map[string]map[string]string{}, groups: framework.NewGroupIndex()}
}

// Prepare brings the snapshot lists up to date; call it before a cycle.
func (c *Cache) Prepare() {
	if c.listDirty {
		c.list = c.list[:0]
		for _, ni := range c.nodes {
			if ni.Node != nil {
				c.list = append(c.list, ni)
			}
		}
		sort.Slice(c.list, func(i, j int) bool { return c.list[i].Name < c.list[j].Name })
		c.listDirty = false
		c.affDirty = true
	}
	if c.affDirty {
		c.withAffinity, c.withAnti = c.withAffinity[:0], c.withAnti[:0]
		for _, ni := range c.list {
			if len(ni.PodsWithAffinity) > 0 {
				c.withAffinity = append(c.withAffinity, ni)
			}
			if len(ni.PodsWithRequiredAntiAffinity) > 0 {
				c.withAnti = append(c.withAnti, ni)
			}
		}
		c.affDirty = false
	}
}

// NodeInfos implements framework.Snapshot (nodes by name).
func (c *Cache) NodeInfos() []*framework.NodeInfo { return c.list }

// Get implements framework.Snapshot.
func (c *Cache) Get(name string) *framework.NodeInfo { return c.nodes[name] }

// HavePodsWithAffinity implements framework.Snapshot.
func (c *Cache) HavePodsWithAffinity() []*framework.NodeInfo { return c.withAffinity }

// HavePodsWithRequiredAntiAffinity implements framework.Snapshot.
func (c *Cache) HavePodsWithRequiredAntiAffinity() []*framework.NodeInfo { return c.withAnti }

// NamespaceLabels implements framework.Snapshot.
func (c *Cache) NamespaceLabels(ns string) map[string]string { return c.nsLabels[ns] }

// Groups implements framework.Snapshot.
func (c *Cache) Groups() *framework.GroupIndex { return c.groups }

// NodeCount is the number of nodes with a Node object.
func (c *Cache) NodeCount() int {
	n := 0
	for _, ni := range c.nodes {
		if ni.Node != nil {
			n++
		}
	}
	return n
}

// PodCount is the number of placed pods (assumed included).
func (c *Cache) PodCount() int { return len(c.pods) }

// SetNode adds or replaces a node.
func (c *Cache) SetNode(node *corev1.Node) {
	name := node.GetMetadata().GetName()
	ni, ok := c.nodes[name]
	if !ok {
		ni = framework.NewNodeInfo(nil)
		c.nodes[name] = ni
	}
	if ni.Node == nil {
		c.listDirty = true
	}
	ni.SetNode(node)
}

// RemoveNode removes a node. Pods still bound to it keep a placeholder
// until they go.
func (c *Cache) RemoveNode(name string) {
	ni, ok := c.nodes[name]
	if !ok {
		return
	}
	c.listDirty = true
	if len(ni.Pods) == 0 {
		delete(c.nodes, name)
		return
	}
	ni.Node = nil
}

// SetNamespace records a namespace's labels (nil removes it).
func (c *Cache) SetNamespace(name string, labels map[string]string) {
	if labels == nil {
		delete(c.nsLabels, name)
		return
	}
	c.nsLabels[name] = labels
}

func (c *Cache) nodeFor(name string) *framework.NodeInfo {
	ni, ok := c.nodes[name]
	if !ok {
		ni = framework.NewNodeInfo(nil)
		ni.Name = name
		c.nodes[name] = ni
	}
	return ni
}

func (c *Cache) place(pi *framework.PodInfo, node string) {
	ni := c.nodeFor(node)
	hadAff, hadAnti := len(ni.PodsWithAffinity) > 0, len(ni.PodsWithRequiredAntiAffinity) > 0
	ni.AddPod(pi)
	c.groups.Add(pi, node)
	if hadAff != (len(ni.PodsWithAffinity) > 0) || hadAnti != (len(ni.PodsWithRequiredAntiAffinity) > 0) {
		c.affDirty = true
	}
}

func (c *Cache) unplace(pi *framework.PodInfo, node string) {
	ni, ok := c.nodes[node]
	if !ok {
		return
	}
	hadAff, hadAnti := len(ni.PodsWithAffinity) > 0, len(ni.PodsWithRequiredAntiAffinity) > 0
	if !ni.RemovePod(pi) {
		return
	}
	c.groups.Remove(pi, node)
	if hadAff != (len(ni.PodsWithAffinity) > 0) || hadAnti != (len(ni.PodsWithRequiredAntiAffinity) > 0) {
		c.affDirty = true
	}
	if ni.Node == nil && len(ni.Pods) == 0 {
		delete(c.nodes, node)
	}
}

// AssumePod places pi on node before its binding is confirmed.
func (c *Cache) AssumePod(pi *framework.PodInfo, node string) error {
	if _, ok := c.pods[pi.UID]; ok {
		return fmt.Errorf("pod %s (%s) is already in the cache", pi.Key, pi.UID)
	}
	c.pods[pi.UID] = &podState{pi: pi, node: node, assumed: true}
	c.place(pi, node)
	return nil
}

// ForgetPod undoes AssumePod (the binding failed). A pod the informer has
// meanwhile seen bound stays.
func (c *Cache) ForgetPod(uid string) {
	ps, ok := c.pods[uid]
	if !ok || !ps.assumed {
		return
	}
	c.unplace(ps.pi, ps.node)
	delete(c.pods, uid)
}

// IsAssumed reports whether the pod is assumed and not yet confirmed.
func (c *Cache) IsAssumed(uid string) bool {
	ps, ok := c.pods[uid]
	return ok && ps.assumed
}

// Has reports whether the pod is placed (assumed or bound).
func (c *Cache) Has(uid string) bool {
	_, ok := c.pods[uid]
	return ok
}

// NodeOf returns the node a placed pod is on.
func (c *Cache) NodeOf(uid string) (string, bool) {
	ps, ok := c.pods[uid]
	if !ok {
		return "", false
	}
	return ps.node, true
}

// SetPod records a pod the informer reports bound to pi.Pod's node (a new
// pod, an update, or the confirmation of an assumed pod). It returns the
// previous PodInfo (nil if the pod was not placed).
func (c *Cache) SetPod(pi *framework.PodInfo) *framework.PodInfo {
	node := pi.Pod.GetSpec().GetNodeName()
	ps, ok := c.pods[pi.UID]
	if !ok {
		c.pods[pi.UID] = &podState{pi: pi, node: node}
		c.place(pi, node)
		return nil
	}
	old := ps.pi
	c.unplace(ps.pi, ps.node)
	ps.pi, ps.node, ps.assumed = pi, node, false
	c.place(pi, node)
	return old
}

// RemovePod removes a placed pod (deleted, or finished); it returns the
// removed PodInfo (nil if it was not placed).
func (c *Cache) RemovePod(uid string) *framework.PodInfo {
	ps, ok := c.pods[uid]
	if !ok {
		return nil
	}
	c.unplace(ps.pi, ps.node)
	delete(c.pods, uid)
	return ps.pi
}
