package defaults

import (
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	networkingv1 "keel.dev/keel/pkg/apis/networking/v1"
)

// IngressClass sets a class's defaults, as Kubernetes: parameters without
// a scope are cluster-scoped.
func IngressClass(ic *networkingv1.IngressClass) {
	if p := ic.GetSpec().GetParameters(); p != nil && p.Scope == nil {
		p.Scope = proto.String(api.IngressClassParametersScopeCluster)
	}
}
