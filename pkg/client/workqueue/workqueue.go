// Package workqueue is the controllers' work queue: client-go's typed
// rate-limited queue (k8s.io/client-go/util/workqueue), with Keel's
// defaults and the usual worker loop.
//
// The queue de-duplicates: a key added several times before a worker takes
// it is processed once. A key being processed is never handed to a second
// worker: if it is added again meanwhile, it is queued again only when the
// first worker calls Done. Failed keys are re-added with a delay that is the
// larger of a per-key exponential back-off (5ms doubling to 1000s) and an
// overall token bucket (10 per second, bursts of 100).
package workqueue

import (
	"context"
	"sync"

	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Interface is a typed rate-limited work queue. Workers loop on Get; after
// processing a key they call Forget on success (which resets its back-off)
// or AddRateLimited on failure, and Done in both cases.
type Interface[T comparable] = workqueue.TypedRateLimitingInterface[T]

// RateLimiter decides how long a failed key waits before it is retried.
type RateLimiter[T comparable] = workqueue.TypedRateLimiter[T]

// DefaultRateLimiter is the controllers' rate limiter: the larger of a
// per-key exponential back-off from 5ms to 1000s and an overall bucket of
// 10 retries per second with bursts of 100.
func DefaultRateLimiter[T comparable]() RateLimiter[T] {
	return workqueue.DefaultTypedControllerRateLimiter[T]()
}

// New returns a queue with DefaultRateLimiter. name identifies the queue
// in metrics (when a client-go metrics provider is installed).
func New[T comparable](name string) Interface[T] {
	return NewWithRateLimiter(name, DefaultRateLimiter[T]())
}

// NewWithRateLimiter returns a queue with the given rate limiter.
func NewWithRateLimiter[T comparable](name string, rl RateLimiter[T]) Interface[T] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(rl, workqueue.TypedRateLimitingQueueConfig[T]{Name: name})
}

// NewWithClock returns a queue with DefaultRateLimiter whose delays
// (AddAfter) run on clk, so a test can step a fake clock.
func NewWithClock[T comparable](name string, clk clock.WithTicker) Interface[T] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(DefaultRateLimiter[T](), workqueue.TypedRateLimitingQueueConfig[T]{Name: name, Clock: clk})
}

// Run runs workers goroutines that take keys from q and call process until
// ctx ends; it then shuts the queue down and waits for the workers. A key
// whose process returns an error is re-added with AddRateLimited; one that
// succeeds is forgotten (its back-off reset). A controller that wants to
// give up on a key returns nil (after logging), possibly after checking
// q.NumRequeues(key).
func Run[T comparable](ctx context.Context, q Interface[T], workers int, process func(ctx context.Context, key T) error) {
	if workers < 1 {
		workers = 1
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for processNext(ctx, q, process) {
			}
		}()
	}
	<-ctx.Done()
	q.ShutDown()
	wg.Wait()
}

func processNext[T comparable](ctx context.Context, q Interface[T], process func(context.Context, T) error) bool {
	key, shutdown := q.Get()
	if shutdown {
		return false
	}
	defer q.Done(key)
	if err := process(ctx, key); err != nil {
		if ctx.Err() == nil {
			q.AddRateLimited(key)
		}
		return true
	}
	q.Forget(key)
	return true
}
