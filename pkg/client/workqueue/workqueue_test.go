package workqueue_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keel.dev/keel/pkg/client/internal/clienttest"
	"keel.dev/keel/pkg/client/workqueue"
)

func TestDeduplication(t *testing.T) {
	q := workqueue.New[string]("dedup")
	defer q.ShutDown()
	for i := 0; i < 5; i++ {
		q.Add("a")
		q.Add("b")
	}
	if q.Len() != 2 {
		t.Fatalf("len %d after adding a and b five times, want 2", q.Len())
	}
	key, _ := q.Get()
	// Added again while being processed: queued once more, after Done.
	q.Add(key)
	q.Add(key)
	if q.Len() != 1 {
		t.Fatalf("len %d while %s is processed, want 1 (the other key)", q.Len(), key)
	}
	q.Done(key)
	if q.Len() != 2 {
		t.Fatalf("len %d after Done, want 2", q.Len())
	}
}

func TestRateLimitedBackoff(t *testing.T) {
	rl := workqueue.DefaultRateLimiter[string]()
	var want time.Duration = 5 * time.Millisecond
	for i := 0; i < 5; i++ {
		if d := rl.When("k"); d != want {
			t.Fatalf("failure %d: delay %v, want %v", i+1, d, want)
		}
		want *= 2
	}
	if rl.NumRequeues("k") != 5 {
		t.Fatalf("requeues %d", rl.NumRequeues("k"))
	}
	rl.Forget("k")
	if d := rl.When("k"); d != 5*time.Millisecond {
		t.Fatalf("after Forget: %v", d)
	}
	// The per-key delay is capped at 1000s.
	for i := 0; i < 40; i++ {
		rl.When("cap")
	}
	if d := rl.When("cap"); d != 1000*time.Second {
		t.Fatalf("capped delay %v", d)
	}
}

// TestNoConcurrentProcessing adds a few keys over and over while many
// workers run: no key is ever processed by two workers at once, and every
// key is processed after its last Add.
func TestNoConcurrentProcessing(t *testing.T) {
	q := workqueue.New[string]("concurrency")
	ctx, cancel := context.WithCancel(context.Background())
	const keys = 5
	var (
		inFlight   [keys]atomic.Int32
		violations atomic.Int32
		processed  atomic.Int64
		mu         sync.Mutex
		lastAdd    = map[string]int64{}
		lastDone   = map[string]int64{}
		seq        atomic.Int64
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		workqueue.Run(ctx, q, 8, func(ctx context.Context, key string) error {
			var i int
			fmt.Sscanf(key, "k%d", &i)
			if inFlight[i].Add(1) != 1 {
				violations.Add(1)
			}
			start := seq.Add(1)
			for range 100 { // widen the window in which an overlap would show
				runtime.Gosched()
			}
			inFlight[i].Add(-1)
			mu.Lock()
			lastDone[key] = start
			mu.Unlock()
			processed.Add(1)
			return nil
		})
	}()
	for round := 0; round < 200; round++ {
		for i := 0; i < keys; i++ {
			key := fmt.Sprintf("k%d", i)
			mu.Lock()
			lastAdd[key] = seq.Add(1)
			mu.Unlock()
			q.Add(key)
		}
	}
	clienttest.Eventually(t, 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		caughtUp := len(lastDone) == keys
		for k, a := range lastAdd {
			if lastDone[k] < a {
				caughtUp = false
			}
		}
		return caughtUp
	}, "keys not processed after their last add")
	cancel()
	<-done
	if v := violations.Load(); v != 0 {
		t.Fatalf("%d times a key was processed by two workers at once", v)
	}
	if p := processed.Load(); p >= 200*keys {
		t.Errorf("processed %d times: adds were not de-duplicated", p)
	}
	t.Logf("1000 adds of %d keys, %d processings", keys, processed.Load())
}

// TestRunRetriesFailures: a failing key is retried with back-off until it
// succeeds, and then forgotten.
func TestRunRetriesFailures(t *testing.T) {
	q := workqueue.New[string]("retries")
	ctx, cancel := context.WithCancel(context.Background())
	var attempts atomic.Int32
	succeeded := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		workqueue.Run(ctx, q, 2, func(ctx context.Context, key string) error {
			if attempts.Add(1) < 4 {
				return errors.New("not yet")
			}
			close(succeeded)
			return nil
		})
	}()
	q.Add("k")
	select {
	case <-succeeded:
	case <-time.After(10 * time.Second):
		t.Fatal("never succeeded")
	}
	cancel()
	<-done
	if q.NumRequeues("k") != 0 {
		t.Fatalf("requeues %d after success, want 0 (forgotten)", q.NumRequeues("k"))
	}
	if !q.ShuttingDown() {
		t.Fatal("queue not shut down")
	}
}
