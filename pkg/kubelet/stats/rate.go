// Package stats is the kubelet's resource usage summary: the node's and
// its containers' CPU and memory, and its pods' volumes, as the Stats call
// of the kubelet API (keel.kubelet.v1) reports them and metrics.k8s.io
// (`kubectl top`) serves them.
//
// The core is pure: a Tracker turns cumulative CPU samples into rates
// (two samples at least MinWindow apart), and Summarize assembles a
// summary from samples already taken. The I/O is at the edges: the
// Collector reads the host (root cgroup, /proc) and the runtime (CRI
// ListContainerStats) and feeds them in.
package stats

import (
	"sync"
	"time"
)

// Point is one sample of a cumulative CPU counter.
type Point struct {
	// Time is when the counter was read.
	Time time.Time
	// CPUNanos is the CPU time used so far, in nanoseconds.
	CPUNanos uint64
}

// Rate is the CPU rate between two samples.
type Rate struct {
	// NanoCores is the CPU used per second, in nanoseconds (1e9: a core).
	NanoCores uint64
	// Window is the time between the samples.
	Window time.Duration
}

// RateBetween returns the rate of the counter from prev to cur; false when
// there is none: cur is not after prev, or the counter went back (it was
// reset).
func RateBetween(prev, cur Point) (Rate, bool) {
	w := cur.Time.Sub(prev.Time)
	if w <= 0 || cur.CPUNanos < prev.CPUNanos {
		return Rate{}, false
	}
	d := float64(cur.CPUNanos-prev.CPUNanos) / w.Seconds()
	return Rate{NanoCores: uint64(d), Window: w}, true
}

// DefaultMinWindow is the shortest window a Tracker computes a rate over
// when none is configured.
const DefaultMinWindow = time.Second

// Tracker keeps recent samples of counters by key (a container ID,
// "node") and gives each new sample's rate over the newest earlier sample
// that is at least MinWindow older. It keeps only the samples that can
// still serve as such a base. It is safe for concurrent use.
type Tracker struct {
	// MinWindow is the shortest window (DefaultMinWindow when zero).
	MinWindow time.Duration

	mu   sync.Mutex
	hist map[string][]Point // oldest first
}

// Observe records p for key and returns its rate; false until a sample at
// least MinWindow older than p has been observed for key. A sample older
// than the newest one kept is ignored (its rate is reported as none).
func (t *Tracker) Observe(key string, p Point) (Rate, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hist == nil {
		t.hist = map[string][]Point{}
	}
	min := t.MinWindow
	if min <= 0 {
		min = DefaultMinWindow
	}
	h := t.hist[key]
	if n := len(h); n > 0 && !p.Time.After(h[n-1].Time) {
		if p.Time.Equal(h[n-1].Time) && p.CPUNanos == h[n-1].CPUNanos {
			return t.rateLocked(h[:n-1], p, min) // the same sample again
		}
		return Rate{}, false
	}
	if n := len(h); n > 0 && p.CPUNanos < h[n-1].CPUNanos {
		h = nil // the counter was reset: start over
	}
	r, ok := t.rateLocked(h, p, min)
	// Drop what is older than the base p's successors may need: the
	// newest sample at least min older than p.
	base := -1
	for i := len(h) - 1; i >= 0; i-- {
		if p.Time.Sub(h[i].Time) >= min {
			base = i
			break
		}
	}
	if base > 0 {
		h = append([]Point(nil), h[base:]...)
	}
	t.hist[key] = append(h, p)
	return r, ok
}

// rateLocked is p's rate over the newest point of h at least min older.
func (t *Tracker) rateLocked(h []Point, p Point, min time.Duration) (Rate, bool) {
	for i := len(h) - 1; i >= 0; i-- {
		if p.Time.Sub(h[i].Time) >= min {
			return RateBetween(h[i], p)
		}
	}
	return Rate{}, false
}

// Retain forgets every key for which keep is false (containers that are
// gone).
func (t *Tracker) Retain(keep func(key string) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.hist {
		if !keep(k) {
			delete(t.hist, k)
		}
	}
}

// Len is the number of keys tracked.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.hist)
}
