package api

import corev1 "keel.dev/keel/pkg/apis/core/v1"

// Node address types (status.addresses[].type).
const (
	NodeHostName    = "Hostname"
	NodeInternalIP  = "InternalIP"
	NodeExternalIP  = "ExternalIP"
	NodeInternalDNS = "InternalDNS"
	NodeExternalDNS = "ExternalDNS"
)

// Toleration operators.
const (
	TolerationOpExists = "Exists"
	TolerationOpEqual  = "Equal"
)

// LabelTopologyZone is the well-known label of a node's zone.
const LabelTopologyZone = "topology.kubernetes.io/zone"

// GetNodeCondition returns status' condition of type condType, or nil.
func GetNodeCondition(status *corev1.NodeStatus, condType string) *corev1.NodeCondition {
	for _, c := range status.GetConditions() {
		if c.GetType() == condType {
			return c
		}
	}
	return nil
}

// IsNodeReady reports whether the node's Ready condition is True.
func IsNodeReady(node *corev1.Node) bool {
	return GetNodeCondition(node.GetStatus(), NodeReady).GetStatus() == ConditionTrue
}

// NodeAddress returns the node's first address of type addrType (such as
// NodeInternalIP), or "".
func NodeAddress(node *corev1.Node, addrType string) string {
	for _, a := range node.GetStatus().GetAddresses() {
		if a.GetType() == addrType {
			return a.GetAddress()
		}
	}
	return ""
}
