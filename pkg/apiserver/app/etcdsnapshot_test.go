package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestSnapshotScheduleFlags(t *testing.T) {
	if s, err := snapshotScheduler(&options{snapshotRetention: 5}, zap.NewNop()); s != nil || err != nil {
		t.Errorf("no schedule: %v, %v; want no scheduler and no error", s, err)
	}
	s, err := snapshotScheduler(&options{snapshotCron: "@every 1h", snapshotRetention: 3, dataDir: "/var/lib/keel/etcd/"}, zap.NewNop())
	if err != nil || s.Dir != "/var/lib/keel/etcd-snapshots" || s.Retention != 3 {
		t.Errorf("@every 1h: %+v, %v; want dir /var/lib/keel/etcd-snapshots, retention 3", s, err)
	}
	for _, tt := range []struct {
		name string
		o    options
		want string
	}{
		{"a bad spec", options{snapshotCron: "every hour", snapshotRetention: 5}, `--etcd-snapshot-schedule-cron "every hour"`},
		{"six fields", options{snapshotCron: "0 0 */6 * * *", snapshotRetention: 5}, `--etcd-snapshot-schedule-cron "0 0 */6 * * *"`},
		{"no retention", options{snapshotCron: "@hourly"}, "--etcd-snapshot-retention 0"},
		{"external etcd", options{snapshotCron: "@hourly", snapshotRetention: 5, etcdServers: []string{"http://127.0.0.1:2379"}}, "--etcd-servers"},
	} {
		if _, err := snapshotScheduler(&tt.o, zap.NewNop()); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.want)
		}
	}

	// The daemon stops at start, before its etcd makes a data directory.
	dataDir := filepath.Join(t.TempDir(), "etcd")
	cmd := NewCommand()
	cmd.SetArgs([]string{"--secure-address=", "--insecure-address=127.0.0.1:0", "--http-address=", "--data-dir", dataDir, "--etcd-snapshot-schedule-cron", "*/5 * *"})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "--etcd-snapshot-schedule-cron") {
		t.Errorf("keel-apiserver with a bad schedule: %v", err)
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("a bad schedule made %s", dataDir)
	}
}
