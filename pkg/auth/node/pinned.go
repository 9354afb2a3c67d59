package node

import (
	"sync"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/auth"
)

// pinnedVolumes are the PersistentVolumes whose node affinity pins them
// to one node (api.VolumePinnedNode), by name: the node's kubelet may
// read them, and remove their local-path cleanup finalizer, without a
// pod of its own using them. The zero value is empty and ready.
type pinnedVolumes struct {
	mu   sync.RWMutex
	node map[string]string // volume name -> node
}

// SetVolume records pv as it now is: pinned to a node or to none.
func (g *Graph) SetVolume(pv *corev1.PersistentVolume) {
	p := &g.pinned
	name, node := pv.GetMetadata().GetName(), api.VolumePinnedNode(pv)
	p.mu.Lock()
	defer p.mu.Unlock()
	if node == "" {
		delete(p.node, name)
		return
	}
	if p.node == nil {
		p.node = map[string]string{}
	}
	p.node[name] = node
}

// DeleteVolume forgets the volume name.
func (g *Graph) DeleteVolume(name string) {
	p := &g.pinned
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.node, name)
}

// ReplaceVolumes makes pvs the whole set of volumes (after a relist).
func (g *Graph) ReplaceVolumes(pvs []*corev1.PersistentVolume) {
	next := map[string]string{}
	for _, pv := range pvs {
		if node := api.VolumePinnedNode(pv); node != "" {
			next[pv.GetMetadata().GetName()] = node
		}
	}
	p := &g.pinned
	p.mu.Lock()
	p.node = next
	p.mu.Unlock()
}

// PinnedTo reports whether the volume name is pinned to node.
func (g *Graph) PinnedTo(node, name string) bool {
	p := &g.pinned
	p.mu.RLock()
	defer p.mu.RUnlock()
	pinned, ok := p.node[name]
	return ok && pinned == node
}

// pinnedVolume reports whether node may make the request at on
// persistentvolumes because of the volumes pinned to it: get, list or
// watch by name, and update, of a volume pinned to it; list or watch of
// the volumes labelled api.LabelLocalPathNode=NODE (the label selector
// must require it, so nothing else is listed). NodeRestriction narrows
// an update to removing the local-path cleanup finalizer.
func (z *Authorizer) pinnedVolume(node string, at auth.Attributes) bool {
	switch at.Verb {
	case "get", "update":
		return at.Name != "" && z.graph.PinnedTo(node, at.Name)
	case "list", "watch":
		if at.Name != "" {
			return z.graph.PinnedTo(node, at.Name)
		}
		if at.LabelSelector == nil {
			return false
		}
		v, ok := at.LabelSelector.RequiresExactMatch(api.LabelLocalPathNode)
		return ok && v == node
	}
	return false
}
