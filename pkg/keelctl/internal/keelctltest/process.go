package keelctltest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/keelctl/cmd"
)

// childEnv marks a process RunProcess started: it runs keelctl, not the
// tests.
const childEnv = "KEELCTLTEST_RUN_KEELCTL"

// Main is the TestMain of a test package that uses RunProcess: in a
// process RunProcess started it runs keelctl with the process's
// arguments and exits with its status; otherwise it runs the tests.
func Main(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(cmd.Run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// RunProcess runs keelctl with exactly args in a process of its own (the
// test binary started again; its TestMain must call Main), as the keelctl
// binary runs: it knows only the compiled-in kinds, not those an
// apiserver in the test's process has added to the process's scheme.
// o.Env is added to the test's environment; o.Out and o.Ctx are not used.
func RunProcess(t *testing.T, o RunOpts, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, os.Args[0], args...)
	c.Env = append(os.Environ(), childEnv+"=1")
	for k, v := range o.Env {
		c.Env = append(c.Env, k+"="+v)
	}
	c.Stdin = strings.NewReader(o.Stdin)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return Result{Out: out.String(), Err: errb.String()}
	case errors.As(err, &exit):
		return Result{Code: exit.ExitCode(), Out: out.String(), Err: errb.String()}
	default:
		t.Fatalf("running keelctl %v: %v", args, err)
		return Result{}
	}
}
