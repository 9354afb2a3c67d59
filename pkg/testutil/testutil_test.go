package testutil

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// recorder is a testing.TB that records Fatalf and Skip instead of ending
// the test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, a ...any) { r.fatal = fmt.Sprintf(format, a...) }
func (r *recorder) Skip(a ...any)                  { r.skip = fmt.Sprint(a...) }

func TestEventually(t *testing.T) {
	calls := 0
	r := &recorder{TB: t}
	Eventually(r, time.Second, "third time", func() error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if r.fatal != "" || calls != 3 {
		t.Fatalf("calls %d, fatal %q", calls, r.fatal)
	}
	Eventually(r, 50*time.Millisecond, "never", func() error { return errors.New("still no") })
	if r.fatal != "never: not within 50ms: still no" {
		t.Fatalf("failure message %q", r.fatal)
	}
}

func TestMissing(t *testing.T) {
	t.Setenv(RequireEnv, "")
	r := &recorder{TB: t}
	Missing(r, "no etcd")
	if r.skip != "no etcd" || r.fatal != "" {
		t.Fatalf("without %s: skip %q fatal %q", RequireEnv, r.skip, r.fatal)
	}
	t.Setenv(RequireEnv, "1")
	r = &recorder{TB: t}
	Missing(r, "no etcd")
	if r.skip != "" || r.fatal == "" {
		t.Fatalf("with %s: skip %q fatal %q", RequireEnv, r.skip, r.fatal)
	}
}
