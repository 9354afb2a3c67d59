// Package nodestatus computes a node's status (a pure function of the
// machine, the runtime's health and the previous status) and keeps the
// Node object and its Lease up to date in the apiserver (Reporter), for the
// kubelet and for each hollow node.
package nodestatus

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/api/resource"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// Thresholds below which a pressure condition is True (Kubernetes'
// --eviction-hard defaults: memory.available<100Mi, nodefs.available<10%,
// pid.available<5%... the last one is not a Kubernetes default, which has
// no PID threshold).
type Thresholds struct {
	MemoryAvailableBytes int64
	// DiskAvailablePercent and PIDAvailablePercent are percentages of the
	// capacity; 0 disables the check.
	DiskAvailablePercent float64
	PIDAvailablePercent  float64
}

// DefaultThresholds are memory.available<100Mi, nodefs.available<10%,
// pid.available<5%.
func DefaultThresholds() Thresholds {
	return Thresholds{MemoryAvailableBytes: 100 << 20, DiskAvailablePercent: 10, PIDAvailablePercent: 5}
}

// ParseThresholds parses "memory.available<100Mi,nodefs.available<10%,
// pid.available<5%" (any subset; the rest keep their defaults).
func ParseThresholds(s string) (Thresholds, error) {
	t := DefaultThresholds()
	if strings.TrimSpace(s) == "" {
		return t, nil
	}
	for _, part := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "<")
		if !ok {
			return t, fmt.Errorf("eviction threshold %q: want signal<quantity", part)
		}
		pct := strings.HasSuffix(val, "%")
		var f float64
		var err error
		if pct {
			f, err = strconv.ParseFloat(strings.TrimSuffix(val, "%"), 64)
		}
		switch {
		case err != nil:
			return t, fmt.Errorf("eviction threshold %q: %v", part, err)
		case name == "memory.available" && !pct:
			q, err := resource.ParseQuantity(val)
			if err != nil {
				return t, fmt.Errorf("eviction threshold %q: %v", part, err)
			}
			t.MemoryAvailableBytes = q.Value()
		case name == "nodefs.available" && pct:
			t.DiskAvailablePercent = f
		case name == "pid.available" && pct:
			t.PIDAvailablePercent = f
		default:
			return t, fmt.Errorf("eviction threshold %q: supported are memory.available<QUANTITY, nodefs.available<N%%, pid.available<N%%", part)
		}
	}
	return t, nil
}

// Input is everything Compute looks at.
type Input struct {
	// Capacity is the node's capacity (cpu, memory, pods,
	// ephemeral-storage); Reserved is subtracted from it for allocatable.
	Capacity map[string]resource.Quantity
	Reserved map[string]resource.Quantity
	// Addresses: InternalIP and Hostname.
	InternalIP, Hostname string
	// Port is the kubelet's server port (daemonEndpoints).
	Port           int32
	Machine        Machine
	RuntimeVersion string // "containerd://1.6.20"
	KubeletVersion string
	// RuntimeReady and RuntimeMessage: Ready is False with the message
	// when the runtime (or its network) is not ready.
	RuntimeReady   bool
	RuntimeMessage string
	// Usage, when not nil, drives the pressure conditions.
	Usage      *Usage
	Thresholds Thresholds
	Previous   *corev1.NodeStatus
	Now        time.Time
}

// Capacity builds a resource list from the machine and a pod count.
func Capacity(m Machine, maxPods int) map[string]resource.Quantity {
	return map[string]resource.Quantity{
		"cpu":               *resource.NewMilliQuantity(m.MilliCPU, resource.DecimalSI),
		"memory":            *resource.NewQuantity(m.MemoryBytes, resource.BinarySI),
		"ephemeral-storage": *resource.NewQuantity(m.EphemeralStorageBytes, resource.BinarySI),
		"pods":              *resource.NewQuantity(int64(maxPods), resource.DecimalSI),
	}
}

// ParseResourceList parses "cpu=100m,memory=1Gi".
func ParseResourceList(s string) (map[string]resource.Quantity, error) {
	out := map[string]resource.Quantity{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want name=quantity", part)
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", part, err)
		}
		if q.Sign() < 0 {
			return nil, fmt.Errorf("%q: negative", part)
		}
		out[k] = q
	}
	return out, nil
}

// Allocatable is capacity minus reserved, never below zero.
func Allocatable(capacity, reserved map[string]resource.Quantity) map[string]resource.Quantity {
	out := make(map[string]resource.Quantity, len(capacity))
	for k, c := range capacity {
		a := c.DeepCopy()
		if r, ok := reserved[k]; ok {
			a.Sub(r)
			if a.Sign() < 0 {
				a = *resource.NewQuantity(0, c.Format)
			}
		}
		out[k] = a
	}
	return out
}

func toAPI(l map[string]resource.Quantity) map[string]*metav1.Quantity {
	out := make(map[string]*metav1.Quantity, len(l))
	for k, q := range l {
		out[k] = &metav1.Quantity{String_: q.String()}
	}
	return out
}

// Compute returns the node status.
func Compute(in Input) *corev1.NodeStatus {
	st := &corev1.NodeStatus{
		Capacity:    toAPI(in.Capacity),
		Allocatable: toAPI(Allocatable(in.Capacity, in.Reserved)),
		NodeInfo: &corev1.NodeSystemInfo{
			MachineId:               in.Machine.MachineID,
			SystemUuid:              in.Machine.SystemUUID,
			BootId:                  in.Machine.BootID,
			KernelVersion:           in.Machine.KernelVersion,
			OsImage:                 in.Machine.OSImage,
			ContainerRuntimeVersion: in.RuntimeVersion,
			KubeletVersion:          in.KubeletVersion,
			OperatingSystem:         in.Machine.OperatingSystem,
			Architecture:            in.Machine.Architecture,
		},
		DaemonEndpoints: &corev1.NodeDaemonEndpoints{KubeletEndpoint: &corev1.DaemonEndpoint{Port: in.Port}},
	}
	if in.InternalIP != "" {
		st.Addresses = append(st.Addresses, &corev1.NodeAddress{Type: api.NodeInternalIP, Address: in.InternalIP})
	}
	if in.Hostname != "" {
		st.Addresses = append(st.Addresses, &corev1.NodeAddress{Type: api.NodeHostName, Address: in.Hostname})
	}
	prev := map[string]*corev1.NodeCondition{}
	for _, c := range in.Previous.GetConditions() {
		prev[c.GetType()] = c
	}
	now := timestamppb.New(in.Now)
	cond := func(typ string, status bool, reason, message string) *corev1.NodeCondition {
		s := api.ConditionFalse
		if status {
			s = api.ConditionTrue
		}
		c := &corev1.NodeCondition{Type: typ, Status: s, Reason: reason, Message: message, LastHeartbeatTime: now, LastTransitionTime: now}
		if p := prev[typ]; p != nil && p.GetStatus() == s && p.GetLastTransitionTime() != nil {
			c.LastTransitionTime = p.LastTransitionTime
		}
		return c
	}
	var memP, diskP, pidP bool
	if u := in.Usage; u != nil {
		memP = in.Thresholds.MemoryAvailableBytes > 0 && u.MemoryAvailableBytes < in.Thresholds.MemoryAvailableBytes
		diskP = in.Thresholds.DiskAvailablePercent > 0 && u.DiskCapacityBytes > 0 &&
			float64(u.DiskAvailableBytes)*100 < in.Thresholds.DiskAvailablePercent*float64(u.DiskCapacityBytes)
		pidP = in.Thresholds.PIDAvailablePercent > 0 && u.MaxProcesses > 0 &&
			float64(u.MaxProcesses-u.Processes)*100 < in.Thresholds.PIDAvailablePercent*float64(u.MaxProcesses)
	}
	pressure := func(typ string, on bool, yes, no, yesMsg, noMsg string) *corev1.NodeCondition {
		if on {
			return cond(typ, true, yes, yesMsg)
		}
		return cond(typ, false, no, noMsg)
	}
	st.Conditions = []*corev1.NodeCondition{
		pressure(api.NodeMemoryPressure, memP, "KubeletHasInsufficientMemory", "KubeletHasSufficientMemory", "kubelet has insufficient memory available", "kubelet has sufficient memory available"),
		pressure(api.NodeDiskPressure, diskP, "KubeletHasDiskPressure", "KubeletHasNoDiskPressure", "kubelet has disk pressure", "kubelet has no disk pressure"),
		pressure(api.NodePIDPressure, pidP, "KubeletHasInsufficientPID", "KubeletHasSufficientPID", "kubelet has insufficient PID available", "kubelet has sufficient PID available"),
	}
	if in.RuntimeReady {
		st.Conditions = append(st.Conditions, cond(api.NodeReady, true, "KubeletReady", "kubelet is posting ready status"))
	} else {
		msg := in.RuntimeMessage
		if msg == "" {
			msg = "container runtime is not ready"
		}
		st.Conditions = append(st.Conditions, cond(api.NodeReady, false, "KubeletNotReady", msg))
	}
	return st
}

// Changed tells whether two statuses differ in anything but heartbeat times.
func Changed(a, b *corev1.NodeStatus) bool {
	if a == nil || b == nil {
		return a != b
	}
	a, b = proto.Clone(a).(*corev1.NodeStatus), proto.Clone(b).(*corev1.NodeStatus)
	for _, s := range []*corev1.NodeStatus{a, b} {
		for _, c := range s.Conditions {
			c.LastHeartbeatTime = nil
		}
		sort.Slice(s.Conditions, func(i, j int) bool { return s.Conditions[i].Type < s.Conditions[j].Type })
	}
	return !proto.Equal(a, b)
}
