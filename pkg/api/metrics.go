package api

// GroupMetrics is the resource metrics API group (NodeMetrics,
// PodMetrics), what `kubectl top` reads.
const GroupMetrics = "metrics.k8s.io"
