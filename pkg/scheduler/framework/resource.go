package framework

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// Resource names with their own fields in Resource.
const (
	ResourceCPU              = "cpu"
	ResourceMemory           = "memory"
	ResourceEphemeralStorage = "ephemeral-storage"
	ResourcePods             = "pods"
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
	case ResourceCPU:
		return r.MilliCPU
	case ResourceMemory:
		return r.Memory
	case ResourceEphemeralStorage:
		return r.EphemeralStorage
	case ResourcePods:
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

// SetMax raises each amount of r to o's where o's is larger.
func (r *Resource) SetMax(o *Resource) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.EphemeralStorage = max(r.EphemeralStorage, o.EphemeralStorage)
	r.AllowedPodNumber = max(r.AllowedPodNumber, o.AllowedPodNumber)
	for k, v := range o.Scalar {
		if v > r.Scalar[k] {
			r.setScalar(k, v)
		}
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
	var r Resource
	for name, q := range list {
		v, err := resource.ParseQuantity(q.GetString_())
		if err != nil {
			return Resource{}, fmt.Errorf("%s: %q: %v", name, q.GetString_(), err)
		}
		switch name {
		case ResourceCPU:
			r.MilliCPU = v.MilliValue()
		case ResourceMemory:
			r.Memory = v.Value()
		case ResourceEphemeralStorage:
			r.EphemeralStorage = v.Value()
		case ResourcePods:
			r.AllowedPodNumber = v.Value()
		default:
			r.setScalar(name, v.Value())
		}
	}
	return r, nil
}

// PodRequests computes what a pod needs on a node, as the kubelet accounts
// it: the sum over its containers, plus its restartable init containers
// (sidecars, which keep running), or the largest need of a plain init
// container (run one at a time, alongside the sidecars started before
// it) when that is larger; plus the pod's overhead. Pods count 1.
//
// nonZero is the same with DefaultMilliCPURequest and DefaultMemoryRequest
// standing in for a container's missing CPU or memory request; scoring uses
// it so that pods without requests still spread.
func PodRequests(spec *corev1.PodSpec) (req, nonZero Resource, err error) {
	for _, c := range spec.GetContainers() {
		r, err := ResourceFromList(c.GetResources().GetRequests())
		if err != nil {
			return req, nonZero, fmt.Errorf("container %s: %w", c.GetName(), err)
		}
		req.Add(&r)
		nonZero.Add(withDefaults(r.Clone()))
	}
	var sidecars, sidecarsNZ, initMax, initMaxNZ Resource
	for _, c := range spec.GetInitContainers() {
		r, err := ResourceFromList(c.GetResources().GetRequests())
		if err != nil {
			return req, nonZero, fmt.Errorf("init container %s: %w", c.GetName(), err)
		}
		nz := withDefaults(r.Clone())
		if c.GetRestartPolicy() == "Always" {
			sidecars.Add(&r)
			sidecarsNZ.Add(nz)
			continue
		}
		r.Add(&sidecars)
		initMax.SetMax(&r)
		nz.Add(&sidecarsNZ)
		initMaxNZ.SetMax(nz)
	}
	req.Add(&sidecars)
	req.SetMax(&initMax)
	nonZero.Add(&sidecarsNZ)
	nonZero.SetMax(&initMaxNZ)
	if oh := spec.GetOverhead(); len(oh) > 0 {
		o, err := ResourceFromList(oh)
		if err != nil {
			return req, nonZero, fmt.Errorf("overhead: %w", err)
		}
		req.Add(&o)
		nonZero.Add(&o)
	}
	req.AllowedPodNumber, nonZero.AllowedPodNumber = 1, 1
	return req, nonZero, nil
}

func withDefaults(r Resource) *Resource {
	if r.MilliCPU == 0 {
		r.MilliCPU = DefaultMilliCPURequest
	}
	if r.Memory == 0 {
		r.Memory = DefaultMemoryRequest
	}
	return &r
}
