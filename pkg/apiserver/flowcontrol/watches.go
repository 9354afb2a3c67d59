package flowcontrol

import "sync"

// Kubernetes-minded defaults of the watch limits: enough for a large
// cluster's informers (every node's kubelet and proxy hold a handful),
// and far below what would exhaust the apiserver's memory.
const (
	DefaultMaxWatches        = 10000
	DefaultMaxWatchesPerUser = 1000
)

// WatchLimiter bounds open watches, in total and per user: watches are
// long-running, so they hold no seat once their initial state is sent
// (see Controller), and are counted here instead. It is safe for
// concurrent use.
type WatchLimiter struct {
	// MaxTotal and MaxPerUser bound the open watches; zero or less: no
	// bound.
	MaxTotal, MaxPerUser int

	mu     sync.Mutex
	total  int
	byUser map[string]int
}

// Open counts a new watch of user, or rejects it (ReasonTooManyWatches)
// when the total or user's watches are at their limit. done ends the
// watch's count; call it once the watch has ended (more calls do
// nothing). Exempt requests (cl.Exempt) are counted but never rejected.
func (w *WatchLimiter) Open(cl Classification, user string) (done func(), err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !cl.Exempt() && ((w.MaxTotal > 0 && w.total >= w.MaxTotal) || (w.MaxPerUser > 0 && w.byUser[user] >= w.MaxPerUser)) {
		return nil, &Rejected{Classification: cl, Reason: ReasonTooManyWatches, RetryAfter: RetryAfter}
	}
	if w.byUser == nil {
		w.byUser = map[string]int{}
	}
	w.total++
	w.byUser[user]++
	var once sync.Once
	return func() {
		once.Do(func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.total--
			if w.byUser[user]--; w.byUser[user] == 0 {
				delete(w.byUser, user)
			}
		})
	}, nil
}
