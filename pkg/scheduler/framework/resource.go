package framework

import (
	"k8s.io/apimachinery/pkg/api/resource"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// Defaults used for scoring only, for a container that requests nothing,
// so that such pods still count on the node they go to (as Kubernetes).
const (
	DefaultMilliCPURequest int64 = 100               // 0.1 core
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

// Resource is an amount of every resource: CPU in millicores, the others in
// their base unit (bytes, pods, devices).
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	AllowedPodNumber int64
	// Scalar holds every other resource (extended resources such as
	// "example.com/gpu", hugepages); nil when there are none.
	Scalar map[string]int64
}

// Get returns the amount of the named resource.
func (r *Resource) Get(name string) int64 {
	switch name {
	case api.ResourceCPU:
		return r.MilliCPU
	case api.ResourceMemory:
		return r.Memory
	case api.ResourceEphemeralStorage:
		return r.EphemeralStorage
	case api.ResourcePods:
		return r.AllowedPodNumber
	default:
		return r.Scalar[name]
	}
}

// Add adds o to r.
func (r *Resource) Add(o *Resource) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	r.AllowedPodNumber += o.AllowedPodNumber
	for k, v := range o.Scalar {
		r.addScalar(k, v)
	}
}

// Sub subtracts o from r.
func (r *Resource) Sub(o *Resource) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	r.AllowedPodNumber -= o.AllowedPodNumber
	for k, v := range o.Scalar {
		r.addScalar(k, -v)
	}
}

func (r *Resource) addScalar(k string, v int64) { r.setScalar(k, r.Scalar[k]+v) }

func (r *Resource) setScalar(k string, v int64) {
	if r.Scalar == nil {
		r.Scalar = map[string]int64{}
	}
	r.Scalar[k] = v
}

// Clone returns a deep copy.
func (r Resource) Clone() Resource {
	if r.Scalar != nil {
		s := make(map[string]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			s[k] = v
		}
		r.Scalar = s
	}
	return r
}

// ResourceFromList parses a resource list (requests, allocatable).
func ResourceFromList(list map[string]*metav1.Quantity) (Resource, error) {
	q, err := api.ParseResourceList(list)
	if err != nil {
		return Resource{}, err
	}
	return resourceFromQuantities(q), nil
}

func resourceFromQuantities(list map[string]resource.Quantity) Resource {
	var r Resource
	for name, v := range list {
		switch name {
		case api.ResourceCPU:
			r.MilliCPU = v.MilliValue()
		case api.ResourceMemory:
			r.Memory = v.Value()
		case api.ResourceEphemeralStorage:
			r.EphemeralStorage = v.Value()
		case api.ResourcePods:
			r.AllowedPodNumber = v.Value()
		default:
			r.setScalar(name, v.Value())
		}
	}
	return r
}

// nonZeroOptions stand in DefaultMilliCPURequest and DefaultMemoryRequest
// for a container's missing CPU or memory request.
var nonZeroOptions = api.PodRequestsOptions{NonMissingContainerRequests: map[string]resource.Quantity{
	api.ResourceCPU:    *resource.NewMilliQuantity(DefaultMilliCPURequest, resource.DecimalSI),
	api.ResourceMemory: *resource.NewQuantity(DefaultMemoryRequest, resource.BinarySI),
}}

// PodRequests computes what a pod needs on a node: api.PodRequests (its
// containers, sidecars and init containers, and overhead), with pods
// counting 1.
//
// nonZero is the same with DefaultMilliCPURequest and DefaultMemoryRequest
// standing in for a container's missing CPU or memory request; scoring uses
// it so that pods without requests still spread.
func PodRequests(spec *corev1.PodSpec) (req, nonZero Resource, err error) {
	r, err := api.PodRequests(spec, api.PodRequestsOptions{})
	if err != nil {
		return Resource{}, Resource{}, err
	}
	req = resourceFromQuantities(r)
	// nonZero differs only where a container leaves CPU or memory out:
	// most pods name both, and take req as it is.
	if !missesCPUOrMemory(spec) {
		nonZero = req.Clone()
	} else {
		nz, err := api.PodRequests(spec, nonZeroOptions)
		if err != nil {
			return Resource{}, Resource{}, err
		}
		nonZero = resourceFromQuantities(nz)
	}
	req.AllowedPodNumber, nonZero.AllowedPodNumber = 1, 1
	return req, nonZero, nil
}

// missesCPUOrMemory: a container or init container requests no CPU or no
// memory (a request written as zero counts as given).
func missesCPUOrMemory(spec *corev1.PodSpec) bool {
	for _, cs := range [][]*corev1.Container{spec.GetContainers(), spec.GetInitContainers()} {
		for _, c := range cs {
			r := c.GetResources().GetRequests()
			if _, ok := r[api.ResourceCPU]; !ok {
				return true
			}
			if _, ok := r[api.ResourceMemory]; !ok {
				return true
			}
		}
	}
	return false
}
