// Package clienttest holds helpers for the client library's tests: clients
// connected to testserver apiservers, and waiting for conditions.
package clienttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/testutil"
)

// Client connects a client to the plain-text loopback addresses given and
// closes it at the end of the test.
func Client(t testing.TB, addrs ...string) *client.Client {
	t.Helper()
	c, err := client.New(client.Options{Servers: addrs, Insecure: true, UserAgent: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Context returns a context that ends after d or at the end of the test.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Eventually waits until cond is true, checking every few milliseconds, and
// fails the test with msg if it is not within timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	testutil.Eventually(t, timeout, fmt.Sprintf(msg, args...), testutil.Condition(cond, "not yet"))
}
