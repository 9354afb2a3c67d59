// Package podmetrics is the strategy of the PodMetrics kind
// (metrics.k8s.io/v1beta1): the recent CPU and memory usage of a pod's
// containers, computed by the apiserver from the pod's node's kubelet on
// each get or list (never stored), and FromStats, how a kubelet's stats
// become one.
package podmetrics

import (
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	kubeletv1 "keel.dev/keel/pkg/apis/kubelet/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	metricsv1beta1 "keel.dev/keel/pkg/apis/metrics/v1beta1"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/registry/metrics/nodemetrics"
	"keel.dev/keel/pkg/scheme"
)

// Strategy is the PodMetrics kind's strategy.
var Strategy = &registry.Kind[*metricsv1beta1.PodMetrics]{
	Identity:     scheme.Kind{Group: api.GroupMetrics, Version: "v1beta1", Kind: "PodMetrics", Resource: "pods", Namespaced: true, Computed: true},
	ValidateFunc: func(*metricsv1beta1.PodMetrics) field.ErrorList { return nil }, // never written
	TableColumns: []registry.Column{{Name: "NAME"}, {Name: "CPU"}, {Name: "MEMORY"}, {Name: "WINDOW"}},
	RowFunc: func(m *metricsv1beta1.PodMetrics, _ time.Time) []string {
		var cpu, mem []string
		for _, c := range m.GetContainers() {
			cpu = append(cpu, nodemetrics.Usage(c.GetUsage(), "cpu"))
			mem = append(mem, nodemetrics.Usage(c.GetUsage(), "memory"))
		}
		return []string{m.GetMetadata().GetName(), strings.Join(cpu, ","), strings.Join(mem, ","), m.GetWindow().AsDuration().String()}
	},
}

// FromStats makes pod's metrics from its kubelet's stats, created at now:
// one entry per container, in the stats' order. False when a container
// lacks a CPU rate or memory figure, or none is reported (the kubelet has
// not sampled it twice yet): metrics-server leaves such a pod out. The
// window is the longest of the containers', the timestamp the newest.
func FromStats(pod *corev1.Pod, s *kubeletv1.PodStats, now time.Time) (*metricsv1beta1.PodMetrics, bool) {
	if len(s.GetContainers()) == 0 {
		return nil, false
	}
	m := &metricsv1beta1.PodMetrics{Metadata: nodemetrics.Metadata(pod.GetMetadata(), now)}
	for _, c := range s.GetContainers() {
		cpu, mem := c.GetCpu(), c.GetMemory()
		if cpu == nil || cpu.UsageNanoCores == nil || mem == nil {
			return nil, false
		}
		if m.Timestamp == nil || cpu.GetTime().AsTime().After(m.Timestamp.AsTime()) {
			m.Timestamp = cpu.GetTime()
		}
		if m.Window == nil || cpu.GetWindow().AsDuration() > m.Window.AsDuration() {
			m.Window = cpu.GetWindow()
		}
		m.Containers = append(m.Containers, &metricsv1beta1.ContainerMetrics{Name: c.GetName(),
			Usage: map[string]*metav1.Quantity{"cpu": nodemetrics.CPU(cpu.GetUsageNanoCores()), "memory": nodemetrics.Memory(mem.GetWorkingSetBytes())}})
	}
	return m, true
}
