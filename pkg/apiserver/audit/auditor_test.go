package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/auth"

	// The kinds objectRef looks up.
	_ "keel.dev/keel/pkg/registry/all"
)

// events is a Sink that keeps what it gets.
type events struct {
	mu  sync.Mutex
	all []*Event
}

func (s *events) Process(e *Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, e)
}

func mustPolicy(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := ParsePolicy("test", []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\n"+doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRecordStages(t *testing.T) {
	p := mustPolicy(t, `
rules:
- level: None
  users: [quiet]
- level: RequestResponse
  resources: [{group: "", resources: [configmaps]}]
- level: Metadata
  omitStages: [RequestReceived]
`)
	now := time.Date(2026, 12, 7, 1, 2, 3, 456789000, time.UTC)
	sink := &events{}
	a := NewAuditor(p, sink, func() time.Time { return now })
	alice := auth.User{Name: "alice", Groups: []string{"dev"}, UID: "u1"}
	admin := auth.User{Name: "admin", Groups: []string{auth.GroupMasters}}
	body := func() any { return map[string]any{"data": map[string]any{"k": "v"}} }

	t.Run("request and response bodies at RequestResponse", func(t *testing.T) {
		sink.all = nil
		_, r := a.Begin(t.Context(), Request{Attributes: auth.Attributes{User: alice, Verb: "create", Resource: "configmaps", Namespace: "team"}, SourceIPs: []string{"10.0.0.1"}, UserAgent: "keelctl"})
		r.Authorized(auth.Attributes{Verb: "create", Resource: "configmaps", Namespace: "team", Name: "cfg"}, true, `RBAC: allowed by RoleBinding "x"`)
		r.Complete(nil, body, body)
		if len(sink.all) != 2 {
			t.Fatalf("%d events, want RequestReceived and ResponseComplete", len(sink.all))
		}
		rr, done := sink.all[0], sink.all[1]
		if rr.Stage != StageRequestReceived || done.Stage != StageResponseComplete || rr.AuditID == "" || rr.AuditID != done.AuditID {
			t.Errorf("stages %s %s, ids %q %q", rr.Stage, done.Stage, rr.AuditID, done.AuditID)
		}
		if rr.RequestObject != nil || rr.ResponseStatus != nil {
			t.Errorf("RequestReceived carries a body or status: %+v", rr)
		}
		if done.RequestObject == nil || done.ResponseObject == nil || done.ResponseStatus.Code != 200 {
			t.Errorf("ResponseComplete: %+v", done)
		}
		if done.User.Username != "alice" || done.ImpersonatedUser != nil || done.Verb != "create" {
			t.Errorf("user %+v, impersonated %+v", done.User, done.ImpersonatedUser)
		}
		want := ObjectReference{Resource: "configmaps", Namespace: "team", Name: "cfg", APIVersion: "v1"}
		if *done.ObjectRef != want || done.RequestURI != "/api/v1/namespaces/team/configmaps/cfg" {
			t.Errorf("objectRef %+v, URI %s", done.ObjectRef, done.RequestURI)
		}
		if done.Annotations[AnnotationDecision] != "allow" || done.Annotations[AnnotationReason] == "" {
			t.Errorf("annotations %v", done.Annotations)
		}
	})
	t.Run("Metadata, impersonated, denied, RequestReceived omitted", func(t *testing.T) {
		sink.all = nil
		_, r := a.Begin(t.Context(), Request{Attributes: auth.Attributes{User: alice, Verb: "get", Resource: "secrets", Namespace: "team", Name: "db"}, Impersonator: &admin})
		r.Authorized(auth.Attributes{Verb: "get", Resource: "secrets", Namespace: "team", Name: "db"}, false, "")
		r.Complete(apierrors.ToStatus(apierrors.Forbidden("secrets", "db", "no")), body, body)
		if len(sink.all) != 1 {
			t.Fatalf("%d events, want ResponseComplete only", len(sink.all))
		}
		e := sink.all[0]
		if e.Level != LevelMetadata || e.RequestObject != nil || e.ResponseObject != nil {
			t.Errorf("Metadata event carries a body: %+v", e)
		}
		if e.User.Username != "admin" || e.ImpersonatedUser == nil || e.ImpersonatedUser.Username != "alice" {
			t.Errorf("user %+v impersonated %+v", e.User, e.ImpersonatedUser)
		}
		if s := e.ResponseStatus; s.Code != 403 || s.Reason != "Forbidden" || s.Status != "Failure" || s.Message == "" {
			t.Errorf("status %+v", s)
		}
		if e.Annotations[AnnotationDecision] != "forbid" {
			t.Errorf("annotations %v", e.Annotations)
		}
	})
	t.Run("watch: ResponseStarted", func(t *testing.T) {
		sink.all = nil
		_, r := a.Begin(t.Context(), Request{Attributes: auth.Attributes{User: alice, Verb: "watch", Resource: "configmaps"}, LongRunning: true})
		r.Authorized(auth.Attributes{Verb: "watch", Resource: "configmaps"}, true, "")
		r.Complete(nil, nil, nil)
		var got []Stage
		for _, e := range sink.all {
			got = append(got, e.Stage)
		}
		if len(got) != 3 || got[1] != StageResponseStarted || sink.all[1].RequestURI != "/api/v1/configmaps?watch=true" {
			t.Errorf("stages %v, URI %s", got, sink.all[1].RequestURI)
		}
	})
	t.Run("panic", func(t *testing.T) {
		sink.all = nil
		_, r := a.Begin(t.Context(), Request{Attributes: auth.Attributes{User: alice, Verb: "get", Path: "/metrics"}})
		r.Panicked("boom")
		r.Complete(errors.New("x"), nil, nil)
		if len(sink.all) != 1 || sink.all[0].Stage != StagePanic || sink.all[0].ResponseStatus.Code != 500 || sink.all[0].RequestURI != "/metrics" || sink.all[0].ObjectRef != nil {
			t.Errorf("events %+v", sink.all)
		}
	})
	t.Run("unauthenticated, not authorized", func(t *testing.T) {
		sink.all = nil
		_, r := a.Begin(t.Context(), Request{Attributes: auth.Attributes{Verb: "list", Resource: "pods"}})
		r.Complete(apierrors.ToStatus(apierrors.Unauthorized("no credentials")), nil, nil)
		if len(sink.all) != 1 || sink.all[0].ResponseStatus.Code != 401 || sink.all[0].User.Username != "" {
			t.Errorf("events %+v", sink.all)
		}
	})
	t.Run("None", func(t *testing.T) {
		sink.all = nil
		ctx, r := a.Begin(t.Context(), Request{Attributes: auth.Attributes{User: auth.User{Name: "quiet"}, Verb: "get", Resource: "configmaps"}})
		if RecordFrom(ctx) != r {
			t.Error("RecordFrom does not find the record")
		}
		r.Authorized(auth.Attributes{Verb: "get", Resource: "configmaps"}, true, "")
		r.Complete(nil, func() any { t.Error("body asked for at level None"); return nil }, nil)
		if len(sink.all) != 0 || r.Level() != LevelNone {
			t.Errorf("events %+v", sink.all)
		}
	})
	t.Run("nil record", func(t *testing.T) {
		var r *Record
		r.Authorized(auth.Attributes{}, true, "")
		r.Panicked(1)
		r.Complete(nil, nil, nil)
		if RecordFrom(t.Context()) != nil || r.Level() != LevelNone {
			t.Error("no record expected")
		}
	})
}

func TestEventJSON(t *testing.T) {
	e := &Event{Kind: "Event", APIVersion: APIVersion, Level: LevelMetadata, Stage: StageResponseComplete,
		RequestReceivedTimestamp: MicroTime(time.Date(2026, 1, 2, 3, 4, 5, 6007000, time.UTC)),
		ResponseStatus:           &ResponseStatus{Code: 200}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"requestReceivedTimestamp":"2026-01-02T03:04:05.006007Z"`, `"responseStatus":{"metadata":{},"code":200}`, `"user":{}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}

func TestWriterRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	out, err := LogOptions{Path: path, MaxSize: 1, MaxBackups: 2}.Open()
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter(out, 100000, nil)
	pad := strings.Repeat("x", 1000)
	const n = 3000 // ~3.3 MB: rotated at least twice
	for range n {
		w.Process(&Event{Kind: "Event", APIVersion: APIVersion, Level: LevelMetadata, UserAgent: pad})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.log"))
	if len(files) != 3 {
		t.Errorf("files %v, want the log and 2 backups", files)
	}
	lines := 0
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 1<<20 {
			t.Errorf("%s is %d bytes, over 1 MB", f, fi.Size())
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
		lines += jsonLines(t, f)
	}
	if lines >= n || lines < 1000 {
		t.Errorf("%d lines kept in 3 files of %d written: the oldest should be gone", lines, n)
	}
}

// jsonLines checks that every line of file is an Event and counts them.
func jsonLines(t *testing.T, file string) int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Kind != "Event" {
			t.Fatalf("%s line %d: %v: %s", file, n+1, err, sc.Text())
		}
		n++
	}
	return n
}

// blocked is an output that accepts nothing until released, then counts
// the lines written.
type blocked struct {
	release chan struct{}
	lines   *int
}

func (b blocked) Write(p []byte) (int, error) {
	<-b.release
	*b.lines += bytes.Count(p, []byte("\n"))
	return len(p), nil
}
func (b blocked) Close() error { return nil }

// TestWriterDropsWhenFull: while the output is stuck, Process never
// waits: what the buffer cannot hold is dropped and counted, and every
// event is either written or counted as dropped.
func TestWriterDropsWhenFull(t *testing.T) {
	lines := 0
	out := blocked{release: make(chan struct{}), lines: &lines}
	w := NewWriter(out, 2, nil)
	before := testutil.ToFloat64(errorTotal.WithLabelValues(pluginLog))
	const n = 100
	start := time.Now()
	for range n {
		w.Process(&Event{Kind: "Event"})
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Process blocked for %s", d)
	}
	dropped := int(testutil.ToFloat64(errorTotal.WithLabelValues(pluginLog)) - before)
	if dropped == 0 {
		t.Error("no event counted as dropped")
	}
	close(out.release)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if lines+dropped != n {
		t.Errorf("%d written + %d dropped, want %d in all", lines, dropped, n)
	}
}

func TestOpenStdoutAndErrors(t *testing.T) {
	if out, err := (LogOptions{Path: "-"}).Open(); err != nil || out == nil {
		t.Errorf("stdout: %v", err)
	}
	if _, err := (LogOptions{Path: filepath.Join(t.TempDir(), "no", "such", "dir", "a.log")}).Open(); err == nil || !strings.Contains(err.Error(), "--audit-log-path") {
		t.Errorf("missing directory: %v", err)
	}
	if _, err := (LogOptions{Path: filepath.Join(t.TempDir(), "a.log"), MaxSize: -1}).Open(); err == nil {
		t.Error("negative size accepted")
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) Close() error                { return nil }

// BenchmarkRecord is the audit work of one request on the request path
// (Begin, Authorized, Complete) plus its encoding by the Writer, at
// Metadata and at None, with a policy of a few rules ahead of the one
// that matches.
func BenchmarkRecord(b *testing.B) {
	p, err := ParsePolicy("bench", []byte(`apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: [system:kube-proxy]
  verbs: [watch]
- level: None
  nonResourceURLs: ["/healthz*"]
- level: None
  users: [quiet]
- level: Metadata
`))
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		user auth.User
	}{{"Metadata", auth.User{Name: "alice", Groups: []string{"dev", auth.GroupAuthenticated}}}, {"None", auth.User{Name: "quiet"}}} {
		b.Run(tc.name, func(b *testing.B) {
			w := NewWriter(discard{}, 0, nil)
			a := NewAuditor(p, w, nil)
			attrs := auth.Attributes{Verb: "create", Resource: "pods", Namespace: "team", Name: "web"}
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				_, r := a.Begin(b.Context(), Request{Attributes: auth.Attributes{User: tc.user, Verb: "create", Resource: "pods", Namespace: "team"}, SourceIPs: []string{"10.0.0.1"}, UserAgent: "bench"})
				r.Authorized(attrs, true, "")
				r.Complete(nil, nil, nil)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			// CPU time, the writer's included, is what a request costs
			// the machine, whatever else runs on it.
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestWriterProcessAfterClose: an event of a request that finishes after
// Close is dropped, not a panic.
func TestWriterProcessAfterClose(t *testing.T) {
	w := NewWriter(discard{}, 0, nil)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	before := testutil.ToFloat64(errorTotal.WithLabelValues(pluginLog))
	w.Process(&Event{Kind: "Event"})
	if got := testutil.ToFloat64(errorTotal.WithLabelValues(pluginLog)) - before; got != 1 {
		t.Errorf("%v events counted as dropped, want 1", got)
	}
}
