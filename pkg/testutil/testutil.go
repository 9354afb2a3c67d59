// Package testutil holds what every kind of test shares: waiting on a
// condition with a deadline, and refusing to skip what CI must run.
package testutil

import (
	"context"
	"os"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// PollInterval is how often Eventually checks its condition.
const PollInterval = 10 * time.Millisecond

// Eventually checks cond every PollInterval until it returns nil, and
// fails the test with what and cond's last error once timeout has passed.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), PollInterval, timeout, true, func(context.Context) (bool, error) {
		last = cond()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %v: %v", what, timeout, last)
	}
}

// Condition adapts a boolean condition to Eventually, reporting msg while
// it is false.
func Condition(cond func() bool, msg string) func() error {
	return func() error {
		if cond() {
			return nil
		}
		return errNotYet(msg)
	}
}

type errNotYet string

func (e errNotYet) Error() string { return string(e) }

// RequireEnv is the variable .ci/run sets: with it, a test that lacks
// something from the machine fails instead of skipping, since CI installs
// everything (hack/install-deps.sh) and must run every test.
const RequireEnv = "KEEL_REQUIRE_ALL_TESTS"

// Missing skips the test because the machine lacks what reason names, or
// fails it under RequireEnv.
func Missing(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s (and %s is set: CI must run this test)", reason, RequireEnv)
		return
	}
	t.Skip(reason)
}
