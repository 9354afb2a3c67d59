package app

import (
	"time"

	"k8s.io/utils/clock"
)

// scaledClock is a clock that runs rate times faster than the real one
// from the moment it is made (start): Now is start + rate × the real time
// elapsed since, and timers, tickers and sleeps of d last d/rate of real
// time. The times timers and tickers send are real times. It is the
// CronJob controller's clock under the testing flag --cronjob-clock-rate,
// so that end-to-end tests see minute schedules run within seconds;
// nothing else uses it. Safe for concurrent use.
type scaledClock struct {
	start time.Time
	rate  float64
}

var _ clock.WithTicker = scaledClock{}

// newScaledClock returns a clock running rate (at least 1) times faster
// than the real one from now on.
func newScaledClock(rate float64) scaledClock {
	return scaledClock{start: time.Now(), rate: rate}
}

// real is the real duration of the scaled duration d.
func (c scaledClock) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.rate)
}

func (c scaledClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.start)) * c.rate))
}

func (c scaledClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

func (c scaledClock) After(d time.Duration) <-chan time.Time { return time.After(c.real(d)) }

func (c scaledClock) NewTimer(d time.Duration) clock.Timer {
	return &scaledTimer{Timer: time.NewTimer(c.real(d)), clock: c}
}

func (c scaledClock) Sleep(d time.Duration) { time.Sleep(c.real(d)) }

func (c scaledClock) Tick(d time.Duration) <-chan time.Time {
	return c.NewTicker(d).C()
}

func (c scaledClock) NewTicker(d time.Duration) clock.Ticker {
	return scaledTicker{time.NewTicker(c.real(d))}
}

// scaledTimer is a real timer whose Reset takes a scaled duration.
type scaledTimer struct {
	*time.Timer
	clock scaledClock
}

func (t *scaledTimer) C() <-chan time.Time        { return t.Timer.C }
func (t *scaledTimer) Reset(d time.Duration) bool { return t.Timer.Reset(t.clock.real(d)) }

type scaledTicker struct{ *time.Ticker }

func (t scaledTicker) C() <-chan time.Time { return t.Ticker.C }
