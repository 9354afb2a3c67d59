package informer

import (
	"context"
	"sync"
	"sync/atomic"
)

type op int

const (
	opAdd op = iota
	opUpdate
	opDelete
	// opSynced marks the end of the initial adds for one listener.
	opSynced
)

type notification[T any] struct {
	op       op
	old, obj T
}

// listener delivers notifications to one handler from its own goroutine,
// through an unbounded queue: push never blocks.
type listener[T any] struct {
	h Handler[T]

	mu      sync.Mutex
	pending []notification[T]
	cancel  context.CancelFunc
	closed  bool

	wake   chan struct{}
	synced atomic.Bool
}

func newListener[T any](h Handler[T]) *listener[T] {
	return &listener[T]{h: h, wake: make(chan struct{}, 1)}
}

func (l *listener[T]) HasSynced() bool { return l.synced.Load() }

func (l *listener[T]) push(n notification[T]) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.pending = append(l.pending, n)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *listener[T]) setCancel(cancel context.CancelFunc) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		cancel()
		return
	}
	l.cancel = cancel
}

// close stops the listener and drops what it has pending.
func (l *listener[T]) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.pending = nil
	if l.cancel != nil {
		l.cancel()
	}
}

func (l *listener[T]) run(ctx context.Context) {
	var batch []notification[T]
	for {
		l.mu.Lock()
		batch, l.pending = l.pending, batch[:0]
		l.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-l.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		for _, n := range batch {
			if ctx.Err() != nil {
				return
			}
			switch n.op {
			case opAdd:
				l.h.OnAdd(n.obj)
			case opUpdate:
				l.h.OnUpdate(n.old, n.obj)
			case opDelete:
				l.h.OnDelete(n.obj)
			case opSynced:
				l.synced.Store(true)
			}
		}
		clear(batch) // drop references to delivered objects
	}
}
