package client

import (
	"time"

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
