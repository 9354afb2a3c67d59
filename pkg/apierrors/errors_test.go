package apierrors_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/apierrors"
)

func TestRoundTripThroughGRPC(t *testing.T) {
	invalid := apierrors.Invalid("Pod", "web", field.ErrorList{
		field.Required(field.NewPath("spec", "containers").Index(0).Child("image"), ""),
		field.Invalid(field.NewPath("metadata", "name"), "Web", "must be lowercase"),
	})
	cases := []struct {
		err    error
		code   codes.Code
		reason apierrors.Reason
		msg    string
	}{
		{apierrors.NotFound("pods", "web"), codes.NotFound, apierrors.ReasonNotFound, `pods "web" not found`},
		{apierrors.AlreadyExists("pods", "web"), codes.AlreadyExists, apierrors.ReasonAlreadyExists, `pods "web" already exists`},
		{apierrors.ConflictModified("pods", "web"), codes.Aborted, apierrors.ReasonConflict, `Operation cannot be fulfilled on pods "web": the object has been modified; please apply your changes to the latest version and try again`},
		{invalid, codes.InvalidArgument, apierrors.ReasonInvalid, `Pod "web" is invalid: [spec.containers[0].image: Required value, metadata.name: Invalid value: "Web": must be lowercase]`},
		{apierrors.Forbidden("pods", "web", "no"), codes.PermissionDenied, apierrors.ReasonForbidden, `pods "web" is forbidden: no`},
		{apierrors.Expired("too old"), codes.OutOfRange, apierrors.ReasonExpired, "too old"},
		{apierrors.TooLarge(`the Pod "web"`, 2000000, 1572864), codes.ResourceExhausted, apierrors.ReasonTooLarge, `Request entity too large: the Pod "web" is 2000000 bytes, limit is 1572864`},
		{apierrors.TooManyRequests("too slow"), codes.ResourceExhausted, apierrors.ReasonTooManyRequests, "too slow"},
		{apierrors.Unavailable("etcd down"), codes.Unavailable, apierrors.ReasonUnavailable, "etcd down"},
		{errors.New("boom"), codes.Internal, apierrors.ReasonInternal, "boom"},
		{fmt.Errorf("wrapped: %w", context.Canceled), codes.Canceled, apierrors.ReasonCanceled, "wrapped: context canceled"},
	}
	for _, c := range cases {
		wire := apierrors.ToStatus(c.err)
		if got := status.Code(wire); got != c.code {
			t.Errorf("%v: code %v, want %v", c.err, got, c.code)
		}
		back := apierrors.FromStatus(wire)
		var e *apierrors.Error
		if !errors.As(back, &e) {
			t.Fatalf("%v: FromStatus gave %T", c.err, back)
		}
		if e.Reason != c.reason || e.Message != c.msg {
			t.Errorf("%v: back as (%s) %q, want (%s) %q", c.err, e.Reason, e.Message, c.reason, c.msg)
		}
	}
	// Field violations survive the trip, one per bad field.
	var e *apierrors.Error
	errors.As(apierrors.FromStatus(apierrors.ToStatus(invalid)), &e)
	if len(e.Fields) != 2 || e.Fields[0].Field != "spec.containers[0].image" || e.Fields[1].Field != "metadata.name" {
		t.Fatalf("fields after the round trip: %v", e.Fields)
	}
	if !apierrors.IsInvalid(apierrors.ToStatus(invalid)) || apierrors.IsNotFound(nil) {
		t.Error("Is* helpers disagree with the reasons")
	}
	if apierrors.ToStatus(nil) != nil || apierrors.FromStatus(nil) != nil {
		t.Error("nil must stay nil")
	}
}

// TestOverloadedRetryAfter: an overload rejection keeps its retry hint
// through gRPC (errdetails.RetryInfo) and over HTTP (Retry-After); other
// errors have none.
func TestOverloadedRetryAfter(t *testing.T) {
	wire := apierrors.ToStatus(apierrors.Overloaded(1500*time.Millisecond, "too many requests"))
	if status.Code(wire) != codes.ResourceExhausted {
		t.Fatalf("code %v, want ResourceExhausted", status.Code(wire))
	}
	if d, ok := apierrors.RetryAfter(wire); !ok || d != 1500*time.Millisecond {
		t.Errorf("RetryAfter = %v, %v, want 1.5s", d, ok)
	}
	if apierrors.ReasonOf(wire) != apierrors.ReasonTooManyRequests {
		t.Errorf("reason %s", apierrors.ReasonOf(wire))
	}
	for _, err := range []error{apierrors.TooManyRequests("slow watcher"), apierrors.TooLarge("the request", 10, 5), nil} {
		if _, ok := apierrors.RetryAfter(apierrors.ToStatus(err)); ok {
			t.Errorf("%v has a retry hint", err)
		}
	}
	if got := apierrors.RetryAfterValue(1500 * time.Millisecond); got != "2" {
		t.Errorf("metadata value %q, want 2 (whole seconds, rounded up)", got)
	}
	w := httptest.NewRecorder()
	apierrors.WriteHTTP(w, apierrors.Overloaded(time.Second, "too many requests"))
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" {
		t.Errorf("HTTP: %d Retry-After %q, want 429 and 1", w.Code, w.Header().Get("Retry-After"))
	}
}

// TestGRPCSizeLimits: gRPC's own message-size errors, which carry no reason,
// read as RequestEntityTooLarge with the size and the limit, not as
// TooManyRequests.
func TestGRPCSizeLimits(t *testing.T) {
	for _, c := range []struct{ grpc, want string }{
		{"grpc: received message larger than max (2200000 vs. 2097152)", "Request entity too large: the request is 2200000 bytes, limit is 2097152"},
		{"trying to send message larger than max (70000000 vs. 67108864)", "Request entity too large: the request is 70000000 bytes, limit is 67108864"},
		{"grpc: message after decompression larger than max (3000000 vs. 2097152)", "Request entity too large: the request is 3000000 bytes, limit is 2097152"},
		{"grpc: received message after decompression larger than max 2097152", "Request entity too large: limit is 2097152"},
	} {
		err := apierrors.FromStatus(status.Error(codes.ResourceExhausted, c.grpc))
		if !apierrors.IsTooLarge(err) || err.Error() != c.want {
			t.Errorf("%s:\n got (%s) %v\nwant (%s) %s", c.grpc, apierrors.ReasonOf(err), err, apierrors.ReasonTooLarge, c.want)
		}
	}
	// Other ResourceExhausted errors without a reason stay TooManyRequests.
	if r := apierrors.ReasonOf(status.Error(codes.ResourceExhausted, "quota exceeded")); r != apierrors.ReasonTooManyRequests {
		t.Errorf("plain ResourceExhausted: reason %s, want %s", r, apierrors.ReasonTooManyRequests)
	}
}

func TestWriteHTTP(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code int
		want string
	}{
		{apierrors.Unauthorized("no credentials"), 401, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"no credentials","reason":"Unauthorized","code":401}`},
		{apierrors.ForbiddenPath(`User "bob" cannot get path "/metrics"`), 403, `"message":"forbidden: User \"bob\" cannot get path \"/metrics\"","reason":"Forbidden","code":403}`},
		{apierrors.NotFound("pods", "web"), 404, `"reason":"NotFound","code":404}`},
		{errors.New("boom"), 500, `"message":"boom","reason":"InternalError","code":500}`},
	} {
		rec := httptest.NewRecorder()
		apierrors.WriteHTTP(rec, tt.err)
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.want) || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("WriteHTTP(%v) = %d %s, want %d with %s", tt.err, rec.Code, rec.Body, tt.code, tt.want)
		}
	}
}

// TestCausesRoundTrip: an error's causes reach the client with their
// type, message and field.
func TestCausesRoundTrip(t *testing.T) {
	sent := apierrors.TooManyRequestsWithCauses("refused", apierrors.Cause{Type: "DisruptionBudget", Message: "budget web", Field: "f"})
	var got *apierrors.Error
	if !errors.As(apierrors.FromStatus(apierrors.ToStatus(sent)), &got) {
		t.Fatal("not an *Error")
	}
	if got.Reason != apierrors.ReasonTooManyRequests || got.Message != "refused" || len(got.Causes) != 1 || got.Causes[0] != sent.Causes[0] {
		t.Errorf("got %+v, sent %+v", got, sent)
	}
}

// TestInvalidStatusNamesTheKind: the Status of an Invalid error names the
// object's kind (without its group) and name in its details, as
// Kubernetes' does, whatever the request named (a create's path names no
// object, only the resource), also after the trip through gRPC; other
// errors keep the details the request gave.
func TestInvalidStatusNamesTheKind(t *testing.T) {
	invalid := apierrors.Invalid("Deployment.apps", "web", field.ErrorList{field.Required(field.NewPath("spec", "selector"), "")})
	req := apierrors.StatusDetails{Group: "apps", Kind: "deployments"}
	for name, err := range map[string]error{"direct": invalid, "through gRPC": apierrors.ToStatus(invalid)} {
		st := apierrors.Status(err, req)
		if st.Details == nil || st.Details.Kind != "Deployment" || st.Details.Name != "web" || st.Details.Group != "apps" {
			t.Errorf("%s: details %+v, want kind Deployment, name web, group apps", name, st.Details)
		}
		if st.Code != 422 || len(st.Details.Causes) != 1 || st.Details.Causes[0].Field != "spec.selector" {
			t.Errorf("%s: %+v", name, st)
		}
	}
	st := apierrors.Status(apierrors.NotFound("deployments", "web"), apierrors.StatusDetails{Group: "apps", Kind: "deployments", Name: "web"})
	if st.Details.Kind != "deployments" {
		t.Errorf("NotFound details name the resource: %+v", st.Details)
	}
}
