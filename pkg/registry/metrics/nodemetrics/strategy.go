// Package nodemetrics is the strategy of the NodeMetrics kind
// (metrics.k8s.io/v1beta1): a node's recent CPU and memory usage, computed
// by the apiserver from the node's kubelet on each get or list (never
// stored), and FromStats, how a kubelet's stats become one.
package nodemetrics

import (
	"maps"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	kubeletv1 "keel.dev/keel/pkg/apis/kubelet/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	metricsv1beta1 "keel.dev/keel/pkg/apis/metrics/v1beta1"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// Strategy is the NodeMetrics kind's strategy.
var Strategy = &registry.Kind[*metricsv1beta1.NodeMetrics]{
	Identity:     scheme.Kind{Group: api.GroupMetrics, Version: "v1beta1", Kind: "NodeMetrics", Resource: "nodes", Computed: true},
	ValidateFunc: func(*metricsv1beta1.NodeMetrics) field.ErrorList { return nil }, // never written
	TableColumns: []registry.Column{{Name: "NAME"}, {Name: "CPU"}, {Name: "MEMORY"}, {Name: "WINDOW"}},
	RowFunc: func(m *metricsv1beta1.NodeMetrics, _ time.Time) []string {
		return []string{m.GetMetadata().GetName(), Usage(m.GetUsage(), "cpu"), Usage(m.GetUsage(), "memory"), m.GetWindow().AsDuration().String()}
	},
}

// Usage is the quantity of res in a usage list, "" if absent.
func Usage(usage map[string]*metav1.Quantity, res string) string {
	return usage[res].GetString_()
}

// CPU is a CPU rate in nanocores as a quantity ("12345n").
func CPU(nanoCores uint64) *metav1.Quantity {
	return &metav1.Quantity{String_: resource.NewScaledQuantity(int64(nanoCores), resource.Nano).String()}
}

// Memory is a number of bytes as a quantity ("20824Ki").
func Memory(bytes uint64) *metav1.Quantity {
	return &metav1.Quantity{String_: resource.NewQuantity(int64(bytes), resource.BinarySI).String()}
}

// FromStats makes node's metrics from its kubelet's stats, created at
// now; false when the stats lack a CPU rate or the memory (the kubelet
// has not sampled twice yet), as metrics-server leaves such a node out.
// The metrics carry the node's name and labels.
func FromStats(node *corev1.Node, s *kubeletv1.NodeStats, now time.Time) (*metricsv1beta1.NodeMetrics, bool) {
	cpu, mem := s.GetCpu(), s.GetMemory()
	if cpu == nil || cpu.UsageNanoCores == nil || mem == nil {
		return nil, false
	}
	return &metricsv1beta1.NodeMetrics{
		Metadata:  metadata(node.GetMetadata(), now),
		Timestamp: cpu.GetTime(),
		Window:    cpu.GetWindow(),
		Usage:     map[string]*metav1.Quantity{"cpu": CPU(cpu.GetUsageNanoCores()), "memory": Memory(mem.GetWorkingSetBytes())},
	}, true
}

// metadata is the metadata of an object's metrics: its name, namespace
// and labels, created now.
func metadata(m *metav1.ObjectMeta, now time.Time) *metav1.ObjectMeta {
	return &metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), Labels: maps.Clone(m.GetLabels()),
		CreationTimestamp: timestamppb.New(now)}
}

// Metadata is metadata for other kinds of metrics (PodMetrics).
func Metadata(m *metav1.ObjectMeta, now time.Time) *metav1.ObjectMeta { return metadata(m, now) }
