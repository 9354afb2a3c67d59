package apiserver

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/watchcache"
)

// follower is what follow keeps in step with a watch cache: an in-memory
// view of one resource (the Node authorizer's graph, the RBAC index).
type follower struct {
	// what names the view in logs.
	what string
	// replace makes objs (decoded, shared: read only) the whole view.
	replace func(objs []proto.Message)
	// set adds or replaces one object; remove drops one.
	set    func(obj proto.Message)
	remove func(namespace, name string)
	// ignored, if set, tells objects the view does not hold (it holds
	// nothing of them) from their cache entry, without decoding them:
	// they are removed instead of set.
	ignored func(e *watchcache.Entry) bool
}

// follow keeps f in step with the cache of r: it loads the cached objects
// before returning, then applies every change until ctx ends. When its
// watch ends (it fell behind, or the cache relisted) it loads the objects
// again. The cache must be ready; its watchers end when it stops. The
// view is registered for catchUp.
func (s *Server) follow(ctx context.Context, r *resource, f follower) error {
	return s.followView(ctx, r, f, &view{cache: r.cache, changed: make(chan struct{})})
}

// followView is follow recording its progress in v.
func (s *Server) followView(ctx context.Context, r *resource, f follower, v *view) error {
	w, err := s.load(ctx, r, f, v)
	if err != nil {
		return err
	}
	s.viewsMu.Lock()
	s.views = append(s.views, v)
	s.viewsMu.Unlock()
	go func() {
		for {
			for ev := range w.Events() {
				switch ev.Type {
				case watchcache.Added, watchcache.Modified:
					if f.ignored != nil && f.ignored(ev.Object) {
						f.remove(ev.Object.Namespace, ev.Object.Name)
					} else if m := s.decode(r, f, ev.Object); m != nil {
						f.set(m)
					}
				case watchcache.Deleted:
					f.remove(ev.Object.Namespace, ev.Object.Name)
				}
				v.advance(ev.Rev)
			}
			if ctx.Err() != nil {
				return
			}
			s.log.Info(f.what+": watch ended; reloading", zap.String("resource", r.kind.Resource), zap.Error(w.Err()))
			for {
				if w, err = s.load(ctx, r, f, v); err == nil {
					break
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		}
	}()
	return nil
}

// load replaces f's view with the cached objects and returns the watch of
// what changes after them, advancing v to the revision they reflect.
// Bookmarks (this first one, and later ones) carry the view's revision
// forward while its objects do not change.
func (s *Server) load(ctx context.Context, r *resource, f follower, v *view) (*watchcache.Watcher, error) {
	w, err := r.cache.Watch(ctx, 0, watchcache.Predicate{}, true)
	if err != nil {
		return nil, err
	}
	objs := make([]proto.Message, 0, len(w.Initial))
	var rev int64
	for _, ev := range w.Initial {
		if ev.Type == watchcache.Bookmark {
			rev = ev.Rev
			continue
		}
		if f.ignored != nil && f.ignored(ev.Object) {
			continue
		}
		if m := s.decode(r, f, ev.Object); m != nil {
			objs = append(objs, m)
		}
	}
	f.replace(objs)
	v.advance(rev)
	return w, nil
}

// view is how far one followed view has come: the revision of the last
// event (or bookmark) of its cache it applied.
type view struct {
	cache   *watchcache.Cache
	mu      sync.Mutex
	rev     int64
	changed chan struct{} // closed and replaced when rev advances
}

func (v *view) advance(rev int64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if rev > v.rev {
		v.rev = rev
		close(v.changed)
		v.changed = make(chan struct{})
	}
}

// catchUpWait bounds how long a denial waits for the views behind it.
const catchUpWait = time.Second

// catchUp waits until every followed view has applied each change its
// cache had sent when catchUp was called, for at most catchUpWait. Views
// follow their caches asynchronously, so without it a kubelet could be
// refused a Secret of a pod it has just been sent, and a user the rights
// of a RoleBinding the cache already holds.
func (s *Server) catchUp(ctx context.Context) {
	s.viewsMu.Lock()
	views := s.views
	s.viewsMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	for _, v := range views {
		want := v.cache.LastChange()
		for {
			v.mu.Lock()
			rev, changed := v.rev, v.changed
			v.mu.Unlock()
			if rev >= want {
				break
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (s *Server) decode(r *resource, f follower, e *watchcache.Entry) proto.Message {
	m, err := r.object(e)
	if err != nil {
		s.log.Error(f.what+": undecodable object", zap.String("key", e.Key), zap.Error(err))
		return nil
	}
	return m
}
