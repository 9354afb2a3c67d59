package api

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// Pod condition reasons set by the scheduler (PodScheduled, False) and the
// kubelet (Initialized, ContainersReady, Ready).
const (
	PodReasonUnschedulable   = "Unschedulable"
	PodReasonSchedulerError  = "SchedulerError"
	PodCompleted             = "PodCompleted"
	ContainersNotReady       = "ContainersNotReady"
	ContainersNotInitialized = "ContainersNotInitialized"
	ReadinessGatesNotReady   = "ReadinessGatesNotReady"
)

// Container restart policy (init containers only): Always makes an init
// container a sidecar, started before the others and kept running.
const ContainerRestartPolicyAlways = "Always"

// Preemption policies (spec.preemptionPolicy).
const (
	PreemptLowerPriority = "PreemptLowerPriority"
	PreemptNever         = "Never"
)

// Resource names.
const (
	ResourceCPU              = "cpu"
	ResourceMemory           = "memory"
	ResourceEphemeralStorage = "ephemeral-storage"
	ResourcePods             = "pods"
)

// DNS policies (spec.dnsPolicy).
const (
	DNSClusterFirstWithHostNet = "ClusterFirstWithHostNet"
	DNSClusterFirst            = "ClusterFirst"
	DNSDefault                 = "Default"
	DNSNone                    = "None"
)

// Mount propagation modes (volumeMounts[].mountPropagation).
const (
	MountPropagationNone            = "None"
	MountPropagationHostToContainer = "HostToContainer"
	MountPropagationBidirectional   = "Bidirectional"
)

// Event types.
const (
	EventTypeNormal  = "Normal"
	EventTypeWarning = "Warning"
)

// DefaultContainerAnnotation names a pod's default container for logs and
// exec when the request names none (as kubectl does).
const DefaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// DefaultContainer is the container logs and exec use when none is
// named, as kubectl picks it: the one the pod's DefaultContainerAnnotation
// names, if the pod has it, else its first container ("" when it has
// none). named reports whether the annotation chose it.
func DefaultContainer(pod *corev1.Pod) (name string, named bool) {
	cs := pod.GetSpec().GetContainers()
	if d := pod.GetMetadata().GetAnnotations()[DefaultContainerAnnotation]; d != "" {
		for _, c := range cs {
			if c.GetName() == d {
				return d, true
			}
		}
	}
	if len(cs) == 0 {
		return "", false
	}
	return cs[0].GetName(), false
}

// IsPodTerminal reports whether the pod has finished: its phase is
// Succeeded or Failed. A terminal pod never runs again.
func IsPodTerminal(pod *corev1.Pod) bool {
	return IsPhaseTerminal(pod.GetStatus().GetPhase())
}

// IsPhaseTerminal reports whether phase is Succeeded or Failed.
func IsPhaseTerminal(phase string) bool {
	return phase == PodSucceeded || phase == PodFailed
}

// GetPodCondition returns status' condition of type condType, or nil.
func GetPodCondition(status *corev1.PodStatus, condType string) *corev1.PodCondition {
	for _, c := range status.GetConditions() {
		if c.GetType() == condType {
			return c
		}
	}
	return nil
}

// IsPodReady reports whether the pod's Ready condition is True.
func IsPodReady(pod *corev1.Pod) bool {
	return GetPodCondition(pod.GetStatus(), PodReady).GetStatus() == ConditionTrue
}

// IsPodAvailable reports whether the pod has been ready for at least
// minReadySeconds at now (Kubernetes' podutil.IsPodAvailable). With
// minReadySeconds 0, ready is available.
func IsPodAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := GetPodCondition(pod.GetStatus(), PodReady)
	if c.GetStatus() != ConditionTrue {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	min := time.Duration(minReadySeconds) * time.Second
	t := c.GetLastTransitionTime()
	return t != nil && !t.AsTime().Add(min).After(now)
}

// DefaultPullPolicy is Kubernetes' imagePullPolicy default: Always for an
// image tagged ":latest" or not tagged at all (and not pinned by digest),
// IfNotPresent otherwise.
func DefaultPullPolicy(image string) string {
	if strings.Contains(image, "@") {
		return PullIfNotPresent // pinned by digest
	}
	name := image
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:] // a registry "host:port/" prefix is not a tag
	}
	i := strings.LastIndexByte(name, ':')
	if i < 0 || name[i+1:] == "latest" {
		return PullAlways
	}
	return PullIfNotPresent
}

// QOSClass computes a pod's quality-of-service class from its containers'
// requests and limits (cpu and memory), as Kubernetes does: BestEffort when
// none are set, Guaranteed when every container has cpu and memory limits
// equal to its requests, Burstable otherwise. Quantities are compared by
// value ("1" equals "1000m"); a missing request counts as equal to its
// limit (the apiserver defaults requests to limits).
func QOSClass(spec *corev1.PodSpec) string {
	set, guaranteed := false, true
	check := func(cs []*corev1.Container) {
		for _, c := range cs {
			req, lim := c.GetResources().GetRequests(), c.GetResources().GetLimits()
			for _, r := range [...]string{ResourceCPU, ResourceMemory} {
				rq, hasReq := req[r]
				lq, hasLim := lim[r]
				if hasReq || hasLim {
					set = true
				}
				if !hasLim || (hasReq && !sameQuantity(rq, lq)) {
					guaranteed = false
				}
			}
		}
	}
	check(spec.GetInitContainers())
	check(spec.GetContainers())
	switch {
	case !set:
		return QOSBestEffort
	case guaranteed:
		return QOSGuaranteed
	}
	return QOSBurstable
}

// sameQuantity compares two quantities by value; unparsable ones as
// written.
func sameQuantity(a, b *metav1.Quantity) bool {
	qa, err1 := resource.ParseQuantity(a.GetString_())
	qb, err2 := resource.ParseQuantity(b.GetString_())
	if err1 != nil || err2 != nil {
		return a.GetString_() == b.GetString_()
	}
	return qa.Cmp(qb) == 0
}

// PodRequestsOptions changes what PodRequests counts.
type PodRequestsOptions struct {
	// NonMissingContainerRequests, when set, stands in for a container's
	// missing request of each resource it names (the scheduler scores
	// with 100m CPU and 200Mi memory, so that pods without requests still
	// spread). A request written as zero is not missing.
	NonMissingContainerRequests map[string]resource.Quantity
}

// PodRequests computes what a pod needs on a node, as the kubelet
// accounts it and the scheduler reserves it: the sum over its containers
// plus its restartable init containers (sidecars, which keep running), or
// the largest need of a plain init container (run one at a time, alongside
// the sidecars started before it) when that is larger; plus the pod's
// overhead. The result holds only the resources some container or the
// overhead names. An unparsable quantity is an error naming the container
// and resource.
func PodRequests(spec *corev1.PodSpec, opts PodRequestsOptions) (map[string]resource.Quantity, error) {
	reqs, overhead, err := podResources(spec, (*corev1.ResourceRequirements).GetRequests, opts.NonMissingContainerRequests)
	if err != nil {
		return nil, err
	}
	addResources(reqs, overhead)
	return reqs, nil
}

// podResources is what the pod's containers need of the resources list
// (requests or limits) names, as PodRequests counts them, and apart from
// it the pod's overhead; missing stands in for a container's missing
// entries.
func podResources(spec *corev1.PodSpec, list func(*corev1.ResourceRequirements) map[string]*metav1.Quantity,
	missing map[string]resource.Quantity) (total, overhead map[string]resource.Quantity, err error) {
	total = map[string]resource.Quantity{}
	for _, c := range spec.GetContainers() {
		r, err := containerResources(list(c.GetResources()), missing)
		if err != nil {
			return nil, nil, fmt.Errorf("container %s: %w", c.GetName(), err)
		}
		addResources(total, r)
	}
	sidecars := map[string]resource.Quantity{}
	initMax := map[string]resource.Quantity{}
	for _, c := range spec.GetInitContainers() {
		r, err := containerResources(list(c.GetResources()), missing)
		if err != nil {
			return nil, nil, fmt.Errorf("init container %s: %w", c.GetName(), err)
		}
		if c.GetRestartPolicy() == ContainerRestartPolicyAlways {
			addResources(sidecars, r)
			continue
		}
		addResources(r, sidecars)
		maxResources(initMax, r)
	}
	addResources(total, sidecars)
	maxResources(total, initMax)
	if overhead, err = ParseResourceList(spec.GetOverhead()); err != nil {
		return nil, nil, fmt.Errorf("overhead: %w", err)
	}
	return total, overhead, nil
}

func containerResources(list map[string]*metav1.Quantity, missing map[string]resource.Quantity) (map[string]resource.Quantity, error) {
	r, err := ParseResourceList(list)
	if err != nil {
		return nil, err
	}
	for name, q := range missing {
		if _, ok := r[name]; !ok {
			r[name] = q.DeepCopy()
		}
	}
	return r, nil
}

// ParseResourceList parses a resource list (requests, limits, capacity,
// allocatable). An unparsable quantity is an error naming the resource.
func ParseResourceList(list map[string]*metav1.Quantity) (map[string]resource.Quantity, error) {
	out := make(map[string]resource.Quantity, len(list))
	for name, q := range list {
		v, err := resource.ParseQuantity(q.GetString_())
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %v", name, q.GetString_(), err)
		}
		out[name] = v
	}
	return out, nil
}

func addResources(dst, src map[string]resource.Quantity) {
	for k, v := range src {
		t := dst[k]
		t.Add(v)
		dst[k] = t
	}
}

func maxResources(dst, src map[string]resource.Quantity) {
	for k, v := range src {
		if t, ok := dst[k]; !ok || v.Cmp(t) > 0 {
			dst[k] = v.DeepCopy()
		}
	}
}
