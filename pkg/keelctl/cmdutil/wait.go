package cmdutil

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/client"
)

// WaitGone waits until the object (as the delete left it) no longer
// exists: a DELETED event for its uid, or an object of that name with
// another uid (deleted and created again). It watches from the version the
// delete returned, so a removal in between is not missed.
func WaitGone(ctx context.Context, r *client.Resource[proto.Message], obj proto.Message) error {
	md := client.ObjectMeta(obj)
	name, uid, rv := md.GetName(), md.GetUid(), md.GetResourceVersion()
	check := func() (bool, string, error) {
		cur, err := r.Get(ctx, name)
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, "", err
		}
		m := client.ObjectMeta(cur)
		return m.GetUid() != uid, m.GetResourceVersion(), nil
	}
	for {
		w, err := r.Watch(ctx, client.WatchOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: rv})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !apierrors.IsExpired(err) {
				return err
			}
			done, newRV, err := check()
			if err != nil || done {
				return err
			}
			rv = newRV
			continue
		}
		for {
			ev, err := w.Next()
			if err != nil {
				w.Stop()
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if apierrors.IsExpired(err) {
					done, newRV, cerr := check()
					if cerr != nil || done {
						return cerr
					}
					rv = newRV
				} else if !errors.Is(err, io.EOF) && apierrors.ReasonOf(err) != apierrors.ReasonTooManyRequests {
					return err
				}
				break
			}
			m := client.ObjectMeta(ev.Object)
			if v := m.GetResourceVersion(); v != "" {
				rv = v
			}
			switch {
			case ev.Type == client.Bookmark:
			case ev.Type == client.Deleted && m.GetUid() == uid:
				w.Stop()
				return nil
			case m.GetUid() != "" && m.GetUid() != uid:
				w.Stop()
				return nil
			}
		}
	}
}

// WaitTimedOut tells whether a wait ended because wctx's deadline passed.
// gRPC may end a call at its deadline a moment before the context says so:
// a passed deadline is the timeout too.
func WaitTimedOut(wctx context.Context, err error) bool {
	if wctx.Err() != nil || apierrors.ReasonOf(err) == apierrors.ReasonTimeout {
		return true
	}
	dl, ok := wctx.Deadline()
	return ok && !time.Now().Before(dl) && err != nil
}

// CopyMap returns a copy of m, never nil.
func CopyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
