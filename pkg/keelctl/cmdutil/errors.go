package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/manifest"
)

// ErrorList is several independent failures of one command (one object
// each), all printed; the command exits 1.
type ErrorList []error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// OrNil returns l as an error, nil when empty.
func (l ErrorList) OrNil() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// SourceError is a server error about an object read from a file:
// kubectl's "error when creating "web.yaml": ...".
type SourceError struct {
	Verb   string // "creating", "applying", "deleting", …
	Source string // manifest.Object.Source: "web.yaml" or "web.yaml (document 2)"
	Err    error
}

func (e *SourceError) Error() string { return e.prefix() + e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

func (e *SourceError) prefix() string {
	file, doc, hasDoc := strings.Cut(e.Source, " (document ")
	s := fmt.Sprintf("error when %s %q", e.Verb, file)
	if hasDoc {
		s += " (document " + doc
	}
	return s + ": "
}

// ExitError ends the command with status 1 after it printed its own
// diagnostics.
type ExitError struct{}

func (ExitError) Error() string { return "exit status 1" }

// PrintError prints err as kubectl would: server errors as "Error from
// server (Reason): message" (Invalid ones as "The Kind "name" is invalid:"
// with every bad field), manifest problems one per line with file, document
// and field path, anything else as "error: message".
func PrintError(w io.Writer, err error) {
	var list ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			PrintError(w, e)
		}
		return
	}
	if errors.As(err, &ExitError{}) {
		return
	}
	var ml manifest.ErrorList
	if errors.As(err, &ml) {
		for _, e := range ml {
			fmt.Fprintf(w, "error: %s\n", e)
		}
		return
	}
	var se *SourceError
	var ae *apierrors.Error
	if errors.As(err, &se) && errors.As(se.Err, &ae) {
		fmt.Fprintln(w, formatAPIError(ae, se.prefix()))
		return
	}
	if errors.As(err, &ae) {
		fmt.Fprintln(w, formatAPIError(ae, ""))
		return
	}
	fmt.Fprintf(w, "error: %v\n", err)
}

var invalidRE = regexp.MustCompile(`^(\S+) ("(?:[^"\\]|\\.)*") is invalid`)

// formatAPIError renders an API error like kubectl; prefix ("error when
// creating "x.yaml": ") goes before the message.
func formatAPIError(e *apierrors.Error, prefix string) string {
	switch e.Reason {
	case apierrors.ReasonInvalid:
		head := "The request is invalid"
		if m := invalidRE.FindStringSubmatch(e.Message); m != nil {
			head = fmt.Sprintf("The %s %s is invalid", m[1], m[2])
		}
		head = prefix + head
		switch len(e.Fields) {
		case 0:
			return prefix + "The " + e.Message
		case 1:
			return head + ": " + fieldMessage(e, 0)
		}
		var b strings.Builder
		b.WriteString(head + ": ")
		for i := range e.Fields {
			b.WriteString("\n* " + fieldMessage(e, i))
		}
		return b.String()
	case apierrors.ReasonUnauthorized:
		// kubectl's words: the server did not take the credentials (none,
		// an expired or revoked token, a certificate of another CA).
		return "error: " + prefix + "You must be logged in to the server (Unauthorized)"
	case apierrors.ReasonUnavailable:
		if isConnectionError(e.Message) {
			msg := e.Message
			// gRPC wraps the dial error several times ("max retries
			// exhausted: ... desc = "transport: Error while dialing: dial
			// tcp ...""); the dial error is what says what went wrong.
			if _, rest, ok := strings.Cut(msg, "Error while dialing: "); ok {
				msg = strings.TrimRight(rest, `"`)
			}
			return "Unable to connect to the server: " + msg
		}
	}
	return fmt.Sprintf("Error from server (%s): %s%s", e.Reason, prefix, e.Message)
}

func fieldMessage(e *apierrors.Error, i int) string {
	f := e.Fields[i]
	if f.Field == "" {
		return f.Detail
	}
	return f.Field + ": " + f.Detail
}

// isConnectionError tells a transport failure (no apiserver reachable) from
// an apiserver answering Unavailable (its etcd is unreachable).
func isConnectionError(msg string) bool {
	for _, s := range []string{"connection error", "transport", "dial tcp", "connection refused", "no such host", "name resolver"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
