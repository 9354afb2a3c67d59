// Package metrics holds the kubelet's Prometheus metrics, registered once
// in the default registry (which daemon.ServeHTTP serves on /metrics), and
// Instrument, which times every CRI call.
//
// Every kubelet of a process (hollow nodes, tests) shares these metrics.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	// PodStartDuration is Kubernetes' pod startup SLI: from the pod's
	// creation to the kubelet observing all of its containers running
	// (image pulls included).
	PodStartDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "keel_kubelet_pod_start_duration_seconds",
		Help:    "Time from a pod's creation to the kubelet observing it Running.",
		Buckets: []float64{0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60, 120, 300},
	})
	// PLEGRelistDuration is how long one relist of the runtime takes.
	PLEGRelistDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "keel_kubelet_pleg_relist_duration_seconds",
		Help:    "Duration of one relist of the container runtime (list sandboxes and containers, compare).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	})
	// PLEGLastRelist is the time of the last successful relist.
	PLEGLastRelist = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "keel_kubelet_pleg_last_seen_seconds",
		Help: "Unix time of the last successful relist of the container runtime.",
	})
	// RuntimeOperationDuration is the latency of CRI calls by method.
	RuntimeOperationDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "keel_kubelet_runtime_operations_duration_seconds",
		Help:    "Latency of CRI calls by method.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18),
	}, []string{"operation"})
	// RuntimeOperationErrors counts failed CRI calls by method.
	RuntimeOperationErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keel_kubelet_runtime_operations_errors_total",
		Help: "CRI calls that failed, by method.",
	}, []string{"operation"})
	// PodWorkerDuration is the duration of one sync round of a pod.
	PodWorkerDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "keel_kubelet_pod_worker_duration_seconds",
		Help:    "Duration of one sync round of a pod worker (observe, compute, act, until nothing is left to do).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	})
	// RunningPods is the number of pods with a worker.
	RunningPods = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "keel_kubelet_pods",
		Help: "Pods the kubelet (all hollow nodes of the process together) is handling.",
	})
	// StatusUpdates counts pod status writes by result.
	StatusUpdates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keel_kubelet_pod_status_updates_total",
		Help: "Pod status writes to the apiserver, by result (ok, conflict, error).",
	}, []string{"result"})
	// NodeStatusUpdates counts node status and lease writes by kind and
	// result.
	NodeStatusUpdates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keel_kubelet_node_updates_total",
		Help: "Node status and lease writes, by kind (status, lease) and result (ok, error).",
	}, []string{"kind", "result"})
)

func init() {
	prometheus.MustRegister(PodStartDuration, PLEGRelistDuration, PLEGLastRelist, RuntimeOperationDuration,
		RuntimeOperationErrors, PodWorkerDuration, RunningPods, StatusUpdates, NodeStatusUpdates, volumeCollector{})
}

// ObserveCRI records one CRI call.
func ObserveCRI(op string, start time.Time, err error) {
	RuntimeOperationDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil {
		RuntimeOperationErrors.WithLabelValues(op).Inc()
	}
}
