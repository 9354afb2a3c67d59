package flowcontrol

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"keel.dev/keel/pkg/testutil"
)

// recorder is an Observer that remembers what it was told.
type recorder struct {
	mu         sync.Mutex
	executing  map[string]int
	inQueue    map[string]int
	dispatched int
	rejected   map[string]int // by reason
}

func newRecorder() *recorder {
	return &recorder{executing: map[string]int{}, inQueue: map[string]int{}, rejected: map[string]int{}}
}

func (r *recorder) Executing(level, _ string, d int) {
	r.mu.Lock()
	r.executing[level] += d
	r.mu.Unlock()
}
func (r *recorder) InQueue(level, _ string, d int) { r.mu.Lock(); r.inQueue[level] += d; r.mu.Unlock() }
func (r *recorder) Dispatched(string, string, time.Duration) {
	r.mu.Lock()
	r.dispatched++
	r.mu.Unlock()
}
func (r *recorder) Rejected(_, _, reason string, _ time.Duration) {
	r.mu.Lock()
	r.rejected[reason]++
	r.mu.Unlock()
}

func (r *recorder) queued(level string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inQueue[level]
}

func (r *recorder) rejections() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.rejected)
}

// fakeTimers hands out timeouts the test fires.
type fakeTimers struct {
	mu sync.Mutex
	cs []chan time.Time
}

func (f *fakeTimers) after(time.Duration) (<-chan time.Time, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(chan time.Time, 1)
	f.cs = append(f.cs, c)
	return c, func() {}
}

func (f *fakeTimers) fireAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.cs {
		c <- time.Time{}
	}
	f.cs = nil
}

const testLevel = LevelGlobalDefault

func cl(user string) Classification {
	return Classification{FlowSchema: "global-default", PriorityLevel: testLevel, FlowKey: user}
}

// oneSeat is a controller whose only level has one seat.
func oneSeat(t *testing.T, queues, length int) (*Controller, *recorder, *fakeTimers) {
	t.Helper()
	rec, timers := newRecorder(), &fakeTimers{}
	c, err := New(Config{ConcurrencyLimit: 1, Levels: []Level{{Name: testLevel, Shares: 1, Queues: queues, HandSize: 1, QueueLengthLimit: length}},
		Observer: rec, After: timers.after})
	if err != nil {
		t.Fatal(err)
	}
	return c, rec, timers
}

type admission struct {
	user string
	done func()
	err  error
}

// enqueue starts an Admit for user and waits until it is queued.
func enqueue(t *testing.T, c *Controller, rec *recorder, ctx context.Context, user string, out chan<- admission) {
	t.Helper()
	before := rec.queued(testLevel)
	go func() {
		done, err := c.Admit(ctx, cl(user))
		out <- admission{user, done, err}
	}()
	testutil.Eventually(t, 5*time.Second, user+"'s request queued", testutil.Condition(func() bool { return rec.queued(testLevel) == before+1 }, "not queued"))
}

func TestNominalLimits(t *testing.T) {
	for _, tc := range []struct {
		total int
		want  map[string]int
	}{
		// Kubernetes' defaults: 400 + 200.
		{600, map[string]int{LevelSystem: 88, LevelLeaderElection: 30, LevelWorkloadHigh: 118, LevelWorkloadLow: 293, LevelGlobalDefault: 59, LevelCatchAll: 15}},
		{3, map[string]int{LevelSystem: 1, LevelLeaderElection: 1, LevelWorkloadHigh: 1, LevelWorkloadLow: 2, LevelGlobalDefault: 1, LevelCatchAll: 1}},
	} {
		c, err := New(Config{ConcurrencyLimit: tc.total})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Limits(); !maps.Equal(got, tc.want) {
			t.Errorf("limits of %d seats: %v, want %v", tc.total, got, tc.want)
		}
	}
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "concurrency limit") {
		t.Errorf("New without a limit: %v, want an error naming the concurrency limit", err)
	}
}

// TestFairnessBetweenFlows: with one seat, a flow that queued ten requests
// and one that queued three are served in turn, not first come first
// served: the small flow's requests all run before the big flow's fourth.
func TestFairnessBetweenFlows(t *testing.T) {
	c, rec, _ := oneSeat(t, 8, 50)
	ctx := context.Background()
	hold, err := c.Admit(ctx, cl("big"))
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan admission)
	for range 10 {
		enqueue(t, c, rec, ctx, "big", out)
	}
	for range 3 {
		enqueue(t, c, rec, ctx, "small", out)
	}
	hold()
	var order []string
	for range 13 {
		a := <-out
		if a.err != nil {
			t.Fatalf("%s: %v", a.user, a.err)
		}
		order = append(order, a.user)
		a.done()
	}
	want := "big small big small big small big big big big big big big"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("served in the order\n%s\nwant\n%s", got, want)
	}
	if q := rec.queued(testLevel); q != 0 {
		t.Errorf("%d requests still queued", q)
	}
}

// TestMoreFlowsThanQueues: the level's bound is on waiting requests, not
// flows: more flows than Queues all wait (a thousand nodes, each its own
// flow, as Kubernetes' shuffle-sharded queues let them).
func TestMoreFlowsThanQueues(t *testing.T) {
	c, rec, _ := oneSeat(t, 2, 2) // room for 4 waiting requests
	ctx := context.Background()
	hold, err := c.Admit(ctx, cl("first"))
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan admission, 4)
	for _, user := range []string{"a", "b", "c", "d"} {
		enqueue(t, c, rec, ctx, user, out)
	}
	var rej *Rejected
	if _, err := c.Admit(ctx, cl("e")); !errors.As(err, &rej) || rej.Reason != ReasonQueueFull {
		t.Fatalf("a fifth waiting request: %v, want queue-full", err)
	}
	hold()
	for range 4 {
		a := <-out
		if a.err != nil {
			t.Fatal(a.err)
		}
		a.done()
	}
}

// TestQueueBound: a flow's queue holds HandSize×QueueLengthLimit requests
// and the level Queues×QueueLengthLimit; the rest is rejected at once as
// queue-full.
func TestQueueBound(t *testing.T) {
	c, rec, _ := oneSeat(t, 2, 1)
	c.levels[testLevel].HandSize = 2 // a hand of two queues of one
	ctx := context.Background()
	hold, err := c.Admit(ctx, cl("a"))
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan admission, 2)
	enqueue(t, c, rec, ctx, "a", out)
	enqueue(t, c, rec, ctx, "a", out)
	for _, user := range []string{"a", "b"} { // a's queue is full, and so is the level's
		_, err := c.Admit(ctx, cl(user))
		var rej *Rejected
		if !errors.As(err, &rej) || rej.Reason != ReasonQueueFull || rej.RetryAfter != RetryAfter {
			t.Fatalf("%s's request beyond the bound: %v, want a queue-full rejection with a retry-after hint", user, err)
		}
	}
	if got := rec.rejections(); got[ReasonQueueFull] != 2 {
		t.Errorf("rejections observed: %v", got)
	}
	hold()
	for range 2 {
		a := <-out
		if a.err != nil {
			t.Fatal(a.err)
		}
		a.done()
	}
}

// TestQueueWaitTimeout: a request that waits for the queue wait limit is
// rejected as time-out and leaves its queue; one whose client gives up is
// rejected as cancelled.
func TestQueueWaitTimeout(t *testing.T) {
	c, rec, timers := oneSeat(t, 4, 4)
	hold, err := c.Admit(context.Background(), cl("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer hold()
	out := make(chan admission, 2)
	enqueue(t, c, rec, context.Background(), "b", out)
	timers.fireAll()
	a := <-out
	var rej *Rejected
	if !errors.As(a.err, &rej) || rej.Reason != ReasonTimeout {
		t.Fatalf("request whose wait timed out: %v, want a time-out rejection", a.err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	enqueue(t, c, rec, ctx, "b", out)
	cancel()
	a = <-out
	if !errors.As(a.err, &rej) || rej.Reason != ReasonCancelled {
		t.Fatalf("request whose client gave up: %v, want a cancelled rejection", a.err)
	}
	if q := rec.queued(testLevel); q != 0 {
		t.Errorf("%d requests still queued after they gave up", q)
	}
	if got := rec.rejections(); got[ReasonTimeout] != 1 || got[ReasonCancelled] != 1 {
		t.Errorf("rejections observed: %v", got)
	}
}

// TestNoQueuing: a level without queues (catch-all) rejects what finds no
// free seat, and serves again once the seat is free.
func TestNoQueuing(t *testing.T) {
	c, _, _ := oneSeat(t, 0, 0)
	hold, err := c.Admit(context.Background(), cl("a"))
	if err != nil {
		t.Fatal(err)
	}
	var rej *Rejected
	if _, err := c.Admit(context.Background(), cl("b")); !errors.As(err, &rej) || rej.Reason != ReasonConcurrencyLimit {
		t.Fatalf("second request: %v, want a concurrency-limit rejection", err)
	}
	hold()
	hold() // a second call frees nothing more
	done, err := c.Admit(context.Background(), cl("b"))
	if err != nil {
		t.Fatalf("after the seat was freed: %v", err)
	}
	done()
	if _, err := c.Admit(context.Background(), cl("c")); err != nil {
		t.Fatalf("with the seat free again: %v", err)
	}
}

// TestExemptNeverWaits: exempt requests run however busy the levels are.
func TestExemptNeverWaits(t *testing.T) {
	c, _, _ := oneSeat(t, 0, 0)
	if _, err := c.Admit(context.Background(), cl("a")); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		done, err := c.Admit(context.Background(), Classification{FlowSchema: "exempt", PriorityLevel: LevelExempt})
		if err != nil {
			t.Fatalf("exempt request %d: %v", i, err)
		}
		defer done()
	}
}

func TestWatchLimiter(t *testing.T) {
	w := &WatchLimiter{MaxTotal: 3, MaxPerUser: 2}
	open := func(user string) (func(), error) { return w.Open(cl(user), user) }
	a1, err := open("a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := open("a"); err != nil {
		t.Fatal(err)
	}
	var rej *Rejected
	if _, err := open("a"); !errors.As(err, &rej) || rej.Reason != ReasonTooManyWatches || rej.RetryAfter <= 0 {
		t.Fatalf("a's third watch: %v, want too-many-watches with a retry-after hint", err)
	}
	if _, err := open("b"); err != nil {
		t.Fatalf("b's first watch: %v", err)
	}
	if _, err := open("c"); !errors.As(err, &rej) {
		t.Fatalf("a fourth watch in all: %v, want a rejection", err)
	}
	if _, err := w.Open(Classification{PriorityLevel: LevelExempt}, "admin"); err != nil {
		t.Fatalf("an exempt watch: %v", err)
	}
	a1()
	a1() // ends one watch only: the exempt one keeps the total full
	if _, err := open("c"); !errors.As(err, &rej) {
		t.Fatalf("with the exempt watch open the total is still full: %v", err)
	}
}

// TestRetryAfterGrows: the hint is RetryAfter plus RetryAfter per seat's
// worth of rejections in the level's previous second, at most
// MaxRetryAfter, and falls back once the rejections stop.
func TestRetryAfterGrows(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	now := t0
	c, err := New(Config{ConcurrencyLimit: 1, Levels: []Level{{Name: testLevel, Shares: 1}}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Admit(context.Background(), cl("a")); err != nil {
		t.Fatal(err)
	}
	hint := func(at time.Duration, n int) time.Duration {
		t.Helper()
		now = t0.Add(at)
		var rej *Rejected
		for range n {
			if _, err := c.Admit(context.Background(), cl("b")); !errors.As(err, &rej) {
				t.Fatalf("at %v: %v, want a rejection", at, err)
			}
		}
		return rej.RetryAfter
	}
	for _, step := range []struct {
		at   time.Duration
		n    int
		want time.Duration
	}{
		{0, 5, RetryAfter},                           // nothing rejected the second before
		{1200 * time.Millisecond, 1, 6 * RetryAfter}, // 5 rejections on 1 seat
		{1900 * time.Millisecond, 20, 6 * RetryAfter},
		{2100 * time.Millisecond, 1, MaxRetryAfter}, // 21 the second before: capped
		{10 * time.Second, 1, RetryAfter},           // quiet for long: back to the least
	} {
		if got := hint(step.at, step.n); got != step.want {
			t.Errorf("at %v: hint %v, want %v", step.at, got, step.want)
		}
	}
}
