// Package clusterrolebinding is the strategy of the ClusterRoleBinding kind
// (rbac.authorization.k8s.io/v1): a ClusterRole given across the cluster.
package clusterrolebinding

import (
	"keel.dev/keel/pkg/api"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the ClusterRoleBinding kind's strategy.
var Strategy = &registry.Kind[*rbacv1.ClusterRoleBinding]{
	Identity:           scheme.Kind{Group: api.GroupRBAC, Version: "v1", Kind: "ClusterRoleBinding", Resource: "clusterrolebindings"},
	NameIsPathSegment:  true,
	DefaultFunc:        defaults.ClusterRoleBinding,
	ValidateFunc:       validation.ClusterRoleBinding,
	ValidateUpdateFunc: validation.ClusterRoleBindingUpdate,
	TableColumns:       printers.RoleBindingColumns,
	RowFunc:            printers.ClusterRoleBindingRow,
	DescribeFunc:       printers.DescribeClusterRoleBinding,
	Watchers:           registry.Watchers{ReadByAPIServer: true},
}
