// Package clusterrole is the strategy of the ClusterRole kind
// (rbac.authorization.k8s.io/v1): verbs on resources of every namespace,
// cluster-scoped resources and non-resource URLs.
package clusterrole

import (
	"keel.dev/keel/pkg/api"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the ClusterRole kind's strategy.
var Strategy = &registry.Kind[*rbacv1.ClusterRole]{
	Identity:          scheme.Kind{Group: api.GroupRBAC, Version: "v1", Kind: "ClusterRole", Resource: "clusterroles"},
	NameIsPathSegment: true,
	ValidateFunc:      validation.ClusterRole,
	TableColumns:      printers.RoleColumns,
	RowFunc:           printers.ClusterRoleRow,
	DescribeFunc:      printers.DescribeClusterRole,
	Watchers:          registry.Watchers{ReadByAPIServer: true},
}
