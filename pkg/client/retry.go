package client

import (
	"context"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"

	"k8s.io/apimachinery/pkg/util/wait"

	"keel.dev/keel/pkg/apierrors"
)

// DefaultRetry is the backoff for RetryOnConflict when conflicts come from
// other writers of the same object: 5 tries, about 10ms apart.
var DefaultRetry = wait.Backoff{Steps: 5, Duration: 10 * time.Millisecond, Factor: 1.0, Jitter: 0.1}

// DefaultBackoff suits conflicts that take longer to clear: 4 tries, 10ms,
// 50ms, 250ms apart.
var DefaultBackoff = wait.Backoff{Steps: 4, Duration: 10 * time.Millisecond, Factor: 5.0, Jitter: 0.1}

// RetryOnConflict runs fn until it returns something other than a conflict
// (apierrors.IsConflict), waiting backoff between tries, at most
// backoff.Steps tries in all. fn must read the object afresh on every call:
//
//	err := client.RetryOnConflict(client.DefaultRetry, func() error {
//		d, err := c.Deployments(ns).Get(ctx, name)
//		if err != nil {
//			return err
//		}
//		d.Spec.Replicas = proto.Int32(3)
//		_, err = c.Deployments(ns).Update(ctx, d, client.UpdateOptions{})
//		return err
//	})
//
// It returns fn's last error: the conflict itself when every try conflicted.
func RetryOnConflict(backoff wait.Backoff, fn func() error) error {
	return OnError(backoff, apierrors.IsConflict, fn)
}

// OnError is RetryOnConflict for any error retriable accepts.
func OnError(backoff wait.Backoff, retriable func(error) bool, fn func() error) error {
	tries := backoff.Steps
	if tries < 1 {
		tries = 1
	}
	var err error
	for i := 0; i < tries; i++ {
		if i > 0 {
			time.Sleep(backoff.Step())
		}
		if err = fn(); err == nil || !retriable(err) {
			return err
		}
	}
	return err
}

// OverloadRetries bounds how often a call the apiserver refused as
// overloaded (ResourceExhausted with a retry hint, see
// apierrors.RetryAfter) is sent again: up to OverloadRetries+1 tries in
// all, as client-go retries a 429 with Retry-After.
const OverloadRetries = 5

// maxOverloadDelay caps the wait between two tries.
const maxOverloadDelay = 30 * time.Second

// overloadDelay is the wait before try number retry+1 (retry from 0) after
// a rejection with hint: the hint doubled on each retry, capped, plus up
// to half of it again at random, so that clients refused together do not
// come back together.
func overloadDelay(hint time.Duration, retry int) time.Duration {
	d := min(hint<<retry, maxOverloadDelay)
	return d + rand.N(d/2+1)
}

// retryOverloaded is the unary client interceptor that sends a call the
// apiserver refused as overloaded again after its hint (overloadDelay).
// The apiserver refuses such calls before doing any of their work, so
// writes are retried too. It gives up, returning the rejection, after
// OverloadRetries retries, when ctx ends, or when ctx's deadline would
// pass before the next try.
func retryOverloaded(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	for retry := 0; ; retry++ {
		err := invoker(ctx, method, req, reply, cc, opts...)
		hint, ok := apierrors.RetryAfter(err)
		if !ok || retry == OverloadRetries {
			return err
		}
		d := overloadDelay(hint, retry)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
			return err
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
