package record

import (
	"fmt"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

func testEvent(component, object, reason, message string) *corev1.Event {
	return &corev1.Event{
		InvolvedObject: &corev1.ObjectReference{Kind: "Pod", ApiVersion: "v1", Namespace: "default", Name: object, Uid: object + "-uid"},
		Source:         &corev1.EventSource{Component: component, Host: "node-1"},
		Type:           Warning,
		Reason:         reason,
		Message:        message,
		Count:          1,
	}
}

// TestCorrelatorRepeats: repeats of one event pass unchanged under one key
// (the writer folds them into one Event's count) and do not count as
// similar events.
func TestCorrelatorRepeats(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c := NewCorrelator(CorrelatorConfig{Clock: clk, Burst: 1000})
	first := c.Correlate(testEvent("kubelet", "web", "BackOff", "back-off"))
	for range 20 {
		ev := testEvent("kubelet", "web", "BackOff", "back-off")
		d := c.Correlate(ev)
		if d.Skip || d.Event != ev || d.Key != first.Key {
			t.Fatalf("repeat: %+v, want the event itself under key %+v", d, first.Key)
		}
	}
	// Nine more distinct messages still pass on their own.
	for i := range DefaultMaxSimilar - 1 {
		d := c.Correlate(testEvent("kubelet", "web", "BackOff", fmt.Sprintf("back-off %d", i)))
		if d.Skip || d.Event.GetMessage() != fmt.Sprintf("back-off %d", i) || d.Key.combined {
			t.Fatalf("distinct message %d: %+v", i, d)
		}
	}
}

// TestCorrelatorAggregates: after MaxSimilar distinct messages within the
// window, similar events fold into one aggregate event carrying the latest
// message; other reasons are not affected; after the window it starts over.
func TestCorrelatorAggregates(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c := NewCorrelator(CorrelatorConfig{Clock: clk, Burst: 1000})
	for i := range DefaultMaxSimilar {
		msg := fmt.Sprintf("container c%d failed", i)
		if d := c.Correlate(testEvent("kubelet", "web", "Failed", msg)); d.Event.GetMessage() != msg {
			t.Fatalf("event %d: message %q, want it unchanged", i, d.Event.GetMessage())
		}
		clk.Step(time.Minute) // within the window of the previous one
	}
	var key aggKey
	for i, msg := range []string{"container c10 failed", "container c0 failed", "container c11 failed"} {
		ev := testEvent("kubelet", "web", "Failed", msg)
		d := c.Correlate(ev)
		if want := CombinedPrefix + msg; d.Skip || d.Event.GetMessage() != want {
			t.Fatalf("similar event %d: %+v, want message %q", i, d, want)
		}
		if ev.GetMessage() != msg {
			t.Fatal("Correlate changed its input")
		}
		if i > 0 && d.Key != key {
			t.Fatalf("aggregate key changed: %+v then %+v", key, d.Key)
		}
		key = d.Key
	}
	if d := c.Correlate(testEvent("kubelet", "web", "Pulled", "pulled")); d.Event.GetMessage() != "pulled" {
		t.Fatalf("another reason aggregated: %q", d.Event.GetMessage())
	}
	if d := c.Correlate(testEvent("kubelet", "db", "Failed", "container x failed")); d.Event.GetMessage() != "container x failed" {
		t.Fatalf("another object aggregated: %q", d.Event.GetMessage())
	}
	clk.Step(DefaultAggregationWindow + time.Second)
	if d := c.Correlate(testEvent("kubelet", "web", "Failed", "container c12 failed")); d.Event.GetMessage() != "container c12 failed" {
		t.Fatalf("after the window: %q, want a fresh start", d.Event.GetMessage())
	}
}

// TestCorrelatorRateLimit: each source's writes about each object draw on
// a bucket of Burst tokens refilled one per RefillInterval.
func TestCorrelatorRateLimit(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c := NewCorrelator(CorrelatorConfig{Clock: clk})
	pass := func(component, object string) bool {
		return !c.Correlate(testEvent(component, object, "BackOff", "back-off")).Skip
	}
	for i := range DefaultBurst {
		if !pass("kubelet", "web") {
			t.Fatalf("event %d of the burst skipped", i)
		}
	}
	if pass("kubelet", "web") {
		t.Fatal("event past the burst written")
	}
	if !pass("kubelet", "db") || !pass("keel-controller-manager", "web") {
		t.Fatal("another object's or another source's events limited too")
	}
	clk.Step(DefaultRefillInterval - time.Second)
	if pass("kubelet", "web") {
		t.Fatal("written before a token was refilled")
	}
	clk.Step(time.Second)
	if !pass("kubelet", "web") {
		t.Fatal("not written after a refill interval")
	}
	if pass("kubelet", "web") {
		t.Fatal("two written after one refill interval")
	}
	// A long quiet spell refills the bucket up to the burst, not beyond.
	clk.Step(100 * DefaultRefillInterval)
	for i := range DefaultBurst {
		if !pass("kubelet", "web") {
			t.Fatalf("after a quiet spell, event %d skipped", i)
		}
	}
	if pass("kubelet", "web") {
		t.Fatal("bucket refilled beyond the burst")
	}
}

// TestCorrelatorBounded: the correlator's memory stays bounded however
// many objects it sees.
func TestCorrelatorBounded(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c := NewCorrelator(CorrelatorConfig{Clock: clk})
	for i := range 3 * maxCached {
		c.Correlate(testEvent("kubelet", fmt.Sprintf("pod-%d", i), "BackOff", "back-off"))
	}
	if len(c.similar) > maxCached || len(c.buckets) > maxCached {
		t.Fatalf("%d similar records, %d buckets; want at most %d", len(c.similar), len(c.buckets), maxCached)
	}
}
