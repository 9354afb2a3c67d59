package cmdutil_test

import (
	"bytes"
	"testing"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/keelctl/cmdutil"
)

// TestPrintError: errors read as kubectl prints them.
func TestPrintError(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{apierrors.Unauthorized("no credentials"), "error: You must be logged in to the server (Unauthorized)\n"},
		{apierrors.ForbiddenPath(`User "bob" cannot get path "/metrics"`), `Error from server (Forbidden): forbidden: User "bob" cannot get path "/metrics"` + "\n"},
	} {
		var b bytes.Buffer
		cmdutil.PrintError(&b, c.err)
		if b.String() != c.want {
			t.Errorf("got  %q\nwant %q", b.String(), c.want)
		}
	}
}
