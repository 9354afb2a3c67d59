package informer

import (
	"keel.dev/keel/pkg/api"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
)

// ServiceIndex is the EndpointSlice index by Service: "namespace/name" of
// the Service a slice's kubernetes.io/service-name label names.
const ServiceIndex = "service"

// ServiceOfSlice is ServiceIndex's function: the Service key of a slice
// labelled with its Service, else none.
func ServiceOfSlice(s *discoveryv1.EndpointSlice) []string {
	name := s.GetMetadata().GetLabels()[api.LabelServiceName]
	if name == "" {
		return nil
	}
	return []string{Key(s.GetMetadata().GetNamespace(), name)}
}

// EndpointSlices is For[*discoveryv1.EndpointSlice], indexed by
// ServiceIndex (added on the first call).
func (f *Factory) EndpointSlices() *Informer[*discoveryv1.EndpointSlice] {
	i := For[*discoveryv1.EndpointSlice](f)
	// Fails only when an earlier call added the index already.
	_ = i.AddIndexers(Indexers[*discoveryv1.EndpointSlice]{ServiceIndex: ServiceOfSlice})
	return i
}
