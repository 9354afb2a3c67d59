package api

import (
	"k8s.io/apimachinery/pkg/api/resource"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// PodLimits is PodRequests' counterpart over limits, as kubectl describe
// node totals them: the sum over the containers and the restartable init
// containers (sidecars), or the largest limit of a plain init container
// (plus the sidecars started before it) when that is larger. The pod's
// overhead is added only to the resources that have a limit. An
// unparsable quantity is an error naming the container and resource.
func PodLimits(spec *corev1.PodSpec) (map[string]resource.Quantity, error) {
	limits, overhead, err := podResources(spec, (*corev1.ResourceRequirements).GetLimits, nil)
	if err != nil {
		return nil, err
	}
	for name, q := range overhead {
		if t, ok := limits[name]; ok {
			t.Add(q)
			limits[name] = t
		}
	}
	return limits, nil
}
