package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"keel.dev/keel/pkg/storage"
)

var (
	lastSuccess = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "keel_etcd_snapshot_last_success_timestamp_seconds",
		Help: "Unix time at which the last scheduled etcd snapshot was saved (0: none yet).",
	})
	failures = promauto.NewCounter(prometheus.CounterOpts{
		Name: "keel_etcd_snapshot_failures_total",
		Help: "Scheduled etcd snapshots that failed.",
	})
	lastSize = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "keel_etcd_snapshot_last_size_bytes",
		Help: "Size of the last scheduled etcd snapshot saved.",
	})
)

// File names of scheduled snapshots: Prefix, the UTC time of the
// snapshot in TimeFormat, Suffix. Their names sort as their times do.
const (
	Prefix     = "etcd-snapshot-"
	Suffix     = ".db"
	TimeFormat = "20060102T150405Z"
)

// ParseSchedule parses a cron schedule in robfig/cron's standard syntax:
// five fields (minute hour day-of-month month day-of-week, in the local
// time zone unless prefixed CRON_TZ=ZONE) or a descriptor (@hourly,
// @daily, @every 6h, …).
func ParseSchedule(spec string) (cron.Schedule, error) {
	return cron.ParseStandard(spec)
}

// Scheduler takes snapshots on a schedule into a directory and keeps the
// newest Retention of them.
type Scheduler struct {
	Schedule  cron.Schedule
	Dir       string
	Retention int
	Source    storage.Snapshotter
	Logger    *zap.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Run takes a snapshot at each time of the schedule until ctx ends. A
// failed snapshot is logged and counted in
// keel_etcd_snapshot_failures_total (one cut short by ctx ending is
// not); the next comes at its time. Run is the only writer of Dir.
func (s *Scheduler) Run(ctx context.Context) {
	now := s.Now
	if now == nil {
		now = time.Now
	}
	for {
		next := s.Schedule.Next(now())
		t := time.NewTimer(next.Sub(now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		path, info, err := s.Take(ctx, next)
		switch {
		case ctx.Err() != nil:
			return // stopping: not a failure
		case err != nil:
			failures.Inc()
			s.Logger.Error("scheduled etcd snapshot failed", zap.Error(err))
		default:
			lastSuccess.Set(float64(now().UnixNano()) / 1e9)
			lastSize.Set(float64(info.Size))
			s.Logger.Info("scheduled etcd snapshot saved", zap.String("path", path), zap.Int64("bytes", info.Size), zap.Int64("revision", info.Revision))
		}
	}
}

// Take saves one snapshot named for at into Dir, then prunes Dir to the
// newest Retention snapshots.
func (s *Scheduler) Take(ctx context.Context, at time.Time) (string, Info, error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return "", Info{}, err
	}
	path := filepath.Join(s.Dir, Prefix+at.UTC().Format(TimeFormat)+Suffix)
	info, err := Save(ctx, s.Source, path)
	if err != nil {
		return "", Info{}, err
	}
	return path, info, Prune(s.Dir, s.Retention)
}

// Prune removes from dir all but the newest keep scheduled snapshots, by
// the time in their names, and the .part files of snapshots that were
// never finished. Other files are left alone.
func Prune(dir string, keep int) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var snaps []string
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, Prefix) || e.IsDir() {
			continue
		}
		switch {
		case strings.HasSuffix(name, Suffix):
			snaps = append(snaps, name)
		case strings.HasSuffix(name, Suffix+".part"):
			errs = append(errs, os.Remove(filepath.Join(dir, name)))
		}
	}
	slices.Sort(snaps)
	for len(snaps) > keep {
		errs = append(errs, os.Remove(filepath.Join(dir, snaps[0])))
		snaps = snaps[1:]
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pruning etcd snapshots in %s: %w", dir, err)
	}
	return nil
}
