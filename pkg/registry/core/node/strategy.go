// Package node is the strategy of the Node kind (v1): cluster-scoped, and
// created with the status its kubelet posts.
package node

import (
	"k8s.io/apimachinery/pkg/fields"
	"keel.dev/keel/pkg/api"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the Node kind's strategy.
var Strategy = &registry.Kind[*corev1.Node]{
	Identity:                scheme.Kind{Version: "v1", Kind: "Node", Resource: "nodes", ShortNames: []string{"no"}},
	StatusOnCreatePermitted: true,
	DefaultFunc:             defaults.Node,
	ValidateFunc:            validation.Node,
	ValidateUpdateFunc:      validation.NodeUpdate,
	ValidateStatusFunc:      validation.NodeStatus,
	Fields:                  []string{"spec.unschedulable"},
	TableColumns:            printers.NodeColumns,
	RowFunc:                 printers.NodeRow,
	RelatedFunc:             related,
	DescribeFunc:            printers.DescribeNode,
}

// related: a node's description shows the pods bound to it and its Lease.
func related(n *corev1.Node) []registry.Query {
	name := n.GetMetadata().GetName()
	return []registry.Query{
		{Key: printers.RelatedPods, Resource: "pods", FieldSelector: fields.OneTermEqualSelector("spec.nodeName", name).String()},
		{Key: printers.RelatedLease, Resource: "leases", Namespace: api.NamespaceNodeLease, Name: name},
	}
}
