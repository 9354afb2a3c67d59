package flowcontrol

import (
	"container/list"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Kubernetes' defaults: --max-requests-inflight and
// --max-mutating-requests-inflight, whose sum is the server's concurrency
// limit, and the longest a request waits in a queue (a quarter of
// Kubernetes' one-minute request timeout).
const (
	DefaultMaxRequestsInflight         = 400
	DefaultMaxMutatingRequestsInflight = 200
	DefaultQueueWaitTimeout            = 15 * time.Second
)

// RetryAfter is the least hint sent with a rejection: how long the client
// waits before it tries again (Kubernetes answers Retry-After: 1). A level
// that rejected many requests in the previous second sends a longer one,
// up to MaxRetryAfter (see level.retryAfter).
const (
	RetryAfter    = time.Second
	MaxRetryAfter = 10 * time.Second
)

// Rejection reasons, as Kubernetes' apiserver_flowcontrol_rejected_requests_total
// labels them.
const (
	// ReasonQueueFull: the flow's queue, or the level's, is full.
	ReasonQueueFull = "queue-full"
	// ReasonConcurrencyLimit: every seat of a level that does not queue
	// (catch-all) is taken.
	ReasonConcurrencyLimit = "concurrency-limit"
	// ReasonTimeout: the request waited in its queue for the queue wait
	// limit.
	ReasonTimeout = "time-out"
	// ReasonCancelled: the client gave up while its request waited.
	ReasonCancelled = "cancelled"
	// ReasonTooManyWatches: a watch over the per-user or total limit
	// (WatchLimiter).
	ReasonTooManyWatches = "too-many-watches"
)

// Level configures one priority level.
type Level struct {
	Name string
	// Shares are its nominal concurrency shares: the level's seats are
	// this fraction of the sum of every limited level's shares, times the
	// server's concurrency limit, rounded up.
	Shares int
	// The level may have Queues×QueueLengthLimit requests waiting, one
	// flow HandSize×QueueLengthLimit: what its queues, and a flow's hand
	// of them, hold in Kubernetes. Zero QueueLengthLimit: the level does not
	// queue, it rejects what finds no free seat.
	Queues           int
	HandSize         int
	QueueLengthLimit int
}

// Levels are the limited priority levels (every level but exempt) with
// Kubernetes' suggested nominal concurrency shares and queuing. Like
// Kubernetes' queue sets, a level holds at most Queues×QueueLengthLimit
// waiting requests and one flow at most HandSize×QueueLengthLimit, however
// many flows wait (a thousand nodes, each its own flow, all queue);
// unlike them, each flow has a queue of its own rather than a shuffle-
// sharded hand of shared ones, and the level serves its flows round robin.
var Levels = []Level{
	{Name: LevelSystem, Shares: 30, Queues: 64, HandSize: 6, QueueLengthLimit: 50},
	{Name: LevelLeaderElection, Shares: 10, Queues: 16, HandSize: 4, QueueLengthLimit: 50},
	{Name: LevelWorkloadHigh, Shares: 40, Queues: 128, HandSize: 6, QueueLengthLimit: 50},
	{Name: LevelWorkloadLow, Shares: 100, Queues: 128, HandSize: 6, QueueLengthLimit: 50},
	{Name: LevelGlobalDefault, Shares: 20, Queues: 128, HandSize: 6, QueueLengthLimit: 50},
	{Name: LevelCatchAll, Shares: 5},
}

// Observer is told of every change the metrics follow. Its methods are
// called with the controller's lock held: they must be quick and must not
// call back.
type Observer interface {
	// Executing and InQueue change the number of requests of a level
	// and schema that run, and that wait.
	Executing(level, schema string, delta int)
	InQueue(level, schema string, delta int)
	// Dispatched is a request that got its seat after waiting waited.
	Dispatched(level, schema string, waited time.Duration)
	// Rejected is a request refused for reason after waiting waited
	// (zero when refused on arrival).
	Rejected(level, schema, reason string, waited time.Duration)
}

// Config configures a Controller.
type Config struct {
	// ConcurrencyLimit is the server's concurrency limit, shared among
	// the levels: --max-requests-inflight + --max-mutating-requests-inflight.
	ConcurrencyLimit int
	// QueueWaitTimeout is the longest a request waits for a seat
	// (default DefaultQueueWaitTimeout); the caller's own deadline also
	// ends the wait.
	QueueWaitTimeout time.Duration
	// Levels are the limited levels (default Levels).
	Levels []Level
	// Observer follows the levels (default: nobody).
	Observer Observer
	// Now and After are the clock (default the time package's); After
	// returns a channel that receives once d has passed, and a function
	// that releases it early.
	Now   func() time.Time
	After func(d time.Duration) (<-chan time.Time, func())
}

// Controller holds every limited level's seats and queues. It is safe for
// concurrent use.
type Controller struct {
	cfg    Config
	mu     sync.Mutex
	levels map[string]*level
}

// level is one priority level's state.
type level struct {
	Level
	limit     int
	executing int
	queued    int
	// flows maps a flow key to the flow's waiting requests; turns lists
	// the flows with waiting requests in the order they are served.
	flows map[string]*flow
	turns *list.List // of *flow
	// rejections counts the rejections of the second that began at
	// second; lastSecond those of the second before it.
	second     time.Time
	rejections int
	lastSecond int
}

// reject counts a rejection at now and returns its hint: RetryAfter, plus
// RetryAfter for every level's seats worth of requests the level rejected
// in the previous second, at most MaxRetryAfter. Clients refused together
// with many others thus come back further apart, and the rejections (each
// costs the server a call's reception and answer) fall to a few times
// what the level can run. Called with mu held.
func (l *level) reject(now time.Time) time.Duration {
	switch since := now.Sub(l.second); {
	case since >= 2*time.Second:
		l.second, l.rejections, l.lastSecond = now, 0, 0
	case since >= time.Second:
		l.second, l.rejections, l.lastSecond = l.second.Add(time.Second), 0, l.rejections
	}
	l.rejections++
	return min(RetryAfter*time.Duration(1+l.lastSecond/l.limit), MaxRetryAfter)
}

// flow is one flow's queue of waiting requests, oldest first.
type flow struct {
	key     string
	waiting *list.List // of *waiter
	turn    *list.Element
}

// waiter is one queued request: only what dispatch needs.
type waiter struct {
	schema   string
	since    time.Time
	ready    chan struct{} // closed when the request got its seat
	elem     *list.Element
	flow     *flow
	admitted bool
}

// New builds a Controller. A limit below the number of levels still gives
// every level one seat.
func New(cfg Config) (*Controller, error) {
	if cfg.ConcurrencyLimit <= 0 {
		return nil, fmt.Errorf("flowcontrol: the concurrency limit must be positive, got %d", cfg.ConcurrencyLimit)
	}
	if cfg.QueueWaitTimeout <= 0 {
		cfg.QueueWaitTimeout = DefaultQueueWaitTimeout
	}
	if cfg.Levels == nil {
		cfg.Levels = Levels
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.After == nil {
		cfg.After = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTimer(d)
			return t.C, func() { t.Stop() }
		}
	}
	sum := 0
	for _, l := range cfg.Levels {
		if l.Shares <= 0 {
			return nil, fmt.Errorf("flowcontrol: level %q needs positive shares", l.Name)
		}
		if l.QueueLengthLimit > 0 && l.HandSize <= 0 {
			return nil, fmt.Errorf("flowcontrol: level %q queues, so it needs a positive hand size", l.Name)
		}
		sum += l.Shares
	}
	c := &Controller{cfg: cfg, levels: map[string]*level{}}
	for _, l := range cfg.Levels {
		c.levels[l.Name] = &level{Level: l, limit: nominalLimit(cfg.ConcurrencyLimit, l.Shares, sum), flows: map[string]*flow{}, turns: list.New()}
	}
	return c, nil
}

// nominalLimit is a level's seats: ceil(total × shares / sum), as
// Kubernetes computes a level's nominal concurrency limit.
func nominalLimit(total, shares, sum int) int {
	return (total*shares + sum - 1) / sum
}

// Limits returns every limited level's seats, by level name.
func (c *Controller) Limits() map[string]int {
	out := map[string]int{}
	for name, l := range c.levels {
		out[name] = l.limit
	}
	return out
}

// LevelNames returns the limited levels' names, sorted.
func (c *Controller) LevelNames() []string {
	var out []string
	for name := range c.levels {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Rejected is a request refused a seat: the caller answers it with
// TooManyRequests and the RetryAfter hint, before doing any of its work.
type Rejected struct {
	Classification
	Reason     string
	RetryAfter time.Duration
}

func (r *Rejected) Error() string {
	switch r.Reason {
	case ReasonTooManyWatches:
		return "too many watches, please try again later"
	case ReasonTimeout:
		return fmt.Sprintf("the request waited too long in priority level %q, please try again later", r.PriorityLevel)
	}
	return fmt.Sprintf("too many requests in priority level %q, please try again later", r.PriorityLevel)
}

// Admit gives the request classified cl a seat of its level: at once when
// one is free, else after waiting in its flow's queue. It returns done, to
// call once when the request has finished (it frees the seat), or a
// *Rejected when the queues are full, the wait reached the queue wait
// limit, or ctx ended while waiting (ReasonCancelled). Exempt requests
// get no seat and never wait.
func (c *Controller) Admit(ctx context.Context, cl Classification) (done func(), err error) {
	if cl.Exempt() {
		c.mu.Lock()
		c.cfg.Observer.Executing(cl.PriorityLevel, cl.FlowSchema, 1)
		c.mu.Unlock()
		return c.once(func() { c.cfg.Observer.Executing(cl.PriorityLevel, cl.FlowSchema, -1) }), nil
	}
	l, ok := c.levels[cl.PriorityLevel]
	if !ok {
		return nil, fmt.Errorf("flowcontrol: no priority level %q", cl.PriorityLevel)
	}
	c.mu.Lock()
	w, reason := c.arrive(l, cl)
	c.mu.Unlock()
	if reason != "" {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.cfg.Observer.Rejected(l.Name, cl.FlowSchema, reason, 0)
		return nil, &Rejected{Classification: cl, Reason: reason, RetryAfter: l.reject(c.cfg.Now())}
	}
	if w == nil {
		return c.done(l, cl), nil
	}
	timeout, stop := c.cfg.After(c.cfg.QueueWaitTimeout)
	defer stop()
	select {
	case <-w.ready:
		return c.done(l, cl), nil
	case <-timeout:
		reason = ReasonTimeout
	case <-ctx.Done():
		reason = ReasonCancelled
	}
	c.mu.Lock()
	if w.admitted { // the seat came as the wait ended: keep it
		c.mu.Unlock()
		return c.done(l, cl), nil
	}
	c.leave(l, w)
	now := c.cfg.Now()
	c.cfg.Observer.Rejected(l.Name, cl.FlowSchema, reason, now.Sub(w.since))
	hint := l.reject(now)
	c.mu.Unlock()
	return nil, &Rejected{Classification: cl, Reason: reason, RetryAfter: hint}
}

// arrive takes a free seat (nil waiter, no reason), queues the request
// (its waiter), or names why it is rejected. Called with mu held.
func (c *Controller) arrive(l *level, cl Classification) (*waiter, string) {
	if l.executing < l.limit && l.queued == 0 {
		l.executing++
		c.cfg.Observer.Executing(l.Name, cl.FlowSchema, 1)
		c.cfg.Observer.Dispatched(l.Name, cl.FlowSchema, 0)
		return nil, ""
	}
	if l.QueueLengthLimit == 0 {
		return nil, ReasonConcurrencyLimit
	}
	if l.queued >= l.Queues*l.QueueLengthLimit {
		return nil, ReasonQueueFull
	}
	f := l.flows[cl.FlowKey]
	if f == nil {
		f = &flow{key: cl.FlowKey, waiting: list.New()}
		f.turn = l.turns.PushBack(f)
		l.flows[cl.FlowKey] = f
	} else if f.waiting.Len() >= l.HandSize*l.QueueLengthLimit {
		return nil, ReasonQueueFull
	}
	w := &waiter{schema: cl.FlowSchema, since: c.cfg.Now(), ready: make(chan struct{}), flow: f}
	w.elem = f.waiting.PushBack(w)
	l.queued++
	c.cfg.Observer.InQueue(l.Name, cl.FlowSchema, 1)
	return w, ""
}

// leave removes a waiter that gave up from its flow's queue. Called with
// mu held.
func (c *Controller) leave(l *level, w *waiter) {
	f := w.flow
	f.waiting.Remove(w.elem)
	l.queued--
	c.cfg.Observer.InQueue(l.Name, w.schema, -1)
	if f.waiting.Len() == 0 {
		l.turns.Remove(f.turn)
		delete(l.flows, f.key)
	}
}

// dispatch hands free seats to waiting requests, one flow after the
// other: the flow served goes to the back of the turns. Called with mu
// held.
func (c *Controller) dispatch(l *level) {
	for l.executing < l.limit && l.turns.Len() > 0 {
		f := l.turns.Front().Value.(*flow)
		w := f.waiting.Front().Value.(*waiter)
		c.leave(l, w)
		if f.waiting.Len() > 0 {
			l.turns.MoveToBack(f.turn)
		}
		w.admitted = true
		l.executing++
		c.cfg.Observer.Executing(l.Name, w.schema, 1)
		c.cfg.Observer.Dispatched(l.Name, w.schema, c.cfg.Now().Sub(w.since))
		close(w.ready)
	}
}

// done is the release of a seat of l.
func (c *Controller) done(l *level, cl Classification) func() {
	return c.once(func() {
		l.executing--
		c.cfg.Observer.Executing(l.Name, cl.FlowSchema, -1)
		c.dispatch(l)
	})
}

// once makes f, run under mu, idempotent.
func (c *Controller) once(f func()) func() {
	var o sync.Once
	return func() {
		o.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			f()
		})
	}
}

type nopObserver struct{}

func (nopObserver) Executing(string, string, int)                  {}
func (nopObserver) InQueue(string, string, int)                    {}
func (nopObserver) Dispatched(string, string, time.Duration)       {}
func (nopObserver) Rejected(string, string, string, time.Duration) {}
