package daemontest

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"keel.dev/keel/pkg/testutil"
)

// Build compiles the main package in the working directory into dir/name,
// with extra go build flags (for example "-race"). For TestMain: a failed
// build prints the compiler's output and exits.
func Build(dir, name string, flags ...string) string {
	binary := filepath.Join(dir, name)
	args := append(append([]string{"build"}, flags...), "-o", binary, ".")
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building %s: %v\n%s", name, err, out)
		os.Exit(1)
	}
	return binary
}

// Proc is a daemon binary a test started.
type Proc struct {
	Cmd *exec.Cmd
	// Out is everything it printed.
	Out  *Output
	done chan struct{}
}

// Start runs binary with args. The process dies with the test binary, and is
// stopped (Stop) when the test ends; if the test failed, the last lines of
// its output are logged.
func Start(t testing.TB, binary string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Cmd: exec.Command(binary, args...), Out: &Output{}, done: make(chan struct{})}
	p.Cmd.Stdout, p.Cmd.Stderr = p.Out, p.Out
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.Cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop(t)
		if t.Failed() {
			t.Logf("%s output (last lines):\n%s", filepath.Base(binary), p.Tail(60))
		}
	})
	return p
}

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM and waits for the process to exit; after 30s it kills
// it and fails the test. Stopping an exited process does nothing.
func (p *Proc) Stop(t testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop within 30s of SIGTERM", filepath.Base(p.Cmd.Path))
	}
}

// Tail is the last lines of the process's output.
func (p *Proc) Tail(lines int) string {
	l := strings.Split(p.Out.String(), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// Main is a binary test package's TestMain: it builds the main package in
// the working directory as name (with extra go build flags) into a
// temporary directory, sets *binary to its path, runs the tests, removes
// the directory and exits with the tests' status.
func Main(m *testing.M, name string, binary *string, flags ...string) {
	dir, err := os.MkdirTemp("", name+"-test")
	if err != nil {
		panic(err)
	}
	*binary = Build(dir, name, flags...)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// WaitReady polls url (a /readyz) until it answers 200, failing the test
// with the last answer and the process's output if the process exits first
// or timeout passes.
func (p *Proc) WaitReady(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	name := filepath.Base(p.Cmd.Path)
	testutil.Eventually(t, timeout, name+" ready", func() error {
		select {
		case <-p.Done():
			t.Fatalf("%s exited: %v\n%s", name, p.Cmd.ProcessState, p.Tail(40))
		default:
		}
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			return fmt.Errorf("%s: %s %s\n%s", url, resp.Status, b, p.Tail(20))
		}
		return nil
	})
}
