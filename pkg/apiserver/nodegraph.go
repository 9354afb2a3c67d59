package apiserver

import (
	"context"
	"time"

	"go.uber.org/zap"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/auth/node"
	"keel.dev/keel/pkg/watchcache"
)

// feedNodeGraph keeps g in step with the pods cache: it loads the current
// pods before returning, then applies every change until ctx ends. When
// its watch ends (it fell behind, or the cache relisted) it loads the
// pods again. The cache must be ready; its watchers end when it stops.
func (s *Server) feedNodeGraph(ctx context.Context, g *node.Graph) error {
	r := s.resources["pods"]
	w, err := s.loadNodeGraph(ctx, r, g)
	if err != nil {
		return err
	}
	go func() {
		for {
			for ev := range w.Events() {
				s.applyToNodeGraph(r, g, ev)
			}
			if ctx.Err() != nil {
				return
			}
			s.log.Info("node authorizer: pods watch ended; reloading the graph", zap.Error(w.Err()))
			for {
				if w, err = s.loadNodeGraph(ctx, r, g); err == nil {
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

// loadNodeGraph replaces g with the cached pods and returns the watch of
// what changes after them.
func (s *Server) loadNodeGraph(ctx context.Context, r *resource, g *node.Graph) (*watchcache.Watcher, error) {
	w, err := r.cache.Watch(ctx, 0, watchcache.Predicate{}, false)
	if err != nil {
		return nil, err
	}
	pods := make([]*corev1.Pod, 0, len(w.Initial))
	for _, ev := range w.Initial {
		if p := s.decodePod(r, ev.Object); p != nil {
			pods = append(pods, p)
		}
	}
	g.Replace(pods)
	return w, nil
}

func (s *Server) applyToNodeGraph(r *resource, g *node.Graph, ev watchcache.Event) {
	switch ev.Type {
	case watchcache.Added, watchcache.Modified:
		if p := s.decodePod(r, ev.Object); p != nil {
			g.SetPod(p)
		}
	case watchcache.Deleted:
		g.DeletePod(ev.Object.Namespace, ev.Object.Name)
	}
}

func (s *Server) decodePod(r *resource, e *watchcache.Entry) *corev1.Pod {
	m, err := r.object(e)
	if err != nil {
		s.log.Error("node authorizer: undecodable pod", zap.String("key", e.Key), zap.Error(err))
		return nil
	}
	return m.(*corev1.Pod)
}
