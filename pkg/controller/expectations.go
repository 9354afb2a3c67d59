package controller

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// ExpectationsTimeout is how long expectations wait for the cache to show a
// controller's writes before the controller acts again anyway (a watch
// event may have been lost with a relist in between).
const ExpectationsTimeout = 5 * time.Minute

// Expectations records, per controller key, the creates and deletes a
// controller has made and the informer has not shown yet. While any are
// outstanding the controller must not act on the key: its cache would make
// it create (or delete) the same pods again. Deletions are tracked by pod
// uid, so a pod seen first being deleted (deletionTimestamp set) and then
// gone counts once. Safe for concurrent use.
type Expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	keys  map[string]*expectation
}

type expectation struct {
	adds    int
	deletes map[string]bool // uids expected to be deleted
	set     time.Time
}

// NewExpectations returns empty expectations; clk may be nil (real clock).
func NewExpectations(clk clock.PassiveClock) *Expectations {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Expectations{clock: clk, keys: map[string]*expectation{}}
}

// Satisfied reports whether the controller may act on key: nothing is
// outstanding, or what is has waited longer than ExpectationsTimeout.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.keys[key]
	if !ok || x.adds <= 0 && len(x.deletes) == 0 {
		return true
	}
	return e.clock.Since(x.set) > ExpectationsTimeout
}

// Expect replaces key's expectations: adds creates, and the deletion of the
// pods with these uids.
func (e *Expectations) Expect(key string, adds int, deleteUIDs []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{adds: adds, deletes: map[string]bool{}, set: e.clock.Now()}
	for _, uid := range deleteUIDs {
		x.deletes[uid] = true
	}
	e.keys[key] = x
}

// CreationObserved records that the informer showed one created pod (or
// that a create failed, so none will show).
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.keys[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// DeletionObserved records that the informer showed the pod with uid being
// deleted or gone (or that its delete failed).
func (e *Expectations) DeletionObserved(key, uid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.keys[key]; ok {
		delete(x.deletes, uid)
	}
}

// Forget drops key's expectations (its controller object is gone).
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.keys, key)
}
