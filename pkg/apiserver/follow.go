package apiserver

import (
	"context"
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
// again. The cache must be ready; its watchers end when it stops.
func (s *Server) follow(ctx context.Context, r *resource, f follower) error {
	w, err := s.load(ctx, r, f)
	if err != nil {
		return err
	}
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
			}
			if ctx.Err() != nil {
				return
			}
			s.log.Info(f.what+": watch ended; reloading", zap.String("resource", r.kind.Resource), zap.Error(w.Err()))
			for {
				if w, err = s.load(ctx, r, f); err == nil {
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
// what changes after them.
func (s *Server) load(ctx context.Context, r *resource, f follower) (*watchcache.Watcher, error) {
	w, err := r.cache.Watch(ctx, 0, watchcache.Predicate{}, false)
	if err != nil {
		return nil, err
	}
	objs := make([]proto.Message, 0, len(w.Initial))
	for _, ev := range w.Initial {
		if f.ignored != nil && f.ignored(ev.Object) {
			continue
		}
		if m := s.decode(r, f, ev.Object); m != nil {
			objs = append(objs, m)
		}
	}
	f.replace(objs)
	return w, nil
}

func (s *Server) decode(r *resource, f follower, e *watchcache.Entry) proto.Message {
	m, err := r.object(e)
	if err != nil {
		s.log.Error(f.what+": undecodable object", zap.String("key", e.Key), zap.Error(err))
		return nil
	}
	return m
}
