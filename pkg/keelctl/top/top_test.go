package top

import (
	"reflect"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	metricsv1beta1 "keel.dev/keel/pkg/apis/metrics/v1beta1"
)

func q(s string) *metav1.Quantity { return &metav1.Quantity{String_: s} }

func TestNodeRows(t *testing.T) {
	nodes := []*corev1.Node{
		{Metadata: &metav1.ObjectMeta{Name: "a"}, Status: &corev1.NodeStatus{Allocatable: map[string]*metav1.Quantity{"cpu": q("2"), "memory": q("4Gi")}}},
		{Metadata: &metav1.ObjectMeta{Name: "b"}},
	}
	ms := []*metricsv1beta1.NodeMetrics{{Metadata: &metav1.ObjectMeta{Name: "a"}, Usage: map[string]*metav1.Quantity{"cpu": q("250123456n"), "memory": q("1Gi")}}}
	got := NodeRows(ms, nodes, true)
	want := [][]string{
		{"NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"},
		{"a", "251m", "12%", "1024Mi", "25%"},
		{"b", "<unknown>", "<unknown>", "<unknown>", "<unknown>"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NodeRows = %v, want %v", got, want)
	}
}

func TestPodRows(t *testing.T) {
	ms := []*metricsv1beta1.PodMetrics{{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "team"}, Containers: []*metricsv1beta1.ContainerMetrics{
		{Name: "app", Usage: map[string]*metav1.Quantity{"cpu": q("1500u"), "memory": q("3Mi")}},
		{Name: "side", Usage: map[string]*metav1.Quantity{"cpu": q("10m"), "memory": q("1048576")}},
	}}}
	for _, tc := range []struct {
		all, containers, header bool
		want                    [][]string
	}{
		{false, false, true, [][]string{{"NAME", "CPU(cores)", "MEMORY(bytes)"}, {"web", "12m", "4Mi"}}},
		{true, false, false, [][]string{{"team", "web", "12m", "4Mi"}}},
		{true, true, true, [][]string{{"NAMESPACE", "POD", "NAME", "CPU(cores)", "MEMORY(bytes)"}, {"team", "web", "app", "2m", "3Mi"}, {"team", "web", "side", "10m", "1Mi"}}},
	} {
		if got := PodRows(ms, tc.all, tc.containers, tc.header); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("PodRows(all=%v, containers=%v) = %v, want %v", tc.all, tc.containers, got, tc.want)
		}
	}
}
