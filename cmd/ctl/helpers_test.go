package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/testutil"
)

// cluster is a real apiserver on embedded etcd, with a direct client for
// setting up and checking state, and keelctl run in-process against it.
type cluster struct {
	t      *testing.T
	addr   string
	c      *client.Client
	noConf string // a configuration path that does not exist
}

// startCluster starts an etcd and an apiserver for one test.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	_, api := testserver.StartAll(t, nil)
	return &cluster{
		t:      t,
		addr:   api.Addr,
		c:      client.NewForConn(api.Conn, "default"),
		noConf: filepath.Join(t.TempDir(), "no-config"),
	}
}

// result is one keelctl run.
type result struct {
	code     int
	out, err string
}

// runOpts are the streams and environment of one run.
type runOpts struct {
	stdin string
	env   map[string]string
	ctx   context.Context
	out   *syncBuffer // set to watch the output while it runs
}

// run runs keelctl against the cluster (--server ADDR --insecure, and a
// configuration file that does not exist, so nothing of the host leaks in).
func (k *cluster) run(args ...string) result {
	k.t.Helper()
	return k.runWith(runOpts{}, args...)
}

func (k *cluster) runWith(o runOpts, args ...string) result {
	k.t.Helper()
	full := append([]string{"--config", k.noConf, "--server", k.addr, "--insecure"}, args...)
	return runKeelctl(k.t, o, full...)
}

// runKeelctl runs keelctl in-process with exactly args.
func runKeelctl(t *testing.T, o runOpts, args ...string) result {
	t.Helper()
	out := o.out
	if out == nil {
		out = &syncBuffer{}
	}
	var errb syncBuffer
	ctx := o.ctx
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
	}
	env := o.env
	c := &cli{
		in:     strings.NewReader(o.stdin),
		out:    out,
		errOut: &errb,
		getenv: func(k string) string { return env[k] },
	}
	code := runCLI(ctx, c, args)
	return result{code: code, out: out.String(), err: errb.String()}
}

// ok fails the test unless the run succeeded; it returns stdout.
func (r result) ok(t *testing.T) string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	}
	return r.out
}

// fails checks the run failed with exit status 1 and that stderr contains
// every want; it returns stderr.
func (r result) fails(t *testing.T, wants ...string) string {
	t.Helper()
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	}
	for _, w := range wants {
		if !strings.Contains(r.err, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.err)
		}
	}
	if strings.Contains(r.err, "goroutine ") || strings.Contains(r.err, "panic") {
		t.Errorf("stderr has a stack trace:\n%s", r.err)
	}
	return r.err
}

// syncBuffer is a bytes.Buffer safe for a writer and a concurrent reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually waits until cond holds, checking every few milliseconds, and
// fails the test with msg after timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	testutil.Eventually(t, timeout, fmt.Sprintf(msg, args...), testutil.Condition(cond, "not yet"))
}

// ctx returns a context for direct client calls.
func (k *cluster) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	k.t.Cleanup(cancel)
	return ctx
}

// write creates a file in a temporary directory and returns its path.
func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// lines splits output into lines, each with its runs of spaces collapsed
// to one, so tests check columns without depending on widths.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return out
}

// hasLine reports whether output has a line that, once its spaces are
// collapsed, starts with prefix.
func hasLine(output, prefix string) bool {
	for _, l := range lines(output) {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func mustHaveLines(t *testing.T, output string, prefixes ...string) {
	t.Helper()
	for _, p := range prefixes {
		if !hasLine(output, p) {
			t.Errorf("output has no line starting %q:\n%s", p, output)
		}
	}
}

func clone[T proto.Message](m T) T { return proto.Clone(m).(T) }

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jsonEqual(t *testing.T, a, b any) bool { return jsonString(t, a) == jsonString(t, b) }
