package api

import (
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

func nodeWith(conds []*corev1.NodeCondition, addrs []*corev1.NodeAddress) *corev1.Node {
	return &corev1.Node{Status: &corev1.NodeStatus{Conditions: conds, Addresses: addrs}}
}

func TestNodeConditions(t *testing.T) {
	cases := []struct {
		name         string
		node         *corev1.Node
		wantReady    bool
		wantPressure string // status of MemoryPressure, "" if absent
	}{
		{"nil", nil, false, ""},
		{"no conditions", &corev1.Node{}, false, ""},
		{"ready", nodeWith([]*corev1.NodeCondition{{Type: "MemoryPressure", Status: "False"}, {Type: "Ready", Status: "True"}}, nil), true, "False"},
		{"not ready", nodeWith([]*corev1.NodeCondition{{Type: "Ready", Status: "False"}}, nil), false, ""},
		{"unknown", nodeWith([]*corev1.NodeCondition{{Type: "Ready", Status: "Unknown"}, {Type: "MemoryPressure", Status: "True"}}, nil), false, "True"},
	}
	for _, c := range cases {
		if got := IsNodeReady(c.node); got != c.wantReady {
			t.Errorf("%s: IsNodeReady = %v, want %v", c.name, got, c.wantReady)
		}
		got := GetNodeCondition(c.node.GetStatus(), NodeMemoryPressure)
		if (got == nil) != (c.wantPressure == "") || got.GetStatus() != c.wantPressure {
			t.Errorf("%s: GetNodeCondition(MemoryPressure) = %v, want status %q", c.name, got, c.wantPressure)
		}
	}
}

func TestNodeAddress(t *testing.T) {
	n := nodeWith(nil, []*corev1.NodeAddress{
		{Type: "Hostname", Address: "node-1"},
		{Type: "InternalIP", Address: "10.0.0.1"},
		{Type: "InternalIP", Address: "10.0.0.2"},
	})
	cases := []struct {
		node     *corev1.Node
		addrType string
		want     string
	}{
		{n, NodeInternalIP, "10.0.0.1"},
		{n, NodeHostName, "node-1"},
		{n, NodeExternalIP, ""},
		{nil, NodeInternalIP, ""},
	}
	for _, c := range cases {
		if got := NodeAddress(c.node, c.addrType); got != c.want {
			t.Errorf("NodeAddress(%s) = %q, want %q", c.addrType, got, c.want)
		}
	}
}
