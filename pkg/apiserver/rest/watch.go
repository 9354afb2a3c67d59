package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc/metadata"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
)

// httpStream is the server side of a streaming API call (a watch, a log)
// over an HTTP response: what the API sends is written to the response
// and flushed at once. It is used by one goroutine, the API's handler.
type httpStream struct {
	ctx context.Context
	w   http.ResponseWriter
	// started: the response's header is written; errors from then on go
	// into the stream.
	started bool
	// contentType is the response's content type.
	contentType string
	// encode turns a message the API sends into the bytes to write.
	encode func(m any) ([]byte, error)
}

func (s *httpStream) SetHeader(metadata.MD) error  { return nil }
func (s *httpStream) SendHeader(metadata.MD) error { return nil }
func (s *httpStream) SetTrailer(metadata.MD)       {}
func (s *httpStream) Context() context.Context     { return s.ctx }

// RecvMsg is never called: the API's request is given to it directly.
func (s *httpStream) RecvMsg(any) error {
	return apierrors.Internal("rest: a stream has no request to receive")
}

// SendMsg writes m and flushes it to the client.
func (s *httpStream) SendMsg(m any) error {
	b, err := s.encode(m)
	if err != nil {
		return err
	}
	s.start()
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	http.NewResponseController(s.w).Flush()
	return nil
}

type watchStartedKey struct{}

// WatchStarted tells the REST watch whose request ctx carries that the
// watch is established (authorized, its initial events sent), so that
// its response header goes out at once rather than with the first event,
// as Kubernetes answers. Without a REST watch in ctx it does nothing.
func WatchStarted(ctx context.Context) {
	if s, ok := ctx.Value(watchStartedKey{}).(*httpStream); ok {
		s.start()
	}
}

// start writes the response's header once.
func (s *httpStream) start() {
	if s.started {
		return
	}
	s.started = true
	s.w.Header().Set("Content-Type", s.contentType)
	s.w.Header().Set("Cache-Control", "no-cache, private")
	s.w.WriteHeader(http.StatusOK)
	http.NewResponseController(s.w).Flush()
}

// Send implements apiv1.API_WatchServer.
func (s *httpStream) Send(ev *apiv1.WatchEvent) error { return s.SendMsg(ev) }

// watchEvent is a meta/v1 WatchEvent.
type watchEvent struct {
	Type   string `json:"type"`
	Object any    `json:"object"`
}

// encodeWatchEvent writes one event of a watch of q's kind as a line of
// JSON, its object through the JSON cache c.
func encodeWatchEvent(c *jsonCache, q *request, m any) ([]byte, error) {
	ev, ok := m.(*apiv1.WatchEvent)
	if !ok {
		return nil, fmt.Errorf("rest: a watch sends WatchEvents, not %T", m)
	}
	b, err := json.Marshal(ev.GetType())
	if err != nil {
		return nil, err
	}
	b = append(append([]byte(`{"type":`), b...), `,"object":`...)
	if b, err = c.appendJSON(b, q.kind, ev.GetObject(), nil); err != nil {
		return nil, err
	}
	return append(b, "}\n"...), nil
}

// watch answers a watch: a chunked stream of JSON events, one per line,
// until the client leaves, timeoutSeconds pass or the watch ends. A watch
// that fails once started (its resourceVersion too old: 410 Expired) ends
// with an ERROR event carrying the Status; one refused before it started
// (Forbidden, BadRequest) is answered with the Status alone, except
// Expired, which clients expect as an event.
func (h *Handler) watch(w http.ResponseWriter, r *http.Request, q *request) error {
	v := r.URL.Query()
	ctx := r.Context()
	if s := v.Get("timeoutSeconds"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return apierrors.BadRequest("timeoutSeconds %q: not a non-negative integer", s)
		}
		if n > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(n)*time.Second)
			defer cancel()
		}
	}
	if _, ok := v["sendInitialEvents"]; ok {
		// The watch-list stream (initial events, then a bookmark marking
		// their end) is not served. kube-apiserver refuses the parameter
		// the same way when its WatchList feature is off, and clients
		// (client-go's reflector, whose informers ask for it first since
		// 1.35) fall back to a list and a watch from its resourceVersion.
		return apierrors.Invalid("ListOptions.meta.k8s.io", "", field.ErrorList{field.Forbidden(field.NewPath("sendInitialEvents"),
			"sendInitialEvents is not supported: list, then watch from the list's resourceVersion")})
	}
	req := &apiv1.WatchRequest{Resource: q.resource(), Namespace: q.namespace,
		LabelSelector: v.Get("labelSelector"), FieldSelector: v.Get("fieldSelector"),
		ResourceVersion: v.Get("resourceVersion"), AllowBookmarks: isTrue(v.Get("allowWatchBookmarks"))}
	if q.name != "" {
		// A watch of one object (/NAME?watch=true, deprecated) selects it.
		sel := "metadata.name=" + q.name
		if req.FieldSelector != "" {
			sel += "," + req.FieldSelector
		}
		req.FieldSelector = sel
	}
	s := &httpStream{ctx: ctx, w: w, contentType: "application/json", encode: func(m any) ([]byte, error) { return encodeWatchEvent(h.json, q, m) }}
	s.ctx = context.WithValue(ctx, watchStartedKey{}, s)
	err := h.cfg.API.Watch(req, s)
	if err == nil || ctx.Err() != nil {
		s.start() // an empty stream is a watch that ended
		return nil
	}
	if !s.started && !apierrors.IsExpired(err) {
		return err
	}
	s.start()
	b, merr := json.Marshal(watchEvent{Type: "ERROR", Object: apierrors.Status(err, q.details())})
	if merr == nil {
		_, _ = w.Write(append(b, '\n'))
	}
	return nil
}
