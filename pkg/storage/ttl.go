package storage

import (
	"context"
	"errors"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

type ttlKey struct{}

// WithTTL returns a context under which Create and Update make the key
// expire: etcd deletes it (a watch sees EventDelete) between ttl and ttl
// plus a small reuse window after the write, unless it is written again.
// A ttl of zero or less leaves the key without expiry.
func WithTTL(ctx context.Context, ttl time.Duration) context.Context {
	return context.WithValue(ctx, ttlKey{}, ttl)
}

// ttlFrom is the TTL WithTTL set on ctx, or 0.
func ttlFrom(ctx context.Context) time.Duration {
	ttl, _ := ctx.Value(ttlKey{}).(time.Duration)
	return max(0, ttl)
}

// maxLeaseReuse caps the window during which writes share one etcd lease.
const maxLeaseReuse = time.Minute

// leases hands out etcd leases for keys with a TTL, reusing one lease for
// every write of the same TTL within a reuse window (5% of the TTL, at most
// maxLeaseReuse), so that a stream of writes does not make one lease each.
// Each lease is granted for the TTL plus the window: a key written under it
// lives at least the TTL. Safe for concurrent use.
type leases struct {
	client *clientv3.Client
	now    func() time.Time

	mu      sync.Mutex
	current map[time.Duration]grant // by TTL
}

type grant struct {
	id      clientv3.LeaseID
	expires time.Time
}

func newLeases(c *clientv3.Client) *leases {
	return &leases{client: c, now: time.Now, current: map[time.Duration]grant{}}
}

// reuseWindow is how long one lease serves writes of ttl.
func reuseWindow(ttl time.Duration) time.Duration { return min(ttl/20, maxLeaseReuse) }

// get returns a lease that expires no sooner than ttl from now.
func (l *leases) get(ctx context.Context, ttl time.Duration) (clientv3.LeaseID, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if g, ok := l.current[ttl]; ok && !g.expires.Before(now.Add(ttl)) {
		return g.id, nil
	}
	// etcd counts in whole seconds: round up.
	seconds := int64((ttl + reuseWindow(ttl) + time.Second - 1) / time.Second)
	resp, err := l.client.Grant(ctx, seconds)
	if err != nil {
		return 0, err
	}
	l.current[ttl] = grant{id: resp.ID, expires: now.Add(time.Duration(seconds) * time.Second)}
	return resp.ID, nil
}

// forget drops a lease etcd no longer knows (revoked, or lost to a restore).
func (l *leases) forget(id clientv3.LeaseID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ttl, g := range l.current {
		if g.id == id {
			delete(l.current, ttl)
		}
	}
}

// errLeaseNotFound: a write named a lease etcd no longer knows.
var errLeaseNotFound = errors.New("storage: lease not found")

// write commits a Create or Update of key (see txn), its put under a lease
// when ctx carries a TTL; a lease etcd has lost is replaced once.
func (e *Etcd) write(ctx context.Context, name string, guard clientv3.Cmp, key string, value []byte, rev int64, sides []Side, forCreate bool) (int64, error) {
	ttl := ttlFrom(ctx)
	if ttl == 0 {
		return e.txn(ctx, name, guard, clientv3.OpPut(key, string(value)), key, rev, sides, forCreate)
	}
	for attempt := 0; ; attempt++ {
		var id clientv3.LeaseID
		err := e.call(ctx, "grant", func(ctx context.Context) (err error) {
			id, err = e.leases.get(ctx, ttl)
			return err
		})
		if err != nil {
			return 0, err
		}
		newRev, err := e.txn(ctx, name, guard, clientv3.OpPut(key, string(value), clientv3.WithLease(id)), key, rev, sides, forCreate)
		if errors.Is(err, errLeaseNotFound) && attempt == 0 {
			e.leases.forget(id)
			continue
		}
		return newRev, err
	}
}
