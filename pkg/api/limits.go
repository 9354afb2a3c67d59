package api

import (
	"fmt"

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
	limits := map[string]resource.Quantity{}
	for _, c := range spec.GetContainers() {
		l, err := ParseResourceList(c.GetResources().GetLimits())
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", c.GetName(), err)
		}
		addResources(limits, l)
	}
	sidecars := map[string]resource.Quantity{}
	initMax := map[string]resource.Quantity{}
	for _, c := range spec.GetInitContainers() {
		l, err := ParseResourceList(c.GetResources().GetLimits())
		if err != nil {
			return nil, fmt.Errorf("init container %s: %w", c.GetName(), err)
		}
		if c.GetRestartPolicy() == ContainerRestartPolicyAlways {
			addResources(sidecars, l)
			continue
		}
		addResources(l, sidecars)
		maxResources(initMax, l)
	}
	addResources(limits, sidecars)
	maxResources(limits, initMax)
	if oh := spec.GetOverhead(); len(oh) > 0 {
		o, err := ParseResourceList(oh)
		if err != nil {
			return nil, fmt.Errorf("overhead: %w", err)
		}
		for name, q := range o {
			if t, ok := limits[name]; ok {
				t.Add(q)
				limits[name] = t
			}
		}
	}
	return limits, nil
}
