package node

import (
	"sync"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// Ref is an object a pod uses that the kubelet running it must read:
// Resource is "secrets", "configmaps", "serviceaccounts" or
// "persistentvolumeclaims", in the pod's namespace.
type Ref struct {
	Resource  string
	Namespace string
	Name      string
}

// PodRefs calls visit once per reference pod makes to a Secret, ConfigMap,
// ServiceAccount or PersistentVolumeClaim (duplicates included): its
// service account, image pull secrets, secret, configMap and
// persistentVolumeClaim volumes (and projected volumes' secret and
// configMap sources), and every container's (init
// containers' too) env valueFrom and envFrom. A new volume source that
// names such objects is one more case in volumeRefs.
func PodRefs(pod *corev1.Pod, visit func(resource, name string)) {
	spec := pod.GetSpec()
	if sa := spec.GetServiceAccountName(); sa != "" {
		visit("serviceaccounts", sa)
	}
	for _, s := range spec.GetImagePullSecrets() {
		if s.GetName() != "" {
			visit("secrets", s.GetName())
		}
	}
	for _, v := range spec.GetVolumes() {
		volumeRefs(v, visit)
	}
	for _, cs := range [][]*corev1.Container{spec.GetInitContainers(), spec.GetContainers()} {
		for _, c := range cs {
			for _, e := range c.GetEnvFrom() {
				if n := e.GetSecretRef().GetName(); n != "" {
					visit("secrets", n)
				}
				if n := e.GetConfigMapRef().GetName(); n != "" {
					visit("configmaps", n)
				}
			}
			for _, e := range c.GetEnv() {
				if n := e.GetValueFrom().GetSecretKeyRef().GetName(); n != "" {
					visit("secrets", n)
				}
				if n := e.GetValueFrom().GetConfigMapKeyRef().GetName(); n != "" {
					visit("configmaps", n)
				}
			}
		}
	}
}

// volumeRefs visits the objects one volume's source names.
func volumeRefs(v *corev1.Volume, visit func(resource, name string)) {
	if n := v.GetSecret().GetSecretName(); n != "" {
		visit("secrets", n)
	}
	if n := v.GetConfigMap().GetName(); n != "" {
		visit("configmaps", n)
	}
	if n := v.GetPersistentVolumeClaim().GetClaimName(); n != "" {
		visit("persistentvolumeclaims", n)
	}
	for _, src := range v.GetProjected().GetSources() {
		if n := src.GetSecret().GetName(); n != "" {
			visit("secrets", n)
		}
		if n := src.GetConfigMap().GetName(); n != "" {
			visit("configmaps", n)
		}
	}
}

// Graph is what the Node authorizer decides from: which node each bound
// pod runs on and, per node, the objects its pods reference (counted, so
// that a reference stays while any pod on the node makes it). It is fed
// from a watch of pods (SetPod, DeletePod, Replace). Lookups are map
// reads. Safe for concurrent use.
type Graph struct {
	mu   sync.RWMutex
	pods map[podKey]podEntry
	refs map[string]map[Ref]int // by node name

	pinned pinnedVolumes
	storageEdges
}

type podKey struct{ namespace, name string }

type podEntry struct {
	node string
	refs []Ref
}

// NewGraph returns an empty Graph.
func NewGraph() *Graph {
	return &Graph{pods: map[podKey]podEntry{}, refs: map[string]map[Ref]int{}, storageEdges: newStorageEdges()}
}

// SetPod records pod as it now is: bound to spec.nodeName with the
// references PodRefs finds. A pod not bound to a node is removed.
func (g *Graph) SetPod(pod *corev1.Pod) {
	m := pod.GetMetadata()
	key := podKey{m.GetNamespace(), m.GetName()}
	node := pod.GetSpec().GetNodeName()
	var e podEntry
	if node != "" {
		e.node = node
		PodRefs(pod, func(resource, name string) {
			e.refs = append(e.refs, Ref{Resource: resource, Namespace: key.namespace, Name: name})
		})
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.removeLocked(key)
	if node == "" {
		return
	}
	g.pods[key] = e
	refs := g.refs[node]
	if refs == nil {
		refs = map[Ref]int{}
		g.refs[node] = refs
	}
	for _, r := range e.refs {
		refs[r]++
	}
}

// DeletePod forgets the pod namespace/name.
func (g *Graph) DeletePod(namespace, name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.removeLocked(podKey{namespace, name})
}

// Replace makes pods the whole graph (after a relist).
func (g *Graph) Replace(pods []*corev1.Pod) {
	n := NewGraph()
	for _, p := range pods {
		n.SetPod(p)
	}
	g.mu.Lock()
	g.pods, g.refs = n.pods, n.refs
	g.mu.Unlock()
}

func (g *Graph) removeLocked(key podKey) {
	old, ok := g.pods[key]
	if !ok {
		return
	}
	delete(g.pods, key)
	refs := g.refs[old.node]
	for _, r := range old.refs {
		if refs[r]--; refs[r] <= 0 {
			delete(refs, r)
		}
	}
	if len(refs) == 0 {
		delete(g.refs, old.node)
	}
}

// References reports whether a pod bound to node references r.
func (g *Graph) References(node string, r Ref) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.refs[node][r] > 0
}

// Len is the number of bound pods the graph holds.
func (g *Graph) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.pods)
}
