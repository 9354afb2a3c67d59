package defaults

import (
	"keel.dev/keel/pkg/api"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
)

// EndpointSlice sets an EndpointSlice's defaults: ports' protocol TCP,
// and a port's name "" when unset, as Kubernetes does.
func EndpointSlice(s *discoveryv1.EndpointSlice) {
	for _, p := range s.Ports {
		if p.Protocol == nil {
			tcp := api.ProtocolTCP
			p.Protocol = &tcp
		}
		if p.Name == nil {
			empty := ""
			p.Name = &empty
		}
	}
}
