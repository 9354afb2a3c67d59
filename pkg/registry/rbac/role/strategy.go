// Package role is the strategy of the Role kind
// (rbac.authorization.k8s.io/v1): verbs on the resources of one namespace.
package role

import (
	"keel.dev/keel/pkg/api"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the Role kind's strategy.
var Strategy = &registry.Kind[*rbacv1.Role]{
	Identity:          scheme.Kind{Group: api.GroupRBAC, Version: "v1", Kind: "Role", Resource: "roles", Namespaced: true},
	NameIsPathSegment: true,
	ValidateFunc:      validation.Role,
	TableColumns:      printers.RoleColumns,
	RowFunc:           printers.RoleRow,
	DescribeFunc:      printers.DescribeRole,
	Watchers:          registry.Watchers{GarbageCollected: true, ReadByAPIServer: true},
}
