package admission

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/node"
)

// MirrorPodAnnotation marks a pod the kubelet created to show a static
// pod: the only pods a node may create.
const MirrorPodAnnotation = "kubernetes.io/config.mirror"

// LabelNodeRestrictionPrefix is the label domain that kubelets may not
// set on their Node: labels under it are trustworthy for placing
// workloads (node-restriction.kubernetes.io/).
const LabelNodeRestrictionPrefix = "node-restriction.kubernetes.io/"

// NodeRestriction limits what a kubelet (system:node:NAME, see
// node.NodeName) may write, deciding from the stored objects, as
// Kubernetes' plugin of that name:
//
//   - its own Node only; on create no labels under
//     node-restriction.kubernetes.io/ nor kubernetes.io/ and k8s.io labels
//     beyond those kubelets set (AllowedNodeLabel); on update no change to
//     such labels, nor to taints;
//   - pods: create only mirror pods bound to itself, update the status
//     and delete only of pods bound to itself, nothing else;
//   - persistentvolumes: only remove the local-path cleanup finalizer of
//     a volume pinned to itself (admitVolume).
//
// Other callers, and other kinds, pass.
type NodeRestriction struct{}

var _ Validator = NodeRestriction{}

// Name implements Validator.
func (NodeRestriction) Name() string { return "NodeRestriction" }

// Validate implements Validator.
func (NodeRestriction) Validate(ctx context.Context, a *Attributes, _ Objects) error {
	u, _ := auth.UserFrom(ctx)
	self, ok := node.NodeName(u)
	if !ok {
		return nil
	}
	switch a.Kind.Resource {
	case "nodes":
		return admitNode(self, a)
	case "pods":
		return admitPod(self, a)
	case "persistentvolumes":
		return admitVolume(self, a)
	}
	return nil
}

func admitNode(self string, a *Attributes) error {
	if a.Name != self {
		return apierrors.Forbidden("nodes", a.Name, fmt.Sprintf("node %q is not allowed to modify node %q", self, a.Name))
	}
	switch a.Operation {
	case Create:
		n := a.Object.(*corev1.Node)
		var bad []string
		for k := range n.GetMetadata().GetLabels() {
			if !AllowedNodeLabel(k) {
				bad = append(bad, k)
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			return apierrors.Forbidden("nodes", a.Name, fmt.Sprintf("node %q is not allowed to set the following labels: %s", self, strings.Join(bad, ", ")))
		}
	case Update:
		n, old := a.Object.(*corev1.Node), a.OldObject.(*corev1.Node)
		newL, oldL := n.GetMetadata().GetLabels(), old.GetMetadata().GetLabels()
		var bad []string
		for _, ls := range []map[string]string{newL, oldL} {
			for k := range ls {
				if !AllowedNodeLabel(k) && !slices.Contains(bad, k) {
					nv, nok := newL[k]
					ov, ook := oldL[k]
					if nv != ov || nok != ook {
						bad = append(bad, k)
					}
				}
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			return apierrors.Forbidden("nodes", a.Name, fmt.Sprintf("node %q is not allowed to modify labels: %s", self, strings.Join(bad, ", ")))
		}
		if !taintsEqual(n.GetSpec().GetTaints(), old.GetSpec().GetTaints()) {
			return apierrors.Forbidden("nodes", a.Name, fmt.Sprintf("node %q is not allowed to modify taints", self))
		}
	}
	return nil
}

func taintsEqual(a, b []*corev1.Taint) bool {
	return slices.EqualFunc(a, b, func(x, y *corev1.Taint) bool { return proto.Equal(x, y) })
}

// AllowedNodeLabel reports whether a kubelet may set label key on its
// Node: any label outside the kubernetes.io and k8s.io domains, and
// within them the well-known ones kubelets report (hostname, os, arch,
// instance type, region and zone) and those under kubelet.kubernetes.io/
// and node.kubernetes.io/; never one under node-restriction.kubernetes.io/.
func AllowedNodeLabel(key string) bool {
	domain, _, ok := strings.Cut(key, "/")
	if !ok {
		return true
	}
	under := func(d string) bool { return domain == d || strings.HasSuffix(domain, "."+d) }
	switch {
	case under("node-restriction.kubernetes.io"):
		return false
	case under("kubelet.kubernetes.io"), under("node.kubernetes.io"):
		return true
	case under("kubernetes.io"), under("k8s.io"):
		return slices.Contains(kubeletLabels, key)
	}
	return true
}

// kubeletLabels are the kubernetes.io labels a kubelet sets on its Node.
var kubeletLabels = []string{
	"kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch",
	"beta.kubernetes.io/os", "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type",
	"failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
	"topology.kubernetes.io/region", "topology.kubernetes.io/zone",
}

func admitPod(self string, a *Attributes) error {
	switch {
	case a.Operation == Create && a.Subresource == "":
		p := a.Object.(*corev1.Pod)
		if _, ok := p.GetMetadata().GetAnnotations()[MirrorPodAnnotation]; !ok {
			return apierrors.Forbidden("pods", a.Name, fmt.Sprintf("pod does not have %q annotation, node %q can only create mirror pods", MirrorPodAnnotation, self))
		}
		if p.GetSpec().GetNodeName() != self {
			return apierrors.Forbidden("pods", a.Name, fmt.Sprintf("node %q can only create pods with spec.nodeName set to itself", self))
		}
	case a.Operation == Update && a.Subresource == "status":
		if a.OldObject.(*corev1.Pod).GetSpec().GetNodeName() != self {
			return apierrors.Forbidden("pods", a.Name, fmt.Sprintf("node %q can only update pod status for pods with spec.nodeName set to itself", self))
		}
	case a.Operation == Delete:
		if a.OldObject.(*corev1.Pod).GetSpec().GetNodeName() != self {
			return apierrors.Forbidden("pods", a.Name, fmt.Sprintf("node %q can only delete pods with spec.nodeName set to itself", self))
		}
	default:
		return apierrors.Forbidden("pods", a.Name, fmt.Sprintf("node %q can only create and delete mirror pods and update the status of its own pods", self))
	}
	return nil
}
