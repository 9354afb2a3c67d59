package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/testutil"
)

// script runs the repository's scripts and binaries (hack/local-up.sh,
// bin/keelctl…) from the repository root with an environment of the test's.
type script struct {
	repo string
	env  []string
}

// newScript gives the script the process's environment plus env, and the
// host ports named in ports (KEEL_API_PORT…), each free a moment ago.
func newScript(t *testing.T, ports []string, env ...string) *script {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	s := &script{repo: repo, env: append(os.Environ(), env...)}
	for i, addr := range daemontest.FreePorts(t, len(ports)) {
		s.env = append(s.env, ports[i]+"="+addr[strings.LastIndexByte(addr, ':')+1:])
	}
	return s
}

// run runs name with args, killed after timeout, and returns its combined
// output.
func (s *script) run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = s.repo, s.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// tailLogs has the last lines of each file, named relative to dir.
func tailLogs(dir string, files ...string) string {
	var b strings.Builder
	for _, f := range files {
		out, _ := os.ReadFile(filepath.Join(dir, f))
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		fmt.Fprintf(&b, "--- %s (last lines)\n%s\n", f, strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
	return b.String()
}

// pids reads the pids of the pidfiles the glob patterns match.
func pids(patterns ...string) []int {
	var out []int
	for _, p := range patterns {
		files, _ := filepath.Glob(p)
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					out = append(out, pid)
				}
			}
		}
	}
	return out
}

// waitStopped waits until every pid has exited (a zombie of this process's
// children counts as exited).
func waitStopped(t *testing.T, pids []int) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, "every daemon stopped by --down", func() error {
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil && !zombie(pid) {
				return fmt.Errorf("pid %d still running", pid)
			}
		}
		return nil
	})
}

// zombie reports whether pid has exited but not been reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

// failOnForbidden fails the test, when it ends, if the apiserver's log at
// path records a refused request ("request forbidden"): every daemon runs
// as itself under RBAC, and a refusal is a role that lacks something.
func failOnForbidden(t *testing.T, path string) {
	t.Cleanup(func() {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("reading the apiserver's log: %v", err)
			return
		}
		var refused []string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "request forbidden") {
				refused = append(refused, line)
			}
		}
		if len(refused) > 0 {
			t.Errorf("the apiserver refused %d requests:\n%s", len(refused), strings.Join(refused, "\n"))
		}
	})
}
