// Package apierrors is the one place where Keel's API errors are defined and
// mapped to and from gRPC status codes. Server code returns *Error values
// (or plain errors, which become Internal); the apiserver's interceptor calls
// ToStatus once on the way out, and clients call FromStatus on the way in, so
// both sides test errors with the same Is* helpers.
//
// Messages follow Kubernetes' wording so that keelctl can print
// `Error from server (NotFound): pods "web" not found`.
package apierrors

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Reason is the Kubernetes-style reason, printed by clients in parentheses.
type Reason string

const (
	ReasonNotFound         Reason = "NotFound"
	ReasonAlreadyExists    Reason = "AlreadyExists"
	ReasonConflict         Reason = "Conflict"
	ReasonInvalid          Reason = "Invalid"
	ReasonBadRequest       Reason = "BadRequest"
	ReasonForbidden        Reason = "Forbidden"
	ReasonUnauthorized     Reason = "Unauthorized"
	ReasonExpired          Reason = "Expired"
	ReasonTooLarge         Reason = "RequestEntityTooLarge"
	ReasonTooManyRequests  Reason = "TooManyRequests"
	ReasonUnavailable      Reason = "ServiceUnavailable"
	ReasonTimeout          Reason = "Timeout"
	ReasonCanceled         Reason = "Canceled"
	ReasonInternal         Reason = "InternalError"
	ReasonMethodNotAllowed Reason = "MethodNotAllowed"
	ReasonUnsupportedMedia Reason = "UnsupportedMediaType"
)

var reasonCode = map[Reason]codes.Code{
	ReasonNotFound:         codes.NotFound,
	ReasonAlreadyExists:    codes.AlreadyExists,
	ReasonConflict:         codes.Aborted,
	ReasonInvalid:          codes.InvalidArgument,
	ReasonBadRequest:       codes.InvalidArgument,
	ReasonForbidden:        codes.PermissionDenied,
	ReasonUnauthorized:     codes.Unauthenticated,
	ReasonExpired:          codes.OutOfRange,
	ReasonTooLarge:         codes.ResourceExhausted,
	ReasonTooManyRequests:  codes.ResourceExhausted,
	ReasonUnavailable:      codes.Unavailable,
	ReasonTimeout:          codes.DeadlineExceeded,
	ReasonCanceled:         codes.Canceled,
	ReasonInternal:         codes.Internal,
	ReasonMethodNotAllowed: codes.Unimplemented,
	ReasonUnsupportedMedia: codes.InvalidArgument,
}

// Error is an API error: a reason, a human message and, for Invalid, every
// offending field.
type Error struct {
	Reason  Reason
	Message string
	// Fields lists each bad field (Invalid only).
	Fields field.ErrorList
	// RetryAfter, when positive, is how long the client should wait
	// before it sends the request again: the server refused it unread
	// (TooManyRequests from overload protection), so that even a write is
	// safe to send again. It travels as an errdetails.RetryInfo.
	RetryAfter time.Duration
	// Causes say more about why the request failed than the message (the
	// budget that refused an eviction), as meta/v1 Status details' causes.
	// They travel as an errdetails.PreconditionFailure.
	Causes []Cause
	// Kind and Name are the object an Invalid error is about: its kind
	// ("Deployment", without the group) and name, which Kubernetes puts
	// in the Status details of an Invalid error (kubectl prints `The
	// Deployment "web" is invalid`), where other errors name the resource.
	// They travel in the errdetails.ErrorInfo's metadata.
	Kind, Name string
}

// Cause is one cause of an error, as a meta/v1 StatusCause: a
// machine-readable type, a message for people, and the field it is about
// (if any).
type Cause struct {
	Type    string
	Message string
	Field   string
}

func (e *Error) Error() string { return e.Message }

// Code is the gRPC code the error travels as.
func (e *Error) Code() codes.Code { return reasonCode[e.Reason] }

// NotFound: `pods "web" not found`.
func NotFound(resource, name string) *Error {
	return &Error{Reason: ReasonNotFound, Message: fmt.Sprintf("%s %q not found", resource, name)}
}

// AlreadyExists: `pods "web" already exists`.
func AlreadyExists(resource, name string) *Error {
	return &Error{Reason: ReasonAlreadyExists, Message: fmt.Sprintf("%s %q already exists", resource, name)}
}

// Conflict reports a failed precondition on resourceVersion or uid: the
// caller re-reads the object and retries.
func Conflict(resource, name, why string) *Error {
	return &Error{Reason: ReasonConflict, Message: fmt.Sprintf("Operation cannot be fulfilled on %s %q: %s", resource, name, why)}
}

// ConflictModified is the usual optimistic-concurrency conflict.
func ConflictModified(resource, name string) *Error {
	return Conflict(resource, name, "the object has been modified; please apply your changes to the latest version and try again")
}

// Invalid lists every bad field: `Deployment.apps "web" is invalid: [spec.replicas: Invalid value: -1: must be >= 0, …]`.
func Invalid(kind, name string, errs field.ErrorList) *Error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	joined := strings.Join(msgs, ", ")
	if len(msgs) > 1 {
		joined = "[" + joined + "]"
	}
	k, _, _ := strings.Cut(kind, ".")
	return &Error{Reason: ReasonInvalid, Message: fmt.Sprintf("%s %q is invalid: %s", kind, name, joined), Fields: errs, Kind: k, Name: name}
}

// BadRequest is a malformed request that names no single object field.
func BadRequest(format string, args ...any) *Error {
	return &Error{Reason: ReasonBadRequest, Message: fmt.Sprintf(format, args...)}
}

// Forbidden: `pods "web" is forbidden: why`, or without a name (a list, a
// watch) `pods is forbidden: why`, as Kubernetes words it.
func Forbidden(resource, name, why string) *Error {
	if name == "" { // a list, a watch, a create with generateName
		return &Error{Reason: ReasonForbidden, Message: fmt.Sprintf("%s is forbidden: %s", resource, why)}
	}
	return &Error{Reason: ReasonForbidden, Message: fmt.Sprintf("%s %q is forbidden: %s", resource, name, why)}
}

// ForbiddenPath is a denied request for a non-resource URL, worded as
// Kubernetes': `forbidden: User "bob" cannot get path "/metrics"`.
func ForbiddenPath(why string) *Error {
	return &Error{Reason: ReasonForbidden, Message: "forbidden: " + why}
}

// MethodNotAllowed is a verb the resource does not support (a get of a
// create-only kind, a create on an unknown subresource), in Kubernetes'
// words, naming the resource ("pods/frobnicate").
func MethodNotAllowed(resource string) *Error {
	return &Error{Reason: ReasonMethodNotAllowed, Message: fmt.Sprintf("the server does not allow this method on the requested resource (%s)", resource)}
}

// UnsupportedMediaType is a request body of a content type the server
// does not take there (a patch type it does not implement, a body that is
// neither JSON nor YAML).
func UnsupportedMediaType(format string, args ...any) *Error {
	return &Error{Reason: ReasonUnsupportedMedia, Message: fmt.Sprintf(format, args...)}
}

// Unauthorized is a request without valid credentials.
func Unauthorized(why string) *Error { return &Error{Reason: ReasonUnauthorized, Message: why} }

// Expired is a resourceVersion (watch or continue token) older than what the
// server still holds: the client lists afresh.
func Expired(format string, args ...any) *Error {
	return &Error{Reason: ReasonExpired, Message: fmt.Sprintf(format, args...)}
}

// TooLarge is a request or an object over a size limit, in Kubernetes'
// words: what (`the Pod "web"`, "the request") is size bytes, over limit:
//
//	Request entity too large: the Pod "web" is 2000000 bytes, limit is 1572864
//
// A size < 0 is unknown and left out ("Request entity too large: limit is
// 1572864").
func TooLarge(what string, size, limit int) *Error {
	msg := fmt.Sprintf("Request entity too large: %s is %d bytes, limit is %d", what, size, limit)
	if size < 0 {
		msg = fmt.Sprintf("Request entity too large: limit is %d", limit)
	}
	return &Error{Reason: ReasonTooLarge, Message: msg}
}

// TooManyRequests is a client pushed back, e.g. a watcher too slow to keep up.
func TooManyRequests(format string, args ...any) *Error {
	return &Error{Reason: ReasonTooManyRequests, Message: fmt.Sprintf(format, args...)}
}

// TooManyRequestsWithCauses is a request refused for now (an eviction a
// disruption budget does not allow), with the causes that name why.
func TooManyRequestsWithCauses(message string, causes ...Cause) *Error {
	return &Error{Reason: ReasonTooManyRequests, Message: message, Causes: causes}
}

// RetryAfterMetadata is the header and trailer key of an overload
// rejection's hint, in whole seconds, as HTTP's Retry-After (for clients
// that do not read errdetails.RetryInfo).
const RetryAfterMetadata = "retry-after"

// Overloaded is a request the server refused before doing any of its
// work (overload protection, see package flowcontrol): the client may
// send it again, writes included, after retryAfter.
func Overloaded(retryAfter time.Duration, format string, args ...any) *Error {
	return &Error{Reason: ReasonTooManyRequests, Message: fmt.Sprintf(format, args...), RetryAfter: retryAfter}
}

// RetryAfterValue is the value of RetryAfterMetadata for a hint.
func RetryAfterValue(d time.Duration) string { return strconv.Itoa(retryAfterSeconds(d)) }

// RetryAfter returns the hint of an error refused by overload protection
// (Overloaded), and false for any other error.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(FromStatus(err), &e) && e.Reason == ReasonTooManyRequests && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return 0, false
}

// Timeout is a request that could not be served in time and may be retried,
// such as a watch from a resourceVersion this apiserver has not reached.
func Timeout(format string, args ...any) *Error {
	return &Error{Reason: ReasonTimeout, Message: fmt.Sprintf(format, args...)}
}

// Unavailable is a storage backend that cannot be reached.
func Unavailable(format string, args ...any) *Error {
	return &Error{Reason: ReasonUnavailable, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected failure.
func Internal(format string, args ...any) *Error {
	return &Error{Reason: ReasonInternal, Message: fmt.Sprintf(format, args...)}
}

// ToStatus converts any error into the gRPC error sent to clients. *Error
// values keep their code, message, reason and field violations; context
// errors become Canceled/DeadlineExceeded; gRPC status errors pass through;
// anything else is Internal.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		switch {
		case errors.Is(err, context.Canceled):
			return status.Error(codes.Canceled, err.Error())
		case errors.Is(err, context.DeadlineExceeded):
			return status.Error(codes.DeadlineExceeded, err.Error())
		}
		if _, ok := status.FromError(err); ok {
			return err
		}
		e = Internal("%v", err)
	}
	st := status.New(e.Code(), e.Message)
	info := &errdetails.ErrorInfo{Reason: string(e.Reason), Domain: "keel"}
	if e.Kind != "" {
		info.Metadata = map[string]string{"kind": e.Kind, "name": e.Name}
	}
	if withInfo, derr := st.WithDetails(info); derr == nil {
		st = withInfo
	}
	if e.RetryAfter > 0 {
		if withRetry, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)}); derr == nil {
			st = withRetry
		}
	}
	if len(e.Causes) > 0 {
		pf := &errdetails.PreconditionFailure{}
		for _, c := range e.Causes {
			pf.Violations = append(pf.Violations, &errdetails.PreconditionFailure_Violation{Type: c.Type, Subject: c.Field, Description: c.Message})
		}
		if withCauses, derr := st.WithDetails(pf); derr == nil {
			st = withCauses
		}
	}
	if len(e.Fields) > 0 {
		br := &errdetails.BadRequest{}
		for _, fe := range e.Fields {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
				Field:       fe.Field,
				Description: strings.TrimPrefix(fe.Error(), fe.Field+": "),
			})
		}
		if withFields, derr := st.WithDetails(br); derr == nil {
			st = withFields
		}
	}
	return st.Err()
}

// FromStatus converts an error received from the apiserver back into an
// *Error (reason from the ErrorInfo detail, or derived from the code). It
// returns err unchanged when it is not a gRPC status error. Each of Fields
// carries the bad field's path (Field) and the server's description of the
// problem (Detail); print them as Field + ": " + Detail, since their Type and
// BadValue do not travel.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	out := &Error{Message: st.Message(), Reason: reasonFromCode(st.Code())}
	fromServer := false
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if d.GetDomain() == "keel" {
				out.Reason = Reason(d.GetReason())
				out.Kind, out.Name = d.GetMetadata()["kind"], d.GetMetadata()["name"]
				fromServer = true
			}
		case *errdetails.RetryInfo:
			out.RetryAfter = d.GetRetryDelay().AsDuration()
		case *errdetails.PreconditionFailure:
			for _, v := range d.GetViolations() {
				out.Causes = append(out.Causes, Cause{Type: v.GetType(), Message: v.GetDescription(), Field: v.GetSubject()})
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				out.Fields = append(out.Fields, &field.Error{Type: field.ErrorTypeInvalid, Field: v.GetField(), Detail: v.GetDescription()})
			}
		}
	}
	if !fromServer && st.Code() == codes.ResourceExhausted {
		if size, limit, ok := grpcSizeLimit(st.Message()); ok {
			return TooLarge("the request", size, limit)
		}
	}
	return out
}

// grpcSizeRE matches gRPC's own message-size errors, raised before the
// apiserver sees a request (its receive limit) or before the client sends
// one (its send limit): "grpc: received message larger than max (N vs. M)",
// "trying to send message larger than max (N vs. M)", "grpc: received
// message after decompression larger than max M".
var grpcSizeRE = regexp.MustCompile(`message (?:after decompression )?larger than max (?:\((\d+) vs\. (\d+)\)|(\d+)$)`)

// grpcSizeLimit reads the size (-1 when not given) and the limit from a
// gRPC message-size error.
func grpcSizeLimit(msg string) (size, limit int, ok bool) {
	m := grpcSizeRE.FindStringSubmatch(msg)
	if m == nil {
		return 0, 0, false
	}
	if m[3] != "" {
		limit, err := strconv.Atoi(m[3])
		return -1, limit, err == nil
	}
	size, err1 := strconv.Atoi(m[1])
	limit, err2 := strconv.Atoi(m[2])
	return size, limit, err1 == nil && err2 == nil
}

func reasonFromCode(c codes.Code) Reason {
	switch c {
	case codes.NotFound:
		return ReasonNotFound
	case codes.AlreadyExists:
		return ReasonAlreadyExists
	case codes.Aborted:
		return ReasonConflict
	case codes.InvalidArgument, codes.FailedPrecondition:
		return ReasonBadRequest
	case codes.PermissionDenied:
		return ReasonForbidden
	case codes.Unauthenticated:
		return ReasonUnauthorized
	case codes.OutOfRange:
		return ReasonExpired
	case codes.ResourceExhausted:
		return ReasonTooManyRequests
	case codes.Unavailable:
		return ReasonUnavailable
	case codes.DeadlineExceeded:
		return ReasonTimeout
	case codes.Canceled:
		return ReasonCanceled
	case codes.Unimplemented:
		return ReasonMethodNotAllowed
	}
	return ReasonInternal
}

// ReasonOf returns the reason of an *Error or gRPC status error, "" for nil
// and ReasonInternal for anything else.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(FromStatus(err), &e) {
		return e.Reason
	}
	return ReasonInternal
}

func IsNotFound(err error) bool      { return ReasonOf(err) == ReasonNotFound }
func IsAlreadyExists(err error) bool { return ReasonOf(err) == ReasonAlreadyExists }
func IsConflict(err error) bool      { return ReasonOf(err) == ReasonConflict }
func IsInvalid(err error) bool       { return ReasonOf(err) == ReasonInvalid }
func IsForbidden(err error) bool     { return ReasonOf(err) == ReasonForbidden }
func IsExpired(err error) bool       { return ReasonOf(err) == ReasonExpired }
func IsUnavailable(err error) bool   { return ReasonOf(err) == ReasonUnavailable }
func IsTooLarge(err error) bool      { return ReasonOf(err) == ReasonTooLarge }
