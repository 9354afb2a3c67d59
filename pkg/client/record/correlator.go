package record

import (
	"time"

	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// Correlator defaults, as client-go's event correlator has them.
const (
	// DefaultMaxSimilar is how many distinct messages of similar events
	// (same source, involved object, type and reason) are written as
	// events of their own within the aggregation window; further similar
	// events fold into one aggregate event.
	DefaultMaxSimilar = 10
	// DefaultBurst and DefaultRefillInterval size the token bucket of each
	// source and involved object: DefaultBurst writes at once, then one
	// more per DefaultRefillInterval.
	DefaultBurst          = 25
	DefaultRefillInterval = 5 * time.Minute
)

// CombinedPrefix starts the message of an aggregate event, before the
// latest similar event's message.
const CombinedPrefix = "(combined from similar events): "

// CorrelatorConfig configures a Correlator; zero fields take the defaults.
type CorrelatorConfig struct {
	// Window is how long similar events and repeats keep correlating after
	// the last one (default DefaultAggregationWindow).
	Window         time.Duration
	MaxSimilar     int
	Burst          int
	RefillInterval time.Duration
	Clock          clock.PassiveClock
}

// Correlator decides what becomes of each recorded event, before anything
// is written: it folds floods of similar events into one aggregate event and
// rate-limits the writes about each object of each source, so that a
// crash-looping pod or a failing controller cannot flood etcd.
//
// It is a pure decision over its own bounded memory and clock; it is not
// safe for concurrent use (the Recorder calls it under a lock).
type Correlator struct {
	cfg     CorrelatorConfig
	similar map[similarKey]*similarRecord
	buckets map[spamKey]*bucket
}

// Decision is what to do with one event.
type Decision struct {
	// Skip: the source has exhausted its rate for the involved object;
	// nothing is written.
	Skip bool
	// Event is what to write: the event itself, or the aggregate event
	// standing for it.
	Event *corev1.Event
	// Key identifies the Event that repeats update: an aggregate event's
	// key leaves out the message, which changes with every fold.
	Key aggKey
}

// spamKey is what a token bucket limits: one source's events about one
// object.
type spamKey struct {
	component, host                        string
	kind, namespace, name, uid, apiVersion string
}

// similarKey groups events that differ only in their message.
type similarKey struct {
	spamKey
	eventType, reason string
}

// similarRecord is what the window remembers of similar events: their
// first MaxSimilar distinct messages, and whether a further one came.
type similarRecord struct {
	messages    map[string]struct{}
	aggregating bool
	last        time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewCorrelator returns a Correlator with cfg's settings.
func NewCorrelator(cfg CorrelatorConfig) *Correlator {
	if cfg.Window <= 0 {
		cfg.Window = DefaultAggregationWindow
	}
	if cfg.MaxSimilar <= 0 {
		cfg.MaxSimilar = DefaultMaxSimilar
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.RefillInterval <= 0 {
		cfg.RefillInterval = DefaultRefillInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	return &Correlator{cfg: cfg, similar: map[similarKey]*similarRecord{}, buckets: map[spamKey]*bucket{}}
}

// Correlate decides the fate of ev, an event just recorded (count 1). The
// first MaxSimilar distinct messages of similar events within the window
// pass unchanged (repeats too); from the next distinct message on, every
// similar event becomes the aggregate event, whose message is CombinedPrefix and ev's message. Whatever is to
// be written then takes a token from the bucket of its source and object,
// or is skipped. ev is not changed.
func (c *Correlator) Correlate(ev *corev1.Event) Decision {
	now := c.cfg.Clock.Now()
	out, key := ev, keyOf(ev)
	sk := similarKeyOf(ev)
	rec, ok := c.similar[sk]
	if !ok || now.Sub(rec.last) > c.cfg.Window {
		evict(c.similar, maxCached, func(r *similarRecord) bool { return now.Sub(r.last) > c.cfg.Window })
		rec = &similarRecord{messages: map[string]struct{}{}}
		c.similar[sk] = rec
	}
	rec.last = now
	if _, seen := rec.messages[ev.GetMessage()]; !seen {
		if len(rec.messages) < c.cfg.MaxSimilar {
			rec.messages[ev.GetMessage()] = struct{}{}
		} else {
			rec.aggregating = true
		}
	}
	if rec.aggregating {
		out = proto.Clone(ev).(*corev1.Event)
		out.Message = CombinedPrefix + ev.GetMessage()
		key.message, key.combined = "", true
	}
	if !c.take(sk.spamKey, now) {
		return Decision{Skip: true}
	}
	return Decision{Event: out, Key: key}
}

// take takes a token from k's bucket, refilled for the time since its last
// use; false when the bucket is empty.
func (c *Correlator) take(k spamKey, now time.Time) bool {
	full := float64(c.cfg.Burst)
	refilled := func(b *bucket) float64 {
		return min(full, b.tokens+float64(now.Sub(b.last))/float64(c.cfg.RefillInterval))
	}
	b, ok := c.buckets[k]
	if !ok {
		// A full bucket is the same as none: forget those first.
		evict(c.buckets, maxCached, func(b *bucket) bool { return refilled(b) >= full })
		b = &bucket{tokens: full, last: now}
		c.buckets[k] = b
	}
	b.tokens, b.last = refilled(b), now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// evict makes room for one more entry in m, bounded by limit: when m is
// full it drops the stale entries, then arbitrary ones until a quarter of
// limit is free (so that a full map is not scanned on every insert).
func evict[K comparable, V any](m map[K]V, limit int, stale func(V) bool) {
	if len(m) < limit {
		return
	}
	for k, v := range m {
		if stale(v) {
			delete(m, k)
		}
	}
	keep := limit - max(1, limit/4)
	for k := range m {
		if len(m) <= keep {
			return
		}
		delete(m, k)
	}
}

func similarKeyOf(ev *corev1.Event) similarKey {
	io := ev.GetInvolvedObject()
	return similarKey{
		spamKey: spamKey{
			component: ev.GetSource().GetComponent(), host: ev.GetSource().GetHost(),
			kind: io.GetKind(), namespace: io.GetNamespace(), name: io.GetName(), uid: io.GetUid(), apiVersion: io.GetApiVersion(),
		},
		eventType: ev.GetType(), reason: ev.GetReason(),
	}
}
