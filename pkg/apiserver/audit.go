package apiserver

import (
	"context"
	"net"
	"net/http"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/anypb"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/apiserver/audit"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// Auditing (Config.Auditor): every API call but the health service's is
// followed by an audit.Record. unaryAudit and streamAudit, right after
// impersonation, begin it with what the request names; authorize
// completes its attributes (the handler's, e.g. the name of the object
// a create carries) and notes the decision; the interceptor completes
// it with the answer; unaryObserve notes panics. Calls refused earlier,
// by authentication (401) or impersonation (403), are audited by the
// auditRejected wrappers.

// unaryAudit audits a unary call (see Auditing).
func (s *Server) unaryAudit(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if s.cfg.Auditor == nil || isHealth(info.FullMethod) {
		return h(ctx, req)
	}
	ctx, rec := s.cfg.Auditor.Begin(ctx, auditRequest(ctx, info.FullMethod, req))
	resp, err := h(ctx, req)
	rec.Complete(err, func() any { return requestBody(req) }, func() any { return responseBody(resp) })
	return resp, err
}

// streamAudit audits a streaming call (see Auditing): a watch or a log
// stream, long-running, so that its start is recorded too.
func (s *Server) streamAudit(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if s.cfg.Auditor == nil || isHealth(info.FullMethod) {
		return h(srv, ss)
	}
	req := auditRequest(ss.Context(), info.FullMethod, nil)
	req.LongRunning = true
	ctx, rec := s.cfg.Auditor.Begin(ss.Context(), req)
	err := h(srv, &auditStream{ServerStream: ss, ctx: ctx, rec: rec, method: info.FullMethod})
	rec.Complete(err, nil, nil)
	return err
}

// auditStream gives a stream's handler the context carrying its audit
// record, and notes in the record what the request names once read.
type auditStream struct {
	grpc.ServerStream
	ctx    context.Context
	rec    *audit.Record
	method string
}

func (s *auditStream) Context() context.Context { return s.ctx }

func (s *auditStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.rec.Received(auditRequest(s.ctx, s.method, m).Attributes)
	}
	return err
}

// unaryAuditRejected wraps an interceptor that may refuse a call before
// any handler runs (authentication, impersonation) so that a refusal is
// audited like any answer.
func (s *Server) unaryAuditRejected(next grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	if s.cfg.Auditor == nil {
		return next
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		passed := false
		resp, err := next(ctx, req, info, func(ctx context.Context, req any) (any, error) {
			passed = true
			return h(ctx, req)
		})
		if !passed && err != nil {
			_, rec := s.cfg.Auditor.Begin(ctx, auditRequest(ctx, info.FullMethod, req))
			rec.Complete(err, nil, nil)
		}
		return resp, err
	}
}

// streamAuditRejected is unaryAuditRejected for streaming calls.
func (s *Server) streamAuditRejected(next grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	if s.cfg.Auditor == nil {
		return next
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		passed := false
		err := next(srv, ss, info, func(srv any, ss grpc.ServerStream) error {
			passed = true
			return h(srv, ss)
		})
		if !passed && err != nil {
			_, rec := s.cfg.Auditor.Begin(ss.Context(), auditRequest(ss.Context(), info.FullMethod, nil))
			rec.Complete(err, nil, nil)
		}
		return err
	}
}

// auditRequest describes a gRPC call as its request names it (req nil:
// not received yet): the user and impersonator of ctx, the verb and
// resource of the method, the namespace and name the request carries,
// the peer's address and the user agent.
func auditRequest(ctx context.Context, method string, req any) audit.Request {
	var out audit.Request
	out.Attributes.User, _ = auth.UserFrom(ctx)
	if by, ok := auth.ImpersonatorFrom(ctx); ok {
		out.Impersonator = &by
	}
	a := &out.Attributes
	switch a.Verb = verbOf(method); a.Verb {
	case "updatestatus":
		a.Verb = "update"
	case "bind":
		a.Verb, a.Resource = "create", "pods/binding"
	case "logs":
		a.Verb, a.Resource = "get", "pods/log"
	case "exec":
		a.Verb, a.Resource = "create", "pods/exec"
	}
	if r, ok := req.(resourced); ok {
		a.Resource = r.GetResource()
	}
	if r, ok := req.(interface{ GetNamespace() string }); ok {
		a.Namespace = r.GetNamespace()
	}
	if r, ok := req.(interface{ GetName() string }); ok {
		a.Name = r.GetName()
	}
	if k, ok := scheme.ByResource(strings.SplitN(a.Resource, "/", 2)[0]); ok {
		a.APIGroup = k.Group
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		out.SourceIPs = []string{hostOf(p.Addr.String())}
	}
	if ua := metadata.ValueFromIncomingContext(ctx, "user-agent"); len(ua) > 0 {
		out.UserAgent = ua[0]
	}
	return out
}

// hostOf is the host of a "host:port" address, or the address itself.
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// requestBody is the object a request carries, in Kubernetes JSON form
// (nil when it carries none).
func requestBody(req any) any {
	switch req := req.(type) {
	case *apiv1.CreateRequest:
		return anyBody(req.GetObject())
	case *apiv1.UpdateRequest:
		return anyBody(req.GetObject())
	case *apiv1.BindRequest:
		return map[string]any{"apiVersion": "v1", "kind": "Binding",
			"metadata": map[string]any{"name": req.GetName(), "namespace": req.GetNamespace()},
			"target":   map[string]any{"kind": "Node", "name": req.GetNodeName()}}
	}
	return nil
}

// responseBody is the object or list an answer carries, in Kubernetes
// JSON form (nil when it carries none).
func responseBody(resp any) any {
	switch resp := resp.(type) {
	case *anypb.Any:
		return anyBody(resp)
	case *apiv1.DeleteResponse:
		return anyBody(resp.GetObject())
	case *apiv1.ListResponse:
		items := make([]any, 0, len(resp.GetItems()))
		kind := ""
		for _, it := range resp.GetItems() {
			items = append(items, anyBody(it))
			if k, ok := scheme.ByTypeURL(it.GetTypeUrl()); ok {
				kind = k.Kind
			}
		}
		list := map[string]any{"metadata": map[string]any{"resourceVersion": resp.GetResourceVersion(), "continue": resp.GetContinue()}, "items": items}
		if kind != "" {
			list["kind"] = kind + "List"
		}
		return list
	}
	return nil
}

// anyBody renders a packed object (nil when it cannot be decoded).
func anyBody(a *anypb.Any) any {
	if a == nil {
		return nil
	}
	m, _, err := scheme.Unpack(a)
	if err != nil {
		return nil
	}
	out, err := manifest.ToMap(m)
	if err != nil {
		return nil
	}
	return out
}

// statusRecorder remembers the status code an HTTP handler answered.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (pprof's
// long profiles extend their write deadline).
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
