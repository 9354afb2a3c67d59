package plugins

import (
	"context"
	"fmt"
	"math"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/scheduler/framework"
)

// Fit (NodeResourcesFit) rejects nodes whose allocatable resources, minus
// the requests of the pods already there (bound or assumed), cannot hold
// the pod's requests: CPU, memory, ephemeral storage, extended resources,
// and the pod count.
type Fit struct {
	ignored map[string]bool
}

// FitArgs are NodeResourcesFit's arguments.
type FitArgs struct {
	// IgnoredResources are extended resources the filter does not check.
	IgnoredResources []string `json:"ignoredResources,omitempty"`
}

var (
	_ framework.FilterPlugin      = (*Fit)(nil)
	_ framework.EnqueueExtensions = (*Fit)(nil)
)

// Reasons of Fit, shared when alone.
var (
	statusTooManyPods = framework.NewStatus(framework.Unschedulable, "Too many pods")
	statusNoCPU       = framework.NewStatus(framework.Unschedulable, "Insufficient cpu")
	statusNoMemory    = framework.NewStatus(framework.Unschedulable, "Insufficient memory")
)

// NewFit is NodeResourcesFit's factory.
func NewFit(args []byte, _ framework.Handle) (framework.Plugin, error) {
	var a FitArgs
	if err := decodeArgs(args, &a); err != nil {
		return nil, err
	}
	f := &Fit{ignored: map[string]bool{}}
	for _, r := range a.IgnoredResources {
		f.ignored[r] = true
	}
	return f, nil
}

func (*Fit) Name() string { return NodeResourcesFitName }

func (f *Fit) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	var reasons []string
	if int64(len(ni.Pods))+1 > ni.Allocatable.AllowedPodNumber {
		reasons = append(reasons, "Too many pods")
	}
	req, alloc, used := &pod.Requests, &ni.Allocatable, &ni.Requested
	if req.MilliCPU > 0 && req.MilliCPU > alloc.MilliCPU-used.MilliCPU {
		reasons = append(reasons, "Insufficient cpu")
	}
	if req.Memory > 0 && req.Memory > alloc.Memory-used.Memory {
		reasons = append(reasons, "Insufficient memory")
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > alloc.EphemeralStorage-used.EphemeralStorage {
		reasons = append(reasons, "Insufficient ephemeral-storage")
	}
	for name, v := range req.Scalar {
		if v > 0 && !f.ignored[name] && v > alloc.Scalar[name]-used.Scalar[name] {
			reasons = append(reasons, "Insufficient "+name)
		}
	}
	switch {
	case len(reasons) == 0:
		return nil
	case len(reasons) > 1:
		return framework.NewStatus(framework.Unschedulable, reasons...)
	case reasons[0] == "Insufficient cpu":
		return statusNoCPU
	case reasons[0] == "Insufficient memory":
		return statusNoMemory
	case reasons[0] == "Too many pods":
		return statusTooManyPods
	}
	return framework.NewStatus(framework.Unschedulable, reasons...)
}

func (*Fit) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.NodeEvent, Action: framework.Add | framework.UpdateNodeAllocatable},
		{Resource: framework.AssignedPodEvent, Action: framework.Delete | framework.UpdatePodRequest},
	}
}

// ResourceWeight names a resource a scorer considers, with its weight.
type ResourceWeight struct {
	Name   string `json:"name"`
	Weight int64  `json:"weight,omitempty"`
}

// AllocationArgs are the arguments of LeastAllocated, MostAllocated and
// BalancedAllocation.
type AllocationArgs struct {
	// Resources default to cpu and memory, weight 1 each.
	Resources []ResourceWeight `json:"resources,omitempty"`
}

// AllocationScorer scores a node by what its allocation would be with the
// pod on it (requests of CPU and memory count at least 100m and 200Mi per
// container, so pods without requests spread too):
//
//   - LeastAllocated: the free share, (allocatable - requested) * 100 /
//     allocatable, averaged over the resources by weight: spreads load.
//   - MostAllocated: the used share: packs pods onto fewer nodes.
//   - BalancedAllocation: 100 * (1 - the standard deviation of the used
//     shares): prefers nodes whose resources are used evenly.
type AllocationScorer struct {
	name      string
	resources []ResourceWeight
}

var (
	_ framework.ScorePlugin = (*AllocationScorer)(nil)
)

func newAllocationScorer(name string) framework.Factory {
	return func(args []byte, _ framework.Handle) (framework.Plugin, error) {
		var a AllocationArgs
		if err := decodeArgs(args, &a); err != nil {
			return nil, err
		}
		if len(a.Resources) == 0 {
			a.Resources = []ResourceWeight{{Name: api.ResourceCPU, Weight: 1}, {Name: api.ResourceMemory, Weight: 1}}
		}
		for i, r := range a.Resources {
			if r.Name == "" {
				return nil, fmt.Errorf("resources[%d]: a name is required", i)
			}
			if r.Weight == 0 {
				a.Resources[i].Weight = 1
			}
			if r.Weight < 0 || r.Weight > 100 {
				return nil, fmt.Errorf("resources[%d] (%s): weight %d is not between 1 and 100", i, r.Name, r.Weight)
			}
		}
		return &AllocationScorer{name: name, resources: a.Resources}, nil
	}
}

func (s *AllocationScorer) Name() string { return s.name }

// requested returns the node's requests of a resource with the pod added,
// and the allocatable amount.
func requested(ni *framework.NodeInfo, pod *framework.PodInfo, name string) (req, alloc int64) {
	alloc = ni.Allocatable.Get(name)
	switch name {
	case api.ResourceCPU:
		req = ni.NonZeroRequested.MilliCPU + pod.NonZeroRequests.MilliCPU
	case api.ResourceMemory:
		req = ni.NonZeroRequested.Memory + pod.NonZeroRequests.Memory
	default:
		req = ni.Requested.Get(name) + pod.Requests.Get(name)
	}
	return req, alloc
}

func (s *AllocationScorer) Score(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) (int64, *framework.Status) {
	if s.name == BalancedAllocationName {
		return s.balanced(pod, ni), nil
	}
	var total, weights int64
	for _, r := range s.resources {
		req, alloc := requested(ni, pod, r.Name)
		if alloc == 0 {
			continue
		}
		req = min(req, alloc)
		var sc int64
		if s.name == LeastAllocatedName {
			sc = (alloc - req) * framework.MaxNodeScore / alloc
		} else {
			sc = req * framework.MaxNodeScore / alloc
		}
		total += sc * r.Weight
		weights += r.Weight
	}
	if weights == 0 {
		return 0, nil
	}
	return total / weights, nil
}

func (s *AllocationScorer) balanced(pod *framework.PodInfo, ni *framework.NodeInfo) int64 {
	var fracs [8]float64
	n := 0
	for _, r := range s.resources {
		if n == len(fracs) {
			break
		}
		req, alloc := requested(ni, pod, r.Name)
		if alloc == 0 {
			continue
		}
		fracs[n] = math.Min(float64(req)/float64(alloc), 1)
		n++
	}
	if n < 2 {
		return framework.MaxNodeScore
	}
	var mean float64
	for _, f := range fracs[:n] {
		mean += f
	}
	mean /= float64(n)
	var v float64
	for _, f := range fracs[:n] {
		v += (f - mean) * (f - mean)
	}
	std := math.Sqrt(v / float64(n))
	return int64((1 - std) * float64(framework.MaxNodeScore))
}

func (*AllocationScorer) ScoreExtensions() framework.ScoreExtensions { return nil }
