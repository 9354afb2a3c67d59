package apierrors

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
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
// code and a JSON meta/v1 Status naming the reason and the message, e.g.
//
//	{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
//	 "message":"forbidden: User \"bob\" cannot get path \"/metrics\"",
//	 "reason":"Forbidden","code":403}
//
// An error that is not an *Error is an InternalError.
func WriteHTTP(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = Internal("%v", err)
	}
	code := HTTPStatus(e)
	body, _ := json.Marshal(struct {
		Kind       string   `json:"kind"`
		APIVersion string   `json:"apiVersion"`
		Metadata   struct{} `json:"metadata"`
		Status     string   `json:"status"`
		Message    string   `json:"message"`
		Reason     Reason   `json:"reason"`
		Code       int      `json:"code"`
	}{Kind: "Status", APIVersion: "v1", Status: "Failure", Message: e.Message, Reason: e.Reason, Code: code})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(e.RetryAfter)))
	}
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

// retryAfterSeconds is a retry hint in whole seconds, rounded up, at
// least 1: what an HTTP Retry-After header or the retry-after metadata
// carries.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}
