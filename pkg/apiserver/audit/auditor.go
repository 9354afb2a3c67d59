package audit

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"keel.dev/keel/pkg/auth"
)

// Sink receives events; a Writer is one.
type Sink interface {
	// Process takes e, which the caller does not change afterwards.
	Process(e *Event)
}

// Auditor records requests by a Policy to a Sink. It is safe for
// concurrent use.
type Auditor struct {
	policy *Policy
	sink   Sink
	now    func() time.Time
}

// NewAuditor returns an Auditor; now is its clock (time.Now when nil).
func NewAuditor(p *Policy, sink Sink, now func() time.Time) *Auditor {
	if now == nil {
		now = time.Now
	}
	return &Auditor{policy: p, sink: sink, now: now}
}

// Request is what the transport knows of a request when it arrives.
type Request struct {
	// Attributes are the request's user (whom it acts as), verb and
	// resource (or Path), as far as the request tells them; the
	// handler's authorization refines them (see Record.Authorized).
	Attributes auth.Attributes
	// Impersonator is who sent the request when it impersonates
	// Attributes.User.
	Impersonator *auth.User
	SourceIPs    []string
	UserAgent    string
	// LongRunning requests (watches, followed logs) get a
	// ResponseStarted event once authorized.
	LongRunning bool
}

// Record follows one request through its stages. It belongs to the
// request: its methods are called by the goroutine serving the request,
// one at a time. The methods of a nil *Record do nothing, so that code
// can call them whether or not auditing is on.
type Record struct {
	a        *Auditor
	req      Request
	received time.Time
	id       string
	// decided is set once the policy has been asked (see decide).
	decided  bool
	decision Decision
	// user is who sent the request, impersonated whom they act as.
	user         auth.User
	impersonated *auth.User
	annotations  map[string]string
	panicked     any
}

type recordKey struct{}

// Begin starts the record of a request received now and returns a
// context carrying it (see RecordFrom).
func (a *Auditor) Begin(ctx context.Context, req Request) (context.Context, *Record) {
	r := &Record{a: a, req: req, received: a.now(), user: req.Attributes.User}
	if req.Impersonator != nil {
		r.user, r.impersonated = *req.Impersonator, &req.Attributes.User
	}
	return context.WithValue(ctx, recordKey{}, r), r
}

// RecordFrom returns the record of the request of ctx, nil when it is
// not audited.
func RecordFrom(ctx context.Context) *Record {
	r, _ := ctx.Value(recordKey{}).(*Record)
	return r
}

// Received notes what a request read after Begin (a stream's first
// message) names: its verb, resource, namespace and name (a.User is
// ignored). Once the level is decided it changes nothing.
func (r *Record) Received(a auth.Attributes) {
	if r == nil || r.decided {
		return
	}
	a.User = r.req.Attributes.User
	r.req.Attributes = a
}

// Authorized notes the request's authorization: its attributes as the
// handler authorized them (the user is Begin's), and the decision. The first
// call decides the level and writes the RequestReceived event, and, for
// an allowed long-running request, ResponseStarted; later calls (checks
// of other attributes made while serving) change nothing.
func (r *Record) Authorized(a auth.Attributes, allowed bool, reason string) {
	if r == nil || r.decided {
		return
	}
	a.User = r.req.Attributes.User
	r.req.Attributes = a
	decision := "forbid"
	if allowed {
		decision = "allow"
	}
	r.annotations = map[string]string{AnnotationDecision: decision}
	if reason != "" {
		r.annotations[AnnotationReason] = reason
	}
	r.decide()
	if allowed && r.req.LongRunning {
		r.emit(StageResponseStarted, &ResponseStatus{Code: http.StatusOK}, nil, nil)
	}
}

// Level is the request's audit level once decided (Authorized or
// Complete), LevelNone before and for a nil Record.
func (r *Record) Level() Level {
	if r == nil {
		return LevelNone
	}
	return r.decision.Level
}

// Panicked notes that the handler panicked with p: Complete writes the
// Panic stage instead of ResponseComplete.
func (r *Record) Panicked(p any) {
	if r != nil {
		r.panicked = p
	}
}

// Complete writes the final event of the request, answered with err
// (nil: success). Bodies are asked for only at the levels that record
// them: request (level Request and up) and response (RequestResponse,
// on success), each returning a value in Kubernetes JSON form or nil.
func (r *Record) Complete(err error, request, response func() any) {
	if r == nil {
		return
	}
	if err != nil {
		response = nil
	}
	r.finish(responseStatus(err), request, response)
}

// CompleteCode is Complete for an HTTP request answered with status
// code (0: nothing written, which is 200), without bodies.
func (r *Record) CompleteCode(code int) {
	if r == nil {
		return
	}
	if code == 0 {
		code = http.StatusOK
	}
	r.finish(&ResponseStatus{Code: code}, nil, nil)
}

func (r *Record) finish(status *ResponseStatus, request, response func() any) {
	r.decide()
	if r.decision.Level == LevelNone {
		return
	}
	stage := StageResponseComplete
	if r.panicked != nil {
		stage, request, response = StagePanic, nil, nil
		status = &ResponseStatus{Status: "Failure", Reason: "InternalError", Message: fmt.Sprintf("APIServer panic'd: %v", r.panicked), Code: http.StatusInternalServerError}
	}
	var reqObj, respObj any
	if r.decision.Level.AtLeast(LevelRequest) && request != nil {
		reqObj = request()
	}
	if r.decision.Level.AtLeast(LevelRequestResponse) && response != nil {
		respObj = response()
	}
	r.emit(stage, status, reqObj, respObj)
}

// decide asks the policy once, about the user who sent the request (as
// Kubernetes, which audits before impersonating), and writes
// RequestReceived.
func (r *Record) decide() {
	if r.decided {
		return
	}
	r.decided = true
	a := r.req.Attributes
	a.User = r.user
	r.decision = r.a.policy.Evaluate(a)
	if r.decision.Level != LevelNone {
		r.id = uuid.NewString()
		r.emit(StageRequestReceived, nil, nil, nil)
	}
}

// emit sends the event of stage unless the policy omits it.
func (r *Record) emit(stage Stage, status *ResponseStatus, reqObj, respObj any) {
	if r.decision.Level == LevelNone || r.decision.Omits(stage) {
		return
	}
	a := r.req.Attributes
	ref := objectRef(a)
	e := &Event{
		Kind:                     "Event",
		APIVersion:               APIVersion,
		Level:                    r.decision.Level,
		AuditID:                  r.id,
		Stage:                    stage,
		RequestURI:               requestURI(a, ref),
		Verb:                     a.Verb,
		User:                     userInfo(r.user),
		SourceIPs:                r.req.SourceIPs,
		UserAgent:                r.req.UserAgent,
		ObjectRef:                ref,
		ResponseStatus:           status,
		RequestObject:            reqObj,
		ResponseObject:           respObj,
		RequestReceivedTimestamp: MicroTime(r.received),
		StageTimestamp:           MicroTime(r.received),
		Annotations:              r.annotations,
	}
	if stage != StageRequestReceived {
		e.StageTimestamp = MicroTime(r.a.now())
	}
	if r.impersonated != nil {
		u := userInfo(*r.impersonated)
		e.ImpersonatedUser = &u
	}
	r.a.sink.Process(e)
}
