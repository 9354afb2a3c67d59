package server

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseRecord(t *testing.T) {
	for _, tt := range []struct {
		in      string
		stream  string
		partial bool
		content string
		wantErr bool
	}{
		{in: "2016-10-06T00:17:09.669794202Z stdout F log content 1", stream: "stdout", content: "log content 1"},
		{in: "2016-10-06T00:17:09.669794202Z stderr P part", stream: "stderr", partial: true, content: "part"},
		{in: "2016-10-06T00:17:09.669794202+02:00 stdout F:x:y  two spaces", stream: "stdout", content: " two spaces"},
		{in: "2016-10-06T00:17:09.669794202Z stdout F ", stream: "stdout", content: ""},
		{in: "2016-10-06T00:17:09.669794202Z stdout F", stream: "stdout", content: ""},
		{in: "not a time stdout F x", wantErr: true},
		{in: "2016-10-06T00:17:09Z stdin F x", wantErr: true},
		{in: "2016-10-06T00:17:09Z stdout Q x", wantErr: true},
		{in: "2016-10-06T00:17:09Z", wantErr: true},
	} {
		r, err := ParseRecord([]byte(tt.in))
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: error %v", tt.in, err)
			continue
		}
		if err == nil && (r.Stream != tt.stream || r.Partial != tt.partial || string(r.Content) != tt.content) {
			t.Errorf("%q: %+v", tt.in, r)
		}
	}
	r, _ := ParseRecord([]byte("2016-10-06T00:17:09.669794202+02:00 stdout F x"))
	if !r.Time.Equal(time.Date(2016, 10, 5, 22, 17, 9, 669794202, time.UTC)) {
		t.Errorf("time %v", r.Time)
	}
}

// base is the time of the first line of test logs.
var base = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func rec(i int, stream, tag, content string) string {
	return fmt.Sprintf("%s %s %s %s\n", base.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), stream, tag, content)
}

func writeLog(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func appendLog(t *testing.T, p string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "")); err != nil {
		t.Fatal(err)
	}
}

// collector gathers what ReadLog sends, safely across goroutines.
type collector struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	chunks int
	max    int
}

func (c *collector) send(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(b)
	c.chunks++
	c.max = max(c.max, len(b))
	return nil
}

func (c *collector) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *collector) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(c.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %q", want, c.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestReadLog(t *testing.T) {
	log := writeLog(t,
		rec(0, "stdout", "F", "one"),
		rec(1, "stderr", "F", "two (stderr)"),
		rec(2, "stdout", "P", "thr"),
		rec(3, "stdout", "P", "e"),
		rec(4, "stdout", "F", "e"),
		"garbage line\n",
		rec(5, "stdout", "F", ""),
		rec(6, "stdout", "F", "six"),
		rec(7, "stdout", "P", "no newline"),
	)
	ts := func(i int) string { return base.Add(time.Duration(i)*time.Second).Format(timestampFormat) + " " }
	blank := strings.Repeat(" ", len(ts(0)))
	all := "one\ntwo (stderr)\nthree\ngarbage line\n\nsix\nno newline"
	for _, tt := range []struct {
		name string
		opts LogOptions
		want string
	}{
		{"all", LogOptions{TailLines: -1}, all},
		{"tail 2", LogOptions{TailLines: 2}, "six\nno newline"},
		{"tail 0", LogOptions{TailLines: 0}, ""},
		{"tail more than lines", LogOptions{TailLines: 100}, all},
		{"timestamps", LogOptions{TailLines: 4, Timestamps: true}, blank + "garbage line\n" + ts(5) + "\n" + ts(6) + "six\n" + ts(7) + "no newline"},
		{"merged partials keep the first time", LogOptions{TailLines: -1, Timestamps: true, Since: base.Add(2 * time.Second), LimitBytes: 37}, ts(2) + "three\n"},
		{"since", LogOptions{TailLines: -1, Since: base.Add(5500 * time.Millisecond)}, "garbage line\nsix\nno newline"},
		{"since then tail", LogOptions{TailLines: 1, Since: base.Add(time.Second)}, "no newline"},
		{"limit cuts", LogOptions{TailLines: -1, LimitBytes: 6}, "one\ntw"},
		{"limit larger", LogOptions{TailLines: -1, LimitBytes: 1000}, all},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c collector
			if err := ReadLog(context.Background(), log, tt.opts, c.send); err != nil {
				t.Fatal(err)
			}
			if got := c.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	var c collector
	if err := ReadLog(context.Background(), log, LogOptions{TailLines: -1, ChunkSize: 5}, c.send); err != nil {
		t.Fatal(err)
	}
	if c.String() != all || c.max != 5 {
		t.Errorf("chunked: %q, largest chunk %d", c.String(), c.max)
	}
	if err := ReadLog(context.Background(), filepath.Join(t.TempDir(), "missing.log"), LogOptions{}, c.send); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}

func TestReadLogFollow(t *testing.T) {
	log := writeLog(t, rec(0, "stdout", "F", "old 1"), rec(1, "stdout", "F", "old 2"))
	var exited atomic.Bool
	var c collector
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- ReadLog(ctx, log, LogOptions{Follow: true, TailLines: 1, PollInterval: 5 * time.Millisecond,
			Exited: func(context.Context) bool { return exited.Load() }}, c.send)
	}()
	c.waitFor(t, "old 2\n")
	if strings.Contains(c.String(), "old 1") {
		t.Fatalf("tail 1 sent %q", c.String())
	}
	appendLog(t, log, rec(2, "stdout", "F", "new 1"))
	c.waitFor(t, "new 1\n")
	// A line written in two parts arrives whole.
	appendLog(t, log, rec(3, "stdout", "P", "half "))
	appendLog(t, log, rec(4, "stdout", "F", "and half"))
	c.waitFor(t, "half and half\n")
	// A record written in pieces (no newline yet) waits for its newline.
	line := rec(5, "stderr", "F", "split record")
	appendLog(t, log, line[:10])
	appendLog(t, log, line[10:])
	c.waitFor(t, "split record\n")

	// Rotation: the file is renamed away and a new one started.
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	appendLog(t, log+".1", rec(6, "stdout", "F", "late in the old file"))
	appendLog(t, log, rec(7, "stdout", "F", "first in the new file"))
	c.waitFor(t, "first in the new file\n")
	if !strings.Contains(c.String(), "late in the old file\n") {
		t.Errorf("the old file's last line was lost: %q", c.String())
	}
	// Truncation: read again from the start.
	if err := os.WriteFile(log, []byte(rec(8, "stdout", "F", "after truncate")), 0o644); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, "after truncate\n")

	// The container exits: the rest is drained, an unfinished line sent, and
	// the stream ends.
	appendLog(t, log, rec(9, "stdout", "F", "last words"), rec(10, "stdout", "P", "no newline"))
	exited.Store(true)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end after the container exited")
	}
	if got := c.String(); !strings.HasSuffix(got, "last words\nno newline") {
		t.Errorf("end of stream %q", got)
	}
}

func TestReadLogFollowCancel(t *testing.T) {
	log := writeLog(t, rec(0, "stdout", "F", "x"))
	var c collector
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ReadLog(ctx, log, LogOptions{Follow: true, TailLines: -1, PollInterval: 5 * time.Millisecond}, c.send)
	}()
	c.waitFor(t, "x\n")
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("err %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end on cancel")
	}
	// A limit ends a follow too.
	var c2 collector
	appendLog(t, log, rec(1, "stdout", "F", "yy"))
	if err := ReadLog(context.Background(), log, LogOptions{Follow: true, TailLines: -1, LimitBytes: 4}, c2.send); err != nil {
		t.Fatal(err)
	}
	if c2.String() != "x\nyy" {
		t.Errorf("limited follow %q", c2.String())
	}
}
