// Package metrics defines the scheduler's Prometheus metrics.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Results of a scheduling attempt.
const (
	Scheduled     = "scheduled"
	Unschedulable = "unschedulable"
	Error         = "error"
)

// Metrics are one scheduler's metrics.
type Metrics struct {
	// Attempts counts scheduling attempts by result (scheduled,
	// unschedulable, error).
	Attempts *prometheus.CounterVec
	// E2E is the time from a pod entering the queue to its binding.
	E2E prometheus.Histogram
	// Algorithm is the duration of the scheduling cycle proper (filter,
	// score, preemption decision).
	Algorithm prometheus.Histogram
	// Binding is the duration of the bind call.
	Binding prometheus.Histogram
	// Pending is the number of pods per queue (active, backoff,
	// unschedulable).
	Pending *prometheus.GaugeVec
	// PreemptionAttempts counts preemptions carried out; Victims is the
	// number of victims of each.
	PreemptionAttempts prometheus.Counter
	Victims            prometheus.Histogram
	// Leader is 1 while this scheduler leads.
	Leader prometheus.Gauge
}

// New creates the metrics and registers them with reg (nil: not
// registered).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keel_scheduler_schedule_attempts_total",
			Help: "Scheduling attempts by result: scheduled, unschedulable or error.",
		}, []string{"result"}),
		E2E: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "keel_scheduler_e2e_scheduling_duration_seconds",
			Help:    "Time from a pod entering the scheduling queue to its successful binding, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 20),
		}),
		Algorithm: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "keel_scheduler_scheduling_algorithm_duration_seconds",
			Help:    "Duration of one scheduling cycle (filter, score, preemption decision).",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2, 20),
		}),
		Binding: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "keel_scheduler_binding_duration_seconds",
			Help:    "Duration of the bind call to the apiserver.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18),
		}),
		Pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keel_scheduler_pending_pods",
			Help: "Pods waiting in each scheduling queue: active, backoff, unschedulable.",
		}, []string{"queue"}),
		PreemptionAttempts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keel_scheduler_preemption_attempts_total",
			Help: "Preemptions carried out (victims chosen and deleted).",
		}),
		Victims: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "keel_scheduler_preemption_victims",
			Help:    "Number of pods evicted by each preemption.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 8),
		}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keel_scheduler_leader",
			Help: "1 while this scheduler is the elected leader and schedules.",
		}),
	}
	for _, r := range []string{Scheduled, Unschedulable, Error} {
		m.Attempts.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.Attempts, m.E2E, m.Algorithm, m.Binding, m.Pending, m.PreemptionAttempts, m.Victims, m.Leader)
	}
	return m
}

// SetPending records the queue lengths.
func (m *Metrics) SetPending(active, backoff, unschedulable int) {
	m.Pending.WithLabelValues("active").Set(float64(active))
	m.Pending.WithLabelValues("backoff").Set(float64(backoff))
	m.Pending.WithLabelValues("unschedulable").Set(float64(unschedulable))
}
