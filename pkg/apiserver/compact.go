package apiserver

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"keel.dev/keel/pkg/storage"
)

// RunCompactor discards etcd history older than one interval, every
// interval, until ctx ends. Watch caches keep their own window, so watchers
// are unaffected; paginated Lists whose snapshot is older than an interval
// get Expired. Several apiservers may run it: compacting to a revision that
// is already compacted is a no-op.
func RunCompactor(ctx context.Context, store storage.Interface, interval time.Duration, log *zap.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var prev int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur, err := store.Revision(ctx)
		if err != nil {
			log.Warn("compaction: reading revision", zap.Error(err))
			continue
		}
		if prev > 0 {
			if err := store.Compact(ctx, prev); err != nil && !errors.Is(err, storage.ErrCompacted) {
				log.Warn("compaction failed", zap.Int64("revision", prev), zap.Error(err))
			} else {
				log.Debug("compacted etcd", zap.Int64("revision", prev))
			}
		}
		prev = cur
	}
}
