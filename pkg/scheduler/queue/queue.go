// Package queue is the scheduler's queue of pods waiting for a node.
//
// A pending pod is in exactly one of three sub-queues:
//
//   - active: ready to be tried, ordered by priority (highest first), then
//     by the time the pod entered the active queue (oldest first);
//   - back-off: it failed recently and waits InitialBackoff doubled for
//     every failed attempt, up to MaxBackoff (1 s, 2 s, 4 s, 8 s, 10 s…);
//   - unschedulable: it fitted no node; it stays parked until a cluster
//     event that one of the plugins that rejected it registered happens
//     (a node added, a pod deleted…), or for at most MaxInUnschedulable,
//     and then goes to the active queue, or to the back-off queue if its
//     back-off has not expired yet.
//
// A popped pod is in none of them: it is being scheduled, and the caller
// gives it back with AddUnschedulable or Requeue if it was not bound.
//
// The queue is not safe for concurrent use: the scheduling loop owns it.
// Time comes from an injected clock; nothing in the queue sleeps or starts
// goroutines. The loop calls Flush when NextWakeup is due.
package queue

import (
	"container/heap"
	"container/list"
	"time"

	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/scheduler/framework"
)

// Defaults.
const (
	DefaultInitialBackoff     = time.Second
	DefaultMaxBackoff         = 10 * time.Second
	DefaultMaxInUnschedulable = 60 * time.Second
)

// QueuedPodInfo is a pending pod with its queueing history.
type QueuedPodInfo struct {
	*framework.PodInfo
	// Timestamp is when the pod last entered the active queue (it orders
	// pods of equal priority).
	Timestamp time.Time
	// InitialAttemptTimestamp is when the pod first entered the queue (for
	// end-to-end latency).
	InitialAttemptTimestamp time.Time
	// Attempts counts the times the pod was popped.
	Attempts int
	// UnschedulablePlugins rejected the pod in its last attempt.
	UnschedulablePlugins map[string]struct{}

	lastFailure time.Time
	where       location
	seq         uint64
	index       int           // in its heap
	elem        *list.Element // in the unschedulable list
	parkedAt    time.Time
}

type location int

const (
	nowhere location = iota
	inActive
	inBackoff
	inUnschedulable
)

// Config configures a Queue.
type Config struct {
	Clock              clock.PassiveClock
	InitialBackoff     time.Duration
	MaxBackoff         time.Duration
	MaxInUnschedulable time.Duration
	// Events are, per plugin, the cluster events that may make pods it
	// rejected schedulable (framework.Framework.EventsToRegister).
	Events map[string][]framework.ClusterEvent
}

// Queue is the scheduling queue.
type Queue struct {
	cfg     Config
	clock   clock.PassiveClock
	pods    map[string]*QueuedPodInfo // every queued pod, by namespace/name
	active  activeHeap
	backoff backoffHeap
	unsched *list.List // parked pods, oldest first
	seq     uint64
}

// New returns an empty queue.
func New(cfg Config) *Queue {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = DefaultInitialBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.InitialBackoff {
		cfg.MaxBackoff = cfg.InitialBackoff
	}
	if cfg.MaxInUnschedulable <= 0 {
		cfg.MaxInUnschedulable = DefaultMaxInUnschedulable
	}
	return &Queue{cfg: cfg, clock: cfg.Clock, pods: map[string]*QueuedPodInfo{}, unsched: list.New()}
}

// Len returns the sizes of the active, back-off and unschedulable queues.
func (q *Queue) Len() (active, backoff, unschedulable int) {
	return len(q.active), len(q.backoff), q.unsched.Len()
}

// Get returns the queued pod with key (namespace/name).
func (q *Queue) Get(key string) (*QueuedPodInfo, bool) {
	p, ok := q.pods[key]
	return p, ok
}

// Add queues a new pending pod in the active queue. A pod already queued
// is updated instead.
func (q *Queue) Add(pi *framework.PodInfo) {
	if _, ok := q.pods[pi.Key]; ok {
		q.Update(pi, true)
		return
	}
	now := q.clock.Now()
	qp := &QueuedPodInfo{PodInfo: pi, Timestamp: now, InitialAttemptTimestamp: now}
	q.pods[pi.Key] = qp
	q.pushActive(qp, now)
}

// Update replaces a queued pod's data (a newer version from the API). With
// retry, a parked pod goes back to the active (or back-off) queue: its
// change may let it fit. It reports whether the pod was queued.
func (q *Queue) Update(pi *framework.PodInfo, retry bool) bool {
	qp, ok := q.pods[pi.Key]
	if !ok {
		return false
	}
	qp.PodInfo = pi
	switch qp.where {
	case inActive:
		heap.Fix(&q.active, qp.index) // the priority may have changed
	case inUnschedulable:
		if retry {
			q.removeUnschedulable(qp)
			q.requeue(qp, q.clock.Now())
		}
	}
	return true
}

// Delete removes the pod with key from the queue.
func (q *Queue) Delete(key string) {
	qp, ok := q.pods[key]
	if !ok {
		return
	}
	switch qp.where {
	case inActive:
		heap.Remove(&q.active, qp.index)
	case inBackoff:
		heap.Remove(&q.backoff, qp.index)
	case inUnschedulable:
		q.removeUnschedulable(qp)
	}
	qp.where = nowhere
	delete(q.pods, key)
}

// Pop removes and returns the first pod of the active queue (nil if it is
// empty), counting an attempt. The pod is no longer queued.
func (q *Queue) Pop() *QueuedPodInfo {
	if len(q.active) == 0 {
		return nil
	}
	qp := heap.Pop(&q.active).(*QueuedPodInfo)
	qp.where = nowhere
	qp.Attempts++
	delete(q.pods, qp.Key)
	return qp
}

// AddUnschedulable gives back a popped pod that fitted no node (or, with
// backoff, failed for another reason): it is parked, or put in the
// back-off queue. A newer version of the pod that was added meanwhile
// wins.
func (q *Queue) AddUnschedulable(qp *QueuedPodInfo, backoff bool) {
	if _, ok := q.pods[qp.Key]; ok {
		return
	}
	now := q.clock.Now()
	qp.lastFailure = now
	q.pods[qp.Key] = qp
	if backoff {
		q.pushBackoff(qp)
		return
	}
	qp.where = inUnschedulable
	qp.parkedAt = now
	qp.elem = q.unsched.PushBack(qp)
}

// Requeue gives back a pod whose binding failed: it goes to the back-off
// queue.
func (q *Queue) Requeue(qp *QueuedPodInfo) { q.AddUnschedulable(qp, true) }

// BackoffDuration is the back-off after attempts failed attempts.
func (q *Queue) BackoffDuration(attempts int) time.Duration {
	d := q.cfg.InitialBackoff
	for i := 1; i < attempts; i++ {
		d *= 2
		if d >= q.cfg.MaxBackoff {
			return q.cfg.MaxBackoff
		}
	}
	return d
}

func (q *Queue) backoffExpiry(qp *QueuedPodInfo) time.Time {
	return qp.lastFailure.Add(q.BackoffDuration(qp.Attempts))
}

// requeue puts a pod leaving the unschedulable queue where it belongs now.
func (q *Queue) requeue(qp *QueuedPodInfo, now time.Time) {
	if qp.Attempts > 0 && now.Before(q.backoffExpiry(qp)) {
		q.pushBackoff(qp)
		return
	}
	q.pushActive(qp, now)
}

func (q *Queue) pushActive(qp *QueuedPodInfo, now time.Time) {
	q.seq++
	qp.seq = q.seq
	qp.Timestamp = now
	qp.where = inActive
	heap.Push(&q.active, qp)
}

func (q *Queue) pushBackoff(qp *QueuedPodInfo) {
	qp.where = inBackoff
	qp.index = -1
	heap.Push(&q.backoff, &backoffItem{qp: qp, expiry: q.backoffExpiry(qp)})
}

func (q *Queue) removeUnschedulable(qp *QueuedPodInfo) {
	q.unsched.Remove(qp.elem)
	qp.elem = nil
	qp.where = nowhere
}

// MoveOnEvent moves the parked pods that ev may help (one of the plugins
// that rejected them registered a matching event; pods without such
// plugins always move) to the active or back-off queue. It returns how
// many moved.
func (q *Queue) MoveOnEvent(ev framework.ClusterEvent) int {
	if q.unsched.Len() == 0 {
		return 0
	}
	now := q.clock.Now()
	moved := 0
	for e := q.unsched.Front(); e != nil; {
		next := e.Next()
		qp := e.Value.(*QueuedPodInfo)
		if q.interested(qp, ev) {
			q.removeUnschedulable(qp)
			q.requeue(qp, now)
			moved++
		}
		e = next
	}
	return moved
}

func (q *Queue) interested(qp *QueuedPodInfo, ev framework.ClusterEvent) bool {
	if ev.Resource == framework.WildCardEvent || len(qp.UnschedulablePlugins) == 0 {
		return true
	}
	for plugin := range qp.UnschedulablePlugins {
		for _, reg := range q.cfg.Events[plugin] {
			if reg.Match(ev) {
				return true
			}
		}
	}
	return false
}

// Flush moves back-off pods whose back-off expired to the active queue,
// and pods parked for MaxInUnschedulable to the active (or back-off)
// queue.
func (q *Queue) Flush() {
	now := q.clock.Now()
	for len(q.backoff) > 0 && !q.backoff[0].expiry.After(now) {
		it := heap.Pop(&q.backoff).(*backoffItem)
		q.pushActive(it.qp, now)
	}
	for e := q.unsched.Front(); e != nil; e = q.unsched.Front() {
		qp := e.Value.(*QueuedPodInfo)
		if now.Sub(qp.parkedAt) < q.cfg.MaxInUnschedulable {
			break
		}
		q.removeUnschedulable(qp)
		q.requeue(qp, now)
	}
}

// NextWakeup is the earliest time Flush will move a pod (false if no pod
// waits).
func (q *Queue) NextWakeup() (time.Time, bool) {
	var t time.Time
	ok := false
	if len(q.backoff) > 0 {
		t, ok = q.backoff[0].expiry, true
	}
	if e := q.unsched.Front(); e != nil {
		u := e.Value.(*QueuedPodInfo).parkedAt.Add(q.cfg.MaxInUnschedulable)
		if !ok || u.Before(t) {
			t, ok = u, true
		}
	}
	return t, ok
}

// PendingPods returns every queued pod (for debugging and tests).
func (q *Queue) PendingPods() []*QueuedPodInfo {
	out := make([]*QueuedPodInfo, 0, len(q.pods))
	for _, p := range q.pods {
		out = append(out, p)
	}
	return out
}

// activeHeap orders by priority (high first), then Timestamp, then entry
// order.
type activeHeap []*QueuedPodInfo

func (h activeHeap) Len() int { return len(h) }
func (h activeHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	if !a.Timestamp.Equal(b.Timestamp) {
		return a.Timestamp.Before(b.Timestamp)
	}
	return a.seq < b.seq
}
func (h activeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *activeHeap) Push(x any) {
	qp := x.(*QueuedPodInfo)
	qp.index = len(*h)
	*h = append(*h, qp)
}
func (h *activeHeap) Pop() any {
	old := *h
	n := len(old)
	qp := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return qp
}

type backoffItem struct {
	qp     *QueuedPodInfo
	expiry time.Time
}

// backoffHeap orders by back-off expiry.
type backoffHeap []*backoffItem

func (h backoffHeap) Len() int           { return len(h) }
func (h backoffHeap) Less(i, j int) bool { return h[i].expiry.Before(h[j].expiry) }
func (h backoffHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].qp.index, h[j].qp.index = i, j
}
func (h *backoffHeap) Push(x any) {
	it := x.(*backoffItem)
	it.qp.index = len(*h)
	*h = append(*h, it)
}
func (h *backoffHeap) Pop() any {
	old := *h
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return it
}
