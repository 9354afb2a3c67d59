package daemon

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"

	"keel.dev/keel/pkg/version"
)

// --version prints the build and exits without running the daemon.
func TestCommandVersion(t *testing.T) {
	ran := false
	cmd := Command("keel-test", "a test daemon", func(context.Context, *zap.Logger) error { ran = true; return nil })
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--version"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Error("--version ran the daemon")
	}
	if want := "keel-test version " + version.Get().String(); strings.TrimSpace(out.String()) != want {
		t.Errorf("--version printed %q, want %q", out.String(), want)
	}
}
