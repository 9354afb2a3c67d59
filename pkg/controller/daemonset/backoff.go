package daemonset

import (
	"sync"
	"time"
)

// The failed-pod back-off of Kubernetes' DaemonSet controller: the first
// failed pod on a node is deleted at once, the next not before 1 s after,
// then 2 s, 4 s, … up to 15 min; a node quiet for twice the cap starts
// over.
const (
	FailedPodBackoffInitial = time.Second
	FailedPodBackoffMax     = 15 * time.Minute
)

// FailedPodBackoff is the back-off per DaemonSet and node (key
// "uid/node") between deletions of failed daemon pods, so that a pod the
// node keeps refusing does not make the controller delete and recreate it
// in a hot loop. It is safe for concurrent use.
type FailedPodBackoff struct {
	mu      sync.Mutex
	entries map[string]backoffEntry
}

type backoffEntry struct {
	delay time.Duration
	last  time.Time
}

// Until is the time before which key's next failed pod is left alone
// (zero when none is).
func (b *FailedPodBackoff) Until(key string) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok {
		return time.Time{}
	}
	return e.last.Add(e.delay)
}

// Next records a failed pod of key deleted at now: the first (or the first
// after 2×FailedPodBackoffMax without one) waits FailedPodBackoffInitial,
// each further one twice the last, at most FailedPodBackoffMax. Entries
// quiet that long are dropped.
func (b *FailedPodBackoff) Next(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.entries == nil {
		b.entries = map[string]backoffEntry{}
	}
	for k, e := range b.entries {
		if now.Sub(e.last) > 2*FailedPodBackoffMax {
			delete(b.entries, k)
		}
	}
	e, ok := b.entries[key]
	if !ok {
		b.entries[key] = backoffEntry{delay: FailedPodBackoffInitial, last: now}
		return
	}
	b.entries[key] = backoffEntry{delay: min(2*e.delay, FailedPodBackoffMax), last: now}
}
