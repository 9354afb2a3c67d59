package apiserver

import (
	"context"
	"errors"
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/apiserver/rest"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/watchcache"
)

// Watch implements the API: events from the resource's watch cache, after
// the initial state (resourceVersion empty or "0") or after the given
// resourceVersion. The stream ends with OutOfRange when that version is no
// longer held (relist), and with ResourceExhausted when this watcher fell
// too far behind (resume from the last version received).
func (s *Server) Watch(req *apiv1.WatchRequest, stream apiv1.API_WatchServer) error {
	ctx := stream.Context()
	r, err := s.lookup(ctx, req.GetResource())
	if err != nil {
		return err
	}
	pred, err := r.predicate(req.GetNamespace(), req.GetLabelSelector(), req.GetFieldSelector())
	if err != nil {
		return err
	}
	if err := s.authorizeRequest(ctx, readAttributes("watch", r, req.GetNamespace(), pred)); err != nil {
		return err
	}
	from, err := parseRV(req.GetResourceVersion())
	if err != nil {
		return err
	}
	// A resourceVersion ahead of this cache is waited for briefly (it may
	// come from another apiserver), then refused as Kubernetes does.
	wctx, cancel := context.WithTimeout(ctx, consistentWait)
	w, err := r.cache.Watch(wctx, from, pred, req.GetAllowBookmarks())
	cancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return apierrors.Timeout("Too large resource version: %d, current: %d", from, r.cache.Revision())
		}
		return watchErr(err)
	}
	defer w.Stop()
	g := watchersGauge.WithLabelValues(r.kind.Resource)
	g.Inc()
	defer g.Dec()
	sent := watchEvents.WithLabelValues(r.kind.Resource)

	send := func(ev watchcache.Event) error {
		out := &apiv1.WatchEvent{Type: string(ev.Type)}
		if ev.Type == watchcache.Bookmark {
			out.Object, err = bookmarkObject(r, ev.Rev)
			if err != nil {
				return err
			}
		} else {
			out.Object = &anypb.Any{TypeUrl: r.kind.TypeURL(), Value: ev.Object.Raw}
		}
		sent.Inc()
		return stream.Send(out)
	}
	for _, ev := range w.Initial {
		if err := send(ev); err != nil {
			return err
		}
	}
	w.Initial = nil
	rest.WatchStarted(ctx)
	// From here the watch waits on the cache: it gives its seat back.
	releaseSeat(ctx)
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				return watchErr(w.Err())
			}
			if err := send(ev); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// bookmarkObject is an empty object of the kind carrying only a
// resourceVersion.
func bookmarkObject(r *resource, rev int64) (*anypb.Any, error) {
	obj := r.kind.New()
	scheme.Meta(obj).ResourceVersion = strconv.FormatInt(rev, 10)
	b, err := proto.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return &anypb.Any{TypeUrl: r.kind.TypeURL(), Value: b}, nil
}

func watchErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, watchcache.ErrExpired):
		return apierrors.Expired("%v", err)
	case errors.Is(err, watchcache.ErrTooSlow):
		return apierrors.TooManyRequests("%v", err)
	case errors.Is(err, watchcache.ErrNotReady), errors.Is(err, watchcache.ErrRelisted), errors.Is(err, watchcache.ErrStopped):
		return apierrors.Unavailable("%v", err)
	}
	return err
}
