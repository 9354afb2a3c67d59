package registry

import (
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// Exposure is what `keelctl expose` needs of an object to put a Service in
// front of it: the selector of the pods it stands for and the ports they
// serve (port and protocol; duplicates allowed).
type Exposure struct {
	Selector *metav1.LabelSelector
	Ports    []*corev1.ContainerPort
}

// PodTemplateExposure is the Exposure of a workload: its selector and its
// pod template's container ports.
func PodTemplateExposure(sel *metav1.LabelSelector, spec *corev1.PodSpec) *Exposure {
	return &Exposure{Selector: sel, Ports: ContainerPorts(spec)}
}

// ContainerPorts lists the ports of a pod spec's containers, in order.
func ContainerPorts(spec *corev1.PodSpec) []*corev1.ContainerPort {
	var out []*corev1.ContainerPort
	for _, c := range spec.GetContainers() {
		out = append(out, c.GetPorts()...)
	}
	return out
}
