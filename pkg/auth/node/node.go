// Package node is Kubernetes' Node authorizer: it lets a kubelet
// (user system:node:NAME in group system:nodes) do what running its
// node's pods needs, and no more.
//
//   - Secrets, ConfigMaps and ServiceAccounts: get (and list or watch of
//     one name, as Kubernetes' field selector metadata.name=NAME) only of
//     objects a pod bound to the node references (Graph, fed from a watch
//     of pods); serviceaccounts/token create only for such a
//     ServiceAccount.
//   - Nodes: get, list and watch any; create, update, patch and delete
//     (nodes and nodes/status) only its own.
//   - Leases in kube-node-lease: only the one named after the node.
//   - PersistentVolumes pinned to the node by their node affinity: get,
//     list and watch, and update (see pinnedVolume).
//   - PersistentVolumeClaims: get (by name) of those its pods mount;
//     PersistentVolumes: also those the claims are bound to (Graph, also
//     fed from a watch of claims); VolumeAttachments: of those to the
//     node (fed from a watch of attachments), and list and watch of those
//     labelled api.LabelAttachmentNode=NODE (the selector must require it).
//   - CSINodes: read any; create, update, patch and delete only its own.
//   - Anything else: the rules of the system:node ClusterRole
//     (bootstrappolicy.NodeRules); the NodeRestriction admission plugin
//     then narrows pod writes to the node's own pods.
//
// A request the authorizer does not allow gets no opinion (false, no
// error): the next authorizer (RBAC) decides, as for every caller that
// is not a node.
package node

import (
	"context"
	"strings"

	"keel.dev/keel/pkg/api"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/bootstrappolicy"
	"keel.dev/keel/pkg/auth/rbac"
)

// NodeName returns the node a user is the kubelet of: its name without
// the system:node: prefix, when it is in group system:nodes; ok false
// for any other user.
func NodeName(u auth.User) (name string, ok bool) {
	if !u.InGroup(auth.GroupNodes) || !strings.HasPrefix(u.Name, auth.NodeUserPrefix) {
		return "", false
	}
	name = strings.TrimPrefix(u.Name, auth.NodeUserPrefix)
	return name, name != ""
}

// Authorizer is the Node auth.Authorizer. Graph must be kept up to date
// by the caller. Safe for concurrent use.
type Authorizer struct {
	graph *Graph
	rules []*rbacv1.PolicyRule
}

var _ auth.Authorizer = (*Authorizer)(nil)

// New returns the Node authorizer deciding from g.
func New(g *Graph) *Authorizer {
	return &Authorizer{graph: g, rules: bootstrappolicy.NodeRules()}
}

const groupCoordination = "coordination.k8s.io"

// Authorize implements auth.Authorizer. A denial's reason says what a
// node may do instead; it never fails.
func (z *Authorizer) Authorize(_ context.Context, at auth.Attributes) (bool, string, error) {
	node, ok := NodeName(at.User)
	if !ok {
		return false, "", nil
	}
	if at.APIGroup == "" && at.Resource == "persistentvolumes" && z.pinnedVolume(node, at) {
		return true, "", nil
	}
	switch {
	case at.APIGroup == "" && (at.Resource == "secrets" || at.Resource == "configmaps" || at.Resource == "serviceaccounts" ||
		at.Resource == "persistentvolumeclaims"):
		return z.referenced(node, at)
	case at.APIGroup == "" && at.Resource == "serviceaccounts/token":
		if at.Verb != "create" {
			return false, "", nil
		}
		return z.referenced(node, auth.Attributes{Verb: "get", Resource: "serviceaccounts", Namespace: at.Namespace, Name: at.Name})
	case at.APIGroup == "" && (at.Resource == "nodes" || at.Resource == "nodes/status"):
		switch at.Verb {
		case "get", "list", "watch":
			return at.Resource == "nodes", "", nil
		case "create", "update", "patch", "delete":
			if at.Name == node {
				return true, "", nil
			}
			return false, "node " + quote(node) + " can only change its own Node object", nil
		}
		return false, "", nil
	case at.APIGroup == groupCoordination && at.Resource == "leases":
		switch at.Verb {
		case "get", "create", "update", "patch", "delete":
			if at.Namespace == api.NamespaceNodeLease && at.Name == node {
				return true, "", nil
			}
		}
		return false, "node " + quote(node) + " can only use its own Lease in the namespace " + quote(api.NamespaceNodeLease), nil
	case at.APIGroup == "" && at.Resource == "persistentvolumes":
		return z.readByName(node, at, z.graph.UsesVolume)
	case at.APIGroup == api.GroupStorage && at.Resource == "volumeattachments":
		if (at.Verb == "list" || at.Verb == "watch") && at.Name == "" && at.LabelSelector != nil {
			if v, ok := at.LabelSelector.RequiresExactMatch(api.LabelAttachmentNode); ok && v == node {
				return true, "", nil
			}
		}
		return z.readByName(node, at, z.graph.AttachedTo)
	case at.APIGroup == api.GroupStorage && at.Resource == "csinodes":
		switch at.Verb {
		case "get", "list", "watch":
			return true, "", nil
		case "create", "update", "patch", "delete":
			if at.Name == node {
				return true, "", nil
			}
			return false, "node " + quote(node) + " can only change its own CSINode object", nil
		}
		return false, "", nil
	}
	for _, r := range z.rules {
		if rbac.RuleAllows(r, at) {
			return true, "", nil
		}
	}
	return false, "", nil
}

// referenced allows reading one named object that a pod bound to node
// references.
func (z *Authorizer) referenced(node string, at auth.Attributes) (bool, string, error) {
	return z.readByName(node, at, func(node, name string) bool {
		return z.graph.References(node, Ref{Resource: at.Resource, Namespace: at.Namespace, Name: name})
	})
}

// readByName allows reading (get, or list and watch of one name) the
// object at.Name when related says node has a relationship to it.
func (z *Authorizer) readByName(node string, at auth.Attributes, related func(node, name string) bool) (bool, string, error) {
	switch at.Verb {
	case "get", "list", "watch":
	default:
		return false, "", nil
	}
	if at.Name == "" {
		return false, "node " + quote(node) + " can only read " + at.Resource + " by name", nil
	}
	if related(node, at.Name) {
		return true, "", nil
	}
	return false, "no relationship found between node " + quote(node) + " and this object", nil
}

func quote(s string) string { return "'" + s + "'" }
