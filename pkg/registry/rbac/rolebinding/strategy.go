// Package rolebinding is the strategy of the RoleBinding kind
// (rbac.authorization.k8s.io/v1): a Role, or a ClusterRole within one
// namespace, given to users, groups and service accounts.
package rolebinding

import (
	"keel.dev/keel/pkg/api"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the RoleBinding kind's strategy.
var Strategy = &registry.Kind[*rbacv1.RoleBinding]{
	Identity:           scheme.Kind{Group: api.GroupRBAC, Version: "v1", Kind: "RoleBinding", Resource: "rolebindings", Namespaced: true},
	NameIsPathSegment:  true,
	DefaultFunc:        defaults.RoleBinding,
	ValidateFunc:       validation.RoleBinding,
	ValidateUpdateFunc: validation.RoleBindingUpdate,
	TableColumns:       printers.RoleBindingColumns,
	RowFunc:            printers.RoleBindingRow,
	DescribeFunc:       printers.DescribeRoleBinding,
	Watchers:           registry.Watchers{GarbageCollected: true, ReadByAPIServer: true},
}
