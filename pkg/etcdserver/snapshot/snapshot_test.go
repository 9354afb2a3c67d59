package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	promtestutil "github.com/prometheus/client_golang/prometheus/testutil"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"keel.dev/keel/pkg/etcdserver"
	"keel.dev/keel/pkg/snapshotfile"
	"keel.dev/keel/pkg/storage"
	"keel.dev/keel/pkg/testutil"
)

// startMember starts an embedded member on dataDir.
func startMember(t *testing.T, dataDir string) (*etcdserver.Server, *clientv3.Client) {
	t.Helper()
	m, err := etcdserver.Start(etcdserver.Options{DataDir: dataDir, UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Client()
	t.Cleanup(func() { c.Close(); m.Close() })
	return m, c
}

func put(t *testing.T, c *clientv3.Client, key string) int64 {
	t.Helper()
	resp, err := c.Put(context.Background(), key, "v")
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

func has(t *testing.T, c *clientv3.Client, key string) bool {
	t.Helper()
	resp, err := c.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.Kvs) == 1
}

// TestSaveRestore: a snapshot holds what was written before it and not
// after; restored into a new data directory, a member serves it.
func TestSaveRestore(t *testing.T) {
	dir := t.TempDir()
	_, c := startMember(t, filepath.Join(dir, "etcd"))
	rev := put(t, c, "/keel/a")
	path := filepath.Join(dir, "snap.db")
	info, err := Save(context.Background(), storage.NewEtcd(c), path)
	if err != nil {
		t.Fatal(err)
	}
	put(t, c, "/keel/b")
	if info.Revision != rev || info.Keys != 1 {
		t.Errorf("Save: %+v, want revision %d and 1 key", info, rev)
	}
	if again, err := Check(path); err != nil || again != info {
		t.Errorf("Check: %+v, %v; Save said %+v", again, err, info)
	}

	restored := filepath.Join(dir, "restored")
	if _, err := Restore(RestoreOptions{Snapshot: path, DataDir: restored, BumpRevision: 1000, MarkCompacted: true}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(restored); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("restored data directory: %v, %v", st, err)
	}
	_, rc := startMember(t, restored)
	if !has(t, rc, "/keel/a") || has(t, rc, "/keel/b") {
		t.Error("the restored member does not hold exactly what the snapshot does")
	}
	if r := put(t, rc, "/keel/c"); r <= rev+1000 {
		t.Errorf("a write after a restore bumped by 1000 is at revision %d, want more than %d", r, rev+1000)
	}
	if _, err := rc.Get(context.Background(), "/keel/a", clientv3.WithRev(rev)); err == nil || !strings.Contains(err.Error(), "compacted") {
		t.Errorf("reading the old revision after --mark-compacted: %v, want compacted", err)
	}
}

// TestRestoreRefuses: a corrupt or truncated snapshot, a data directory
// in use and bad options are refused with an error naming them, and
// nothing is created.
func TestRestoreRefuses(t *testing.T) {
	dir := t.TempDir()
	_, c := startMember(t, filepath.Join(dir, "etcd"))
	put(t, c, "/keel/a")
	good := filepath.Join(dir, "snap.db")
	if _, err := Save(context.Background(), storage.NewEtcd(c), good); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := slices.Clone(data)
	flipped[len(flipped)/2] ^= 0xff
	truncated := write("truncated.db", data[:len(data)/2])
	corrupt := write("corrupt.db", flipped)
	used := filepath.Join(dir, "used")
	if err := os.MkdirAll(filepath.Join(used, "member"), 0o700); err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name    string
		o       RestoreOptions
		want    []string
		corrupt bool
	}{
		{"truncated", RestoreOptions{Snapshot: truncated}, []string{truncated, "truncated?"}, true},
		{"corrupt", RestoreOptions{Snapshot: corrupt}, []string{corrupt, "sha256"}, true},
		{"missing", RestoreOptions{Snapshot: filepath.Join(dir, "nope.db")}, []string{"nope.db", "no such file"}, false},
		{"a data directory in use", RestoreOptions{Snapshot: good, DataDir: used}, []string{used, "not empty"}, false},
		{"a bad peer URL", RestoreOptions{Snapshot: good, InitialAdvertisePeerURLs: []string{"127.0.0.1:2380"}}, []string{"--initial-advertise-peer-urls", "127.0.0.1:2380"}, false},
		{"a member missing from the cluster", RestoreOptions{Snapshot: good, Name: "m1", InitialCluster: "m2=http://127.0.0.1:2380"}, []string{"m1"}, false},
		{"a bump without compaction", RestoreOptions{Snapshot: good, BumpRevision: 5}, []string{"--bump-revision and --mark-compacted"}, false},
	} {
		target := filepath.Join(dir, "new-"+strings.ReplaceAll(tt.name, " ", "-"))
		if tt.o.DataDir == "" {
			tt.o.DataDir = target
		}
		_, err := Restore(tt.o)
		if err == nil {
			t.Errorf("%s: restored", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tt.name, err, w)
			}
		}
		if errors.Is(err, snapshotfile.ErrCorrupt) != tt.corrupt {
			t.Errorf("%s: errors.Is(%v, ErrCorrupt) = %v", tt.name, err, !tt.corrupt)
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Errorf("%s: %s was created", tt.name, target)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".restore-") {
			t.Errorf("a failed restore left %s", e.Name())
		}
	}
	if entries, _ := os.ReadDir(used); len(entries) != 1 {
		t.Errorf("the data directory in use changed: %v", entries)
	}
}

func TestParseSchedule(t *testing.T) {
	at := time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC)
	for spec, want := range map[string]time.Time{
		"CRON_TZ=UTC 0 */6 * * *": time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC),
		"@every 1h":               at.Add(time.Hour),
		"CRON_TZ=UTC @daily":      time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC),
	} {
		s, err := ParseSchedule(spec)
		if err != nil {
			t.Errorf("%q: %v", spec, err)
			continue
		}
		if got := s.Next(at); !got.Equal(want) {
			t.Errorf("%q: next after %s is %s, want %s", spec, at, got, want)
		}
	}
	for _, bad := range []string{"every hour", "* * *", "61 * * * *", "@sometimes"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestRetention: Take names snapshots by time and keeps the newest
// Retention; Prune also drops unfinished .part files and nothing else.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	_, c := startMember(t, filepath.Join(dir, "etcd"))
	snaps := filepath.Join(dir, "snapshots")
	if err := os.MkdirAll(snaps, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"etcd-snapshot-20260101T000000Z.db.part", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(snaps, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := &Scheduler{Dir: snaps, Retention: 2, Source: storage.NewEtcd(c)}
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for i := range 4 {
		put(t, c, "/keel/x")
		path, info, err := s.Take(context.Background(), start.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Check(path); err != nil || info.Size == 0 {
			t.Fatalf("snapshot %d: %+v, %v", i, info, err)
		}
	}
	var names []string
	entries, _ := os.ReadDir(snaps)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"etcd-snapshot-20261207T020000Z.db", "etcd-snapshot-20261207T030000Z.db", "notes.txt"}
	if !slices.Equal(names, want) {
		t.Errorf("snapshots dir holds %v, want %v", names, want)
	}
}

// TestRun: the scheduler takes snapshots at the schedule's times, keeps
// Retention of them, records its success, and stops with its context.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	_, c := startMember(t, filepath.Join(dir, "etcd"))
	sched, err := ParseSchedule("@every 1s")
	if err != nil {
		t.Fatal(err)
	}
	snaps := filepath.Join(dir, "snapshots")
	s := &Scheduler{Schedule: sched, Dir: snaps, Retention: 1, Source: storage.NewEtcd(c), Logger: zap.NewNop()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	start := time.Now()
	testutil.Eventually(t, 30*time.Second, "two scheduled snapshots, one kept", func() error {
		files, _ := filepath.Glob(filepath.Join(snaps, Prefix+"*"+Suffix))
		if len(files) != 1 || promtestutil.ToFloat64(lastSuccess) < float64(start.Unix()+1) {
			return fmt.Errorf("snapshots %v, last success at %v", files, promtestutil.ToFloat64(lastSuccess))
		}
		return nil
	})
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if n := promtestutil.ToFloat64(failures); n != 0 {
		t.Errorf("%v failures", n)
	}
}
