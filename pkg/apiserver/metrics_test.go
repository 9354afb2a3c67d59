package apiserver_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
)

// metricValue reads one series from the default registry: a counter's or
// gauge's value, or a histogram's sample count; found is false when the
// series does not exist.
func metricValue(t *testing.T, name string, labels map[string]string) (v float64, found bool) {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, want := range labels {
				if have[k] != want {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				v += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				v += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				v += float64(m.GetHistogram().GetSampleCount())
			}
			found = true
		}
	}
	return v, found
}

// TestMetrics is not parallel: it reads process-wide counters, and serial
// tests run while no parallel test does.
func TestMetrics(t *testing.T) {
	c := start(t, nil)
	created := map[string]string{"verb": "create", "resource": "pods", "code": "OK"}
	before, _ := metricValue(t, "keel_apiserver_request_total", created)
	mustCreate(c, pod("default", "counted", nil))
	if after, ok := metricValue(t, "keel_apiserver_request_total", created); !ok || after != before+1 {
		t.Fatalf("keel_apiserver_request_total%v: %v -> %v, want +1", created, before, after)
	}
	refused := map[string]string{"verb": "create", "resource": "pods", "code": "AlreadyExists"}
	before, _ = metricValue(t, "keel_apiserver_request_total", refused)
	if _, err := create(c, pod("default", "counted", nil)); err == nil {
		t.Fatal("duplicate create succeeded")
	}
	if after, _ := metricValue(t, "keel_apiserver_request_total", refused); after != before+1 {
		t.Fatalf("keel_apiserver_request_total%v: %v -> %v, want +1", refused, before, after)
	}
	if n, ok := metricValue(t, "keel_apiserver_request_duration_seconds", map[string]string{"verb": "create", "resource": "pods"}); !ok || n == 0 {
		t.Fatalf("no create latency samples")
	}

	// A watch is counted while it is open, and by resource when it ends.
	leases := map[string]string{"resource": "leases"}
	open, _ := metricValue(t, "keel_apiserver_registered_watchers", leases)
	watched := map[string]string{"verb": "watch", "resource": "leases"}
	watches, _ := metricValue(t, "keel_apiserver_request_total", watched)
	w := watch[*coordinationv1.Lease](c, &apiv1.WatchRequest{ResourceVersion: "0"})
	eventually(t, "the watch to be registered", func() bool {
		v, _ := metricValue(t, "keel_apiserver_registered_watchers", leases)
		return v == open+1
	})
	w.cancel()
	eventually(t, "the watch to be unregistered", func() bool {
		v, _ := metricValue(t, "keel_apiserver_registered_watchers", leases)
		return v == open
	})
	eventually(t, "the ended watch to be counted", func() bool {
		v, _ := metricValue(t, "keel_apiserver_request_total", watched)
		return v == watches+1
	})

	if n, ok := metricValue(t, "keel_etcd_request_duration_seconds", nil); !ok || n == 0 {
		t.Fatalf("keel_etcd_request_duration_seconds has no samples")
	}
}
