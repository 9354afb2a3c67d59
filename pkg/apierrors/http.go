package apierrors

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// reasonHTTP is the HTTP status each reason is served with, as Kubernetes
// serves its Status objects.
var reasonHTTP = map[Reason]int{
	ReasonNotFound:         http.StatusNotFound,
	ReasonAlreadyExists:    http.StatusConflict,
	ReasonConflict:         http.StatusConflict,
	ReasonInvalid:          http.StatusUnprocessableEntity,
	ReasonBadRequest:       http.StatusBadRequest,
	ReasonForbidden:        http.StatusForbidden,
	ReasonUnauthorized:     http.StatusUnauthorized,
	ReasonExpired:          http.StatusGone,
	ReasonTooLarge:         http.StatusRequestEntityTooLarge,
	ReasonTooManyRequests:  http.StatusTooManyRequests,
	ReasonUnavailable:      http.StatusServiceUnavailable,
	ReasonTimeout:          http.StatusGatewayTimeout,
	ReasonCanceled:         http.StatusInternalServerError,
	ReasonInternal:         http.StatusInternalServerError,
	ReasonMethodNotAllowed: http.StatusMethodNotAllowed,
	ReasonUnsupportedMedia: http.StatusUnsupportedMediaType,
}

// HTTPStatus is the HTTP status code err is served with (500 for an error
// that is not an *Error).
func HTTPStatus(err error) int {
	var e *Error
	if errors.As(err, &e) {
		if c, ok := reasonHTTP[e.Reason]; ok {
			return c
		}
	}
	return http.StatusInternalServerError
}

// WriteHTTP answers an HTTP request with err as Kubernetes does: its status
// code and a JSON meta/v1 Status naming the reason and the message (see
// Status), e.g.
//
//	{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
//	 "message":"forbidden: User \"bob\" cannot get path \"/metrics\"",
//	 "reason":"Forbidden","code":403}
//
// An error that is not an *Error is an InternalError.
func WriteHTTP(w http.ResponseWriter, err error) { WriteStatus(w, err, StatusDetails{}) }

// WriteStatus is WriteHTTP for a request about one object or resource:
// d names it in the Status' details, beside err's causes.
func WriteStatus(w http.ResponseWriter, err error, d StatusDetails) {
	st := Status(err, d)
	body, _ := json.Marshal(st)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(e.RetryAfter)))
	}
	w.WriteHeader(st.Code)
	_, _ = w.Write(append(body, '\n'))
}

// StatusDetails name what a failed request was about: the object's name,
// its API group and the resource ("pods"), as Kubernetes' Status details
// do (Kind holds the resource there too, except in an Invalid error,
// where it is the object's kind). Causes are filled in by Status.
type StatusDetails struct {
	Name              string        `json:"name,omitempty"`
	Group             string        `json:"group,omitempty"`
	Kind              string        `json:"kind,omitempty"`
	Causes            []StatusCause `json:"causes,omitempty"`
	RetryAfterSeconds int           `json:"retryAfterSeconds,omitempty"`
}

// StatusCause is one cause of a Status: a machine-readable reason
// ("FieldValueInvalid"), a message and the field path it is about.
type StatusCause struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"`
}

// StatusObject is a meta/v1 Status of a failure, as Kubernetes serves it.
type StatusObject struct {
	Kind       string         `json:"kind"`
	APIVersion string         `json:"apiVersion"`
	Metadata   struct{}       `json:"metadata"`
	Status     string         `json:"status"`
	Message    string         `json:"message"`
	Reason     Reason         `json:"reason"`
	Details    *StatusDetails `json:"details,omitempty"`
	Code       int            `json:"code"`
}

// Status is the meta/v1 Status of err: its reason, message and HTTP
// code, with details naming d's object and err's bad fields and causes
// (left out when there is nothing to say). This is the one place API
// errors become Kubernetes Status objects; an error that is not an
// *Error (after FromStatus) is an InternalError.
func Status(err error, d StatusDetails) StatusObject {
	var e *Error
	if !errors.As(FromStatus(err), &e) {
		e = Internal("%v", err)
	}
	for _, f := range e.Fields {
		d.Causes = append(d.Causes, StatusCause{Reason: string(f.Type), Message: f.Detail, Field: f.Field})
	}
	for _, c := range e.Causes {
		d.Causes = append(d.Causes, StatusCause{Reason: c.Type, Message: c.Message, Field: c.Field})
	}
	if e.RetryAfter > 0 {
		d.RetryAfterSeconds = retryAfterSeconds(e.RetryAfter)
	}
	if e.Kind != "" {
		// An Invalid error names the object's kind, not the resource.
		d.Kind, d.Name = e.Kind, e.Name
	}
	st := StatusObject{Kind: "Status", APIVersion: "v1", Status: "Failure", Message: e.Message, Reason: e.Reason, Code: HTTPStatus(e)}
	if d.Name != "" || d.Kind != "" || len(d.Causes) > 0 || d.RetryAfterSeconds > 0 {
		st.Details = &d
	}
	return st
}

// ReadHTTP is the error of an HTTP response whose status is not 2xx, the
// inverse of WriteHTTP: the Status in its body as an *Error, or, for a
// body that is no Status (a plain "404 page not found"), an *Error with
// the reason of its status code and the body as message. It reads at most
// 64 KiB of the body; the caller closes it.
func ReadHTTP(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var st struct {
		Kind    string `json:"kind"`
		Message string `json:"message"`
		Reason  Reason `json:"reason"`
	}
	if json.Unmarshal(body, &st) == nil && st.Kind == "Status" && st.Message != "" {
		return &Error{Reason: st.Reason, Message: st.Message}
	}
	reason := ReasonInternal
	switch resp.StatusCode {
	case http.StatusNotFound:
		reason = ReasonNotFound
	case http.StatusUnauthorized:
		reason = ReasonUnauthorized
	case http.StatusForbidden:
		reason = ReasonForbidden
	case http.StatusBadRequest:
		reason = ReasonBadRequest
	case http.StatusServiceUnavailable:
		reason = ReasonUnavailable
	}
	return &Error{Reason: reason, Message: strings.TrimSpace(resp.Status + ": " + string(body))}
}

// retryAfterSeconds is a retry hint in whole seconds, rounded up, at
// least 1: what an HTTP Retry-After header or the retry-after metadata
// carries.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}
