package app

import (
	"testing"
	"time"
)

// TestScaledClock: a clock at rate 600 reads ten minutes on for each real
// second, and its timers of a scaled minute fire after a tenth of a real
// second, as do their resets and its tickers.
func TestScaledClock(t *testing.T) {
	c := scaledClock{start: time.Now().Add(-time.Second), rate: 600}
	if got := c.Since(c.start); got < 10*time.Minute {
		t.Errorf("a real second after start, the clock has advanced %v, want at least 10m", got)
	}
	waits := func(what string, ch <-chan time.Time) {
		t.Helper()
		begin := time.Now()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s of a scaled minute did not fire within 10 real seconds", what)
		}
		if real := time.Since(begin); real < 90*time.Millisecond {
			t.Errorf("%s of a scaled minute fired after %v, want about 100ms", what, real)
		}
	}
	timer := c.NewTimer(time.Minute)
	waits("a timer", timer.C())
	timer.Reset(time.Minute)
	waits("a reset timer", timer.C())
	ticker := c.NewTicker(time.Minute)
	defer ticker.Stop()
	waits("a ticker", ticker.C())
	waits("After", c.After(time.Minute))
}
