package iptables

import (
	"slices"
	"sync"
)

// Fake is an in-memory Executor for tests of its callers: it records the
// calls and returns the error set by FailWith. The zero value is ready to
// use; it is safe for concurrent use.
type Fake struct {
	mu       sync.Mutex
	restores [][]byte
	full     []bool
	jumps    int
	cleanups int
	err      error
}

var _ Executor = (*Fake)(nil)

// FailWith makes every later call return err (nil: succeed again). A
// failed Restore is not recorded.
func (f *Fake) FailWith(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// Restore records a copy of payload and whether it was full.
func (f *Fake) Restore(payload []byte, full bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.restores = append(f.restores, slices.Clone(payload))
	f.full = append(f.full, full)
	return nil
}

// Full returns, for each payload restored so far, whether full was set.
func (f *Fake) Full() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.full)
}

// EnsureJumps counts the call.
func (f *Fake) EnsureJumps() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.jumps++
	return nil
}

// Cleanup counts the call.
func (f *Fake) Cleanup() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.cleanups++
	return nil
}

// Restores returns the payloads restored so far, oldest first.
func (f *Fake) Restores() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.restores)
}

// Last returns the last payload restored, nil if none.
func (f *Fake) Last() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.restores) == 0 {
		return nil
	}
	return f.restores[len(f.restores)-1]
}

// Calls returns how many EnsureJumps and Cleanup calls succeeded.
func (f *Fake) Calls() (ensureJumps, cleanups int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jumps, f.cleanups
}
