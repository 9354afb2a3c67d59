package client

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"

	"keel.dev/keel/pkg/apierrors"
)

// invoker answers calls with errs in turn, then nil, counting the calls.
type invoker struct {
	errs  []error
	calls int
}

func (i *invoker) invoke(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
	i.calls++
	if i.calls <= len(i.errs) {
		return apierrors.ToStatus(i.errs[i.calls-1])
	}
	return nil
}

func TestRetryOverloaded(t *testing.T) {
	overloaded := apierrors.Overloaded(time.Millisecond, "too many requests")
	ctx := context.Background()

	// Rejections with a hint are retried until the call goes through.
	inv := &invoker{errs: []error{overloaded, overloaded}}
	if err := retryOverloaded(ctx, "/keel.api.v1.API/Create", nil, nil, nil, inv.invoke); err != nil || inv.calls != 3 {
		t.Errorf("two rejections then success: %v after %d calls, want success after 3", err, inv.calls)
	}

	// At most OverloadRetries retries.
	inv = &invoker{errs: make([]error, 10)}
	for i := range inv.errs {
		inv.errs[i] = overloaded
	}
	err := retryOverloaded(ctx, "/keel.api.v1.API/Get", nil, nil, nil, inv.invoke)
	if _, ok := apierrors.RetryAfter(err); !ok || inv.calls != OverloadRetries+1 {
		t.Errorf("always rejected: %v after %d calls, want the rejection after %d", err, inv.calls, OverloadRetries+1)
	}

	// Other errors, a slow watcher's TooManyRequests included, are not.
	for _, e := range []error{apierrors.TooManyRequests("too slow"), apierrors.ConflictModified("pods", "web"), apierrors.Unavailable("down")} {
		inv = &invoker{errs: []error{e}}
		if err := retryOverloaded(ctx, "/keel.api.v1.API/Update", nil, nil, nil, inv.invoke); err == nil || inv.calls != 1 {
			t.Errorf("%v: %v after %d calls, want it back after one", e, err, inv.calls)
		}
	}

	// A deadline sooner than the hint returns the rejection at once.
	inv = &invoker{errs: []error{apierrors.Overloaded(10*time.Second, "too many requests")}}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	err = retryOverloaded(dctx, "/keel.api.v1.API/List", nil, nil, nil, inv.invoke)
	if _, ok := apierrors.RetryAfter(err); !ok || inv.calls != 1 || time.Since(start) > 4*time.Second {
		t.Errorf("hint beyond the deadline: %v after %d calls in %v, want the rejection at once", err, inv.calls, time.Since(start))
	}
}

func TestOverloadDelay(t *testing.T) {
	for retry, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		for range 100 {
			if d := overloadDelay(time.Second, retry); d < want || d > want+want/2 {
				t.Fatalf("retry %d: delay %v, want between %v and %v", retry, d, want, want+want/2)
			}
		}
	}
	if d := overloadDelay(time.Second, 20); d > maxOverloadDelay*3/2 {
		t.Errorf("delay %v beyond the cap", d)
	}
}
