package api

import (
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/util/intstr"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// IntOrString types (the type field of metav1.IntOrString), as
// apimachinery's intstr.Int and intstr.String.
const (
	IntOrStringTypeInt    int32 = 0
	IntOrStringTypeString int32 = 1
)

// Protocols (container ports, Service ports). An empty protocol means TCP.
const (
	ProtocolTCP  = "TCP"
	ProtocolUDP  = "UDP"
	ProtocolSCTP = "SCTP"
)

// IntOrStringFromInt returns an IntOrString holding the integer v.
func IntOrStringFromInt(v int32) *metav1.IntOrString {
	return &metav1.IntOrString{Type: IntOrStringTypeInt, IntVal: v}
}

// IntOrStringFromString returns an IntOrString holding the string s (a
// port name or a percentage such as "25%").
func IntOrStringFromString(s string) *metav1.IntOrString {
	return &metav1.IntOrString{Type: IntOrStringTypeString, StrVal: s}
}

// IsIntOrStringString reports whether v holds a string; false for nil.
func IsIntOrStringString(v *metav1.IntOrString) bool {
	return v != nil && v.GetType() == IntOrStringTypeString
}

// ToIntstr converts v to apimachinery's intstr.IntOrString, whose methods
// (String, IntValue) and helpers then apply. nil converts to the integer 0.
func ToIntstr(v *metav1.IntOrString) intstr.IntOrString {
	if IsIntOrStringString(v) {
		return intstr.FromString(v.GetStrVal())
	}
	return intstr.FromInt32(v.GetIntVal())
}

// ScaledValue resolves v against total as apimachinery's
// GetScaledValueFromIntOrPercent does: an integer is returned as is, a
// percentage ("25%") is that share of total, rounded up when roundUp and
// down otherwise. nil, or a string that is not a percentage, is an error.
func ScaledValue(v *metav1.IntOrString, total int, roundUp bool) (int, error) {
	if v == nil {
		return 0, fmt.Errorf("nil value for IntOrString")
	}
	x := ToIntstr(v)
	return intstr.GetScaledValueFromIntOrPercent(&x, total, roundUp)
}

// portProtocol is p's protocol, TCP when unset.
func portProtocol(p string) string {
	if p == "" {
		return ProtocolTCP
	}
	return p
}

// FindContainerPort returns the containerPort of c's port named name. With
// a protocol, the port must also have it (a port without protocol is TCP);
// an empty protocol matches any.
func FindContainerPort(c *corev1.Container, name, protocol string) (int32, bool) {
	for _, cp := range c.GetPorts() {
		if cp.GetName() == name && (protocol == "" || portProtocol(cp.GetProtocol()) == portProtocol(protocol)) {
			return cp.GetContainerPort(), true
		}
	}
	return 0, false
}

// FindPodPort returns the containerPort of the first of the pod's
// containers (not init containers) with a port named name and protocol,
// as FindContainerPort matches them.
func FindPodPort(pod *corev1.Pod, name, protocol string) (int32, bool) {
	for _, c := range pod.GetSpec().GetContainers() {
		if n, ok := FindContainerPort(c, name, protocol); ok {
			return n, true
		}
	}
	return 0, false
}

// ResolvePodPort resolves a Service's targetPort against a pod, as
// Kubernetes' podutil.FindPort: an integer is the port number itself, a
// name is looked up with FindPodPort. It fails when the pod has no such
// port.
func ResolvePodPort(pod *corev1.Pod, port *metav1.IntOrString, protocol string) (int32, error) {
	if !IsIntOrStringString(port) {
		return port.GetIntVal(), nil
	}
	if n, ok := FindPodPort(pod, port.GetStrVal(), protocol); ok {
		return n, nil
	}
	return 0, fmt.Errorf("no container port named %q (%s) in pod %s/%s", port.GetStrVal(), portProtocol(protocol),
		pod.GetMetadata().GetNamespace(), pod.GetMetadata().GetName())
}

// ResolveContainerPort resolves a probe's or lifecycle handler's port
// against its container, as the kubelet does: an integer is the port
// number, a name is looked up among c's ports (any protocol), and a
// string of digits that names no port is read as a number. The result is
// checked to be a valid port (1-65535).
func ResolveContainerPort(port *metav1.IntOrString, c *corev1.Container) (int32, error) {
	if port == nil {
		return 0, fmt.Errorf("no port")
	}
	n := port.GetIntVal()
	if IsIntOrStringString(port) {
		name := port.GetStrVal()
		var ok bool
		if n, ok = FindContainerPort(c, name, ""); !ok {
			v, err := strconv.ParseInt(name, 10, 32)
			if err != nil {
				return 0, fmt.Errorf("container %q has no port named %q", c.GetName(), name)
			}
			n = int32(v)
		}
	}
	if n <= 0 || n > 65535 {
		return 0, fmt.Errorf("invalid port %d", n)
	}
	return n, nil
}
