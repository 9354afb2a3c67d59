package framework

import (
	"errors"
	"strconv"
	"strings"
)

// Code is the outcome of a plugin call.
type Code int

// Codes, in increasing severity for a node.
const (
	// Success: the plugin accepts the pod (for the node). A nil *Status is
	// Success.
	Success Code = iota
	// Error: an internal error, not a property of the pod or the node. The
	// cycle stops and the pod is retried after a back-off.
	Error
	// Unschedulable: the pod does not fit the node as things stand; removing
	// lower-priority pods from the node (preemption) may make it fit.
	Unschedulable
	// UnschedulableAndUnresolvable: the pod does not fit the node and
	// preemption cannot help (a node selector, an untolerated taint, a node
	// marked unschedulable). Preemption skips such nodes.
	UnschedulableAndUnresolvable
	// Skip, from PreFilter or PreScore only: the plugin has nothing to do
	// for this pod, so its Filter or Score is not called in this cycle.
	Skip
)

var codeNames = [...]string{"Success", "Error", "Unschedulable", "UnschedulableAndUnresolvable", "Skip"}

func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "Code(" + strconv.Itoa(int(c)) + ")"
}

// Status is the result of a plugin call: a Code and the human-readable
// reasons that explain it (each reason is counted separately in the
// "0/N nodes are available" message, so keep them short and free of
// node-specific detail). A nil *Status means Success. Statuses are
// immutable once made, so plugins may return shared package-level values.
type Status struct {
	code    Code
	reasons []string
	err     error
}

// NewStatus returns a status with code and reasons.
func NewStatus(code Code, reasons ...string) *Status {
	return &Status{code: code, reasons: reasons}
}

// AsStatus wraps an internal error in an Error status (nil for nil).
func AsStatus(err error) *Status {
	if err == nil {
		return nil
	}
	return &Status{code: Error, reasons: []string{err.Error()}, err: err}
}

// Code is the status's code (Success for nil).
func (s *Status) Code() Code {
	if s == nil {
		return Success
	}
	return s.code
}

// IsSuccess reports whether the status is nil or Success.
func (s *Status) IsSuccess() bool { return s.Code() == Success }

// IsSkip reports whether the code is Skip.
func (s *Status) IsSkip() bool { return s.Code() == Skip }

// IsRejected reports whether the code is Unschedulable or
// UnschedulableAndUnresolvable.
func (s *Status) IsRejected() bool {
	c := s.Code()
	return c == Unschedulable || c == UnschedulableAndUnresolvable
}

// Reasons are the status's reasons.
func (s *Status) Reasons() []string {
	if s == nil {
		return nil
	}
	return s.reasons
}

// Message joins the reasons with ", ".
func (s *Status) Message() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.reasons, ", ")
}

// AsError returns nil for a success or rejection, and the error of an
// Error status.
func (s *Status) AsError() error {
	if s.Code() != Error {
		return nil
	}
	if s.err != nil {
		return s.err
	}
	return errors.New(s.Message())
}

func (s *Status) String() string {
	if s == nil {
		return "Success"
	}
	if len(s.reasons) == 0 {
		return s.code.String()
	}
	return s.code.String() + ": " + s.Message()
}
