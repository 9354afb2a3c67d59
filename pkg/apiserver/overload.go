package apiserver

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/apiserver/flowcontrol"
	"keel.dev/keel/pkg/auth"
)

// newFlowControl builds the overload protection of cfg (see package
// flowcontrol): the levels' seats and the watch limits.
func newFlowControl(cfg Config) (*flowcontrol.Controller, *flowcontrol.WatchLimiter, error) {
	inflight, mutating := cfg.MaxRequestsInflight, cfg.MaxMutatingRequestsInflight
	if inflight == 0 {
		inflight = flowcontrol.DefaultMaxRequestsInflight
	}
	if mutating == 0 {
		mutating = flowcontrol.DefaultMaxMutatingRequestsInflight
	}
	fc, err := flowcontrol.New(flowcontrol.Config{
		ConcurrencyLimit: inflight + mutating,
		QueueWaitTimeout: cfg.QueueWaitTimeout,
		Observer:         flowObserver{},
	})
	if err != nil {
		return nil, nil, err
	}
	for name, seats := range fc.Limits() {
		flowNominalSeats.WithLabelValues(name).Set(float64(seats))
		flowCurrentSeats.WithLabelValues(name).Set(float64(seats))
	}
	watches, perUser := cfg.MaxWatches, cfg.MaxWatchesPerUser
	if watches == 0 {
		watches = flowcontrol.DefaultMaxWatches
	}
	if perUser == 0 {
		perUser = flowcontrol.DefaultMaxWatchesPerUser
	}
	return fc, &flowcontrol.WatchLimiter{MaxTotal: watches, MaxPerUser: perUser}, nil
}

// request is what every API request message tells of its target.
type request interface {
	GetNamespace() string
}

// flowRequest is the flowcontrol.Request of an API call: its caller
// (after impersonation), verb and target.
func flowRequest(ctx context.Context, method string, req any) flowcontrol.Request {
	u, _ := auth.UserFrom(ctx)
	r := flowcontrol.Request{User: u.Name, Groups: u.Groups, Verb: verbOf(method), Resource: requestResource(req)}
	if n, ok := req.(request); ok {
		r.Namespace = n.GetNamespace()
	}
	switch m := req.(type) {
	case *apiv1.GetRequest:
		r.Name = m.GetName()
	case *apiv1.DeleteRequest:
		r.Name = m.GetName()
	case *apiv1.CreateRequest:
		r.Name = m.GetName()
		if m.GetSubresource() != "" {
			r.Resource += "/" + m.GetSubresource()
		}
	case *apiv1.UpdateRequest:
		if m.GetSubresource() != "" {
			r.Resource += "/" + m.GetSubresource()
		}
	case *apiv1.BindRequest:
		r.Verb, r.Resource, r.Name = "create", "pods/binding", m.GetName()
	}
	if r.Verb == "updatestatus" {
		r.Verb, r.Resource = "update", r.Resource+"/status"
	}
	return r
}

// longRunning are the methods that hold no seat: their duration is the
// client's (a command's run, a log followed), not the server's work. A
// watch is long-running too once its initial state is sent (see
// admittedStream).
func longRunning(method string) bool {
	return method == apiv1.API_Exec_FullMethodName || method == apiv1.API_Logs_FullMethodName
}

// unaryFlowControl gives every unary call but the health service's and
// the long-running ones a seat of its priority level before it runs, and
// answers the rejected ones at once with TooManyRequests and a retry hint.
func (s *Server) unaryFlowControl(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if isHealth(info.FullMethod) || longRunning(info.FullMethod) {
		return h(ctx, req)
	}
	fr := flowRequest(ctx, info.FullMethod, req)
	done, err := s.flow.Admit(ctx, flowcontrol.Classify(fr))
	if err != nil {
		return nil, s.overloaded(err, func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) })
	}
	defer done()
	return h(ctx, req)
}

// streamFlowControl admits the API's watches (see admittedStream); other
// streams, the health service's Watch among them, are long-running.
func (s *Server) streamFlowControl(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if info.FullMethod != apiv1.API_Watch_FullMethodName {
		return h(srv, ss)
	}
	as := &admittedStream{ServerStream: ss, s: s, method: info.FullMethod, ctx: ss.Context()}
	defer as.end()
	return h(srv, as)
}

// admittedStream admits a watch once its request is read: it counts the
// watch against the watch limits until the stream ends, and gives it a
// seat of its priority level until its initial state is sent
// (releaseSeat).
type admittedStream struct {
	grpc.ServerStream
	s      *Server
	method string
	ctx    context.Context
	read   bool
	ends   []func()
}

func (a *admittedStream) Context() context.Context { return a.ctx }

func (a *admittedStream) RecvMsg(m any) error {
	if err := a.ServerStream.RecvMsg(m); err != nil || a.read {
		return err
	}
	a.read = true
	fr := flowRequest(a.ctx, a.method, m)
	cl := flowcontrol.Classify(fr)
	endWatch, err := a.s.watches.Open(cl, fr.User)
	if err != nil {
		flowRejected.WithLabelValues(cl.PriorityLevel, cl.FlowSchema, flowcontrol.ReasonTooManyWatches).Inc()
		return a.s.overloaded(err, a.ServerStream.SetTrailer)
	}
	a.ends = append(a.ends, endWatch)
	seat, err := a.s.flow.Admit(a.ctx, cl)
	if err != nil {
		return a.s.overloaded(err, a.ServerStream.SetTrailer)
	}
	a.ends = append(a.ends, seat)
	a.ctx = context.WithValue(a.ctx, seatKey{}, seat)
	return nil
}

// end frees what the stream still holds.
func (a *admittedStream) end() {
	for _, f := range a.ends {
		f()
	}
}

type seatKey struct{}

// releaseSeat frees the seat of the watch of ctx, once its initial state
// is sent: from then on it waits on the watch cache, not on the server.
func releaseSeat(ctx context.Context) {
	if f, ok := ctx.Value(seatKey{}).(func()); ok {
		f()
	}
}

// overloaded is the answer to a request flow control refused: a
// TooManyRequests error with the retry hint, also set as the
// retry-after trailer through setTrailer.
func (s *Server) overloaded(err error, setTrailer func(metadata.MD)) error {
	var rej *flowcontrol.Rejected
	if !errors.As(err, &rej) {
		return err
	}
	setTrailer(metadata.Pairs(apierrors.RetryAfterMetadata, apierrors.RetryAfterValue(rej.RetryAfter)))
	return apierrors.Overloaded(rej.RetryAfter, "%s", rej.Error())
}
