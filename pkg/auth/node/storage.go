package node

import (
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
)

// storageEdges are the Graph's edges beyond pods: claim -> volume (a
// bound claim's spec.volumeName) and volume attachment -> node, fed from
// watches of claims and attachments. A node may read the volume of a
// claim its pods use, and the attachments to it.
type storageEdges struct {
	claimVolume    map[podKey]string // bound claims' volumes
	attachmentNode map[string]string // VolumeAttachment name -> spec.nodeName
}

func newStorageEdges() storageEdges {
	return storageEdges{claimVolume: map[podKey]string{}, attachmentNode: map[string]string{}}
}

// SetClaim records claim as it now is: bound to spec.volumeName, or
// forgotten when it names none.
func (g *Graph) SetClaim(pvc *corev1.PersistentVolumeClaim) {
	key := podKey{pvc.GetMetadata().GetNamespace(), pvc.GetMetadata().GetName()}
	g.mu.Lock()
	defer g.mu.Unlock()
	if v := pvc.GetSpec().GetVolumeName(); v != "" {
		g.claimVolume[key] = v
	} else {
		delete(g.claimVolume, key)
	}
}

// DeleteClaim forgets the claim namespace/name.
func (g *Graph) DeleteClaim(namespace, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.claimVolume, podKey{namespace, name})
}

// ReplaceClaims makes claims the whole set of claim -> volume edges.
func (g *Graph) ReplaceClaims(claims []*corev1.PersistentVolumeClaim) {
	m := make(map[podKey]string, len(claims))
	for _, c := range claims {
		if v := c.GetSpec().GetVolumeName(); v != "" {
			m[podKey{c.GetMetadata().GetNamespace(), c.GetMetadata().GetName()}] = v
		}
	}
	g.mu.Lock()
	g.claimVolume = m
	g.mu.Unlock()
}

// SetAttachment records the node a VolumeAttachment is for.
func (g *Graph) SetAttachment(va *storagev1.VolumeAttachment) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.attachmentNode[va.GetMetadata().GetName()] = va.GetSpec().GetNodeName()
}

// DeleteAttachment forgets the VolumeAttachment name (cluster-scoped: the
// namespace is empty).
func (g *Graph) DeleteAttachment(_, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.attachmentNode, name)
}

// ReplaceAttachments makes vas the whole set of attachment -> node edges.
func (g *Graph) ReplaceAttachments(vas []*storagev1.VolumeAttachment) {
	m := make(map[string]string, len(vas))
	for _, va := range vas {
		m[va.GetMetadata().GetName()] = va.GetSpec().GetNodeName()
	}
	g.mu.Lock()
	g.attachmentNode = m
	g.mu.Unlock()
}

// UsesVolume reports whether a pod bound to node uses a claim bound to
// the PersistentVolume pv.
func (g *Graph) UsesVolume(node, pv string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for r := range g.refs[node] {
		if r.Resource == "persistentvolumeclaims" && g.claimVolume[podKey{r.Namespace, r.Name}] == pv {
			return true
		}
	}
	return false
}

// AttachedTo reports whether the VolumeAttachment name is for node.
func (g *Graph) AttachedTo(node, name string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n, ok := g.attachmentNode[name]
	return ok && n == node
}
