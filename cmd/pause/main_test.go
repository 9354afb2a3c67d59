package main

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"keel.dev/keel/pkg/testutil"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// buildPause compiles this command the way images are built (static, no
// cgo), once per test binary.
func buildPause(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "pause-test-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(buildDir, "pause"), ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, b)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "pause")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

func TestStaticBinary(t *testing.T) {
	bin := buildPause(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("pause has an ELF interpreter: not static")
		}
	}
}

func TestExitsZeroOnSignal(t *testing.T) {
	bin := buildPause(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin)
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			// Wait for the line printed once the handlers are installed.
			line, err := bufio.NewReader(stderr).ReadString('\n')
			if err != nil || !strings.Contains(line, "waiting for SIGTERM") {
				t.Fatalf("ready line = %q, %v", line, err)
			}
			sent := time.Now()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("pause exited with %v, want exit 0", err)
				}
				if d := time.Since(sent); d > time.Second {
					t.Errorf("pause took %v to exit", d)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("pause still running 10s after %v", sig)
			}
		})
	}
}

func TestVersionFlag(t *testing.T) {
	bin := buildPause(t)
	out, err := exec.Command(bin, "-v").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "pause "+version {
		t.Errorf("pause -v = %q", got)
	}
}

// TestReapChildren checks the zombie reaping pause does as PID 1: a child
// that has exited is collected.
func TestReapChildren(t *testing.T) {
	truePath, err := exec.LookPath("true")
	if err != nil {
		testutil.Missing(t, "no true binary (coreutils)")
	}
	p, err := os.StartProcess(truePath, []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the child is a zombie, then reap it.
	deadline := time.Now().Add(10 * time.Second)
	for !isZombie(p.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d never exited", p.Pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := reapChildren(); n < 1 {
		t.Fatalf("reapChildren() = %d, want >= 1", n)
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(p.Pid))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("child %d still in /proc after reaping (err %v)", p.Pid, err)
	}
	if n := reapChildren(); n != 0 {
		t.Errorf("second reapChildren() = %d, want 0", n)
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}
