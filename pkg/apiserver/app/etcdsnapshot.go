package app

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"keel.dev/keel/pkg/daemon"
	"keel.dev/keel/pkg/etcdserver/snapshot"
)

// snapshotScheduler is the scheduler of --etcd-snapshot-schedule-cron
// (nil when it is empty), without its Source: the flags checked before
// anything starts.
func snapshotScheduler(o *options, log *zap.Logger) (*snapshot.Scheduler, error) {
	if o.snapshotCron == "" {
		return nil, nil
	}
	sched, err := snapshot.ParseSchedule(o.snapshotCron)
	if err != nil {
		return nil, fmt.Errorf("--etcd-snapshot-schedule-cron %q: %w", o.snapshotCron, err)
	}
	if len(o.etcdServers) > 0 {
		return nil, errors.New("--etcd-snapshot-schedule-cron snapshots the embedded etcd: with --etcd-servers, schedule keelctl etcd snapshot save (or etcd's own tools) instead")
	}
	if o.snapshotRetention < 1 {
		return nil, fmt.Errorf("--etcd-snapshot-retention %d: keep at least 1", o.snapshotRetention)
	}
	dir := o.snapshotDir
	if dir == "" {
		dir = filepath.Clean(o.dataDir) + "-snapshots"
	}
	log.Info("scheduled etcd snapshots", zap.String("schedule", o.snapshotCron), zap.String("dir", dir), zap.Int("retention", o.snapshotRetention))
	return &snapshot.Scheduler{Schedule: sched, Dir: dir, Retention: o.snapshotRetention, Logger: log}, nil
}

// DefaultBumpRevision is how far keel-apiserver etcd-snapshot restore
// moves revisions on by default: more than a cluster writes between two
// snapshots, as Kubernetes' restore guide suggests for etcdutl.
const DefaultBumpRevision = 1_000_000_000

// newEtcdSnapshotCommand is `keel-apiserver etcd-snapshot`: restoring
// and checking snapshot files, with etcd's code, which this binary
// carries anyway (keelctl does not).
func newEtcdSnapshotCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "etcd-snapshot",
		Short: "Restore and check etcd snapshots (keelctl etcd snapshot save takes them)",
	}
	var o snapshot.RestoreOptions
	var logLevel string
	restore := &cobra.Command{
		Use:   "restore FILE --data-dir DIR",
		Short: "Build a new etcd member data directory from a snapshot",
		Long: `Build a new etcd member data directory from a snapshot, as etcdutl snapshot
restore does. Without cluster flags the directory is the embedded etcd's of
keel-apiserver --data-dir DIR. For a new multi-member cluster, run it once per
member with that member's --name and --initial-advertise-peer-urls, and the same
--initial-cluster and --initial-cluster-token. The snapshot is checked first; a
data directory that is not empty is refused. Revisions are moved on by
--bump-revision and the old ones marked compacted, so that resourceVersions
never go back and clients that watched before the restore relist.`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := daemon.NewLogger(logLevel)
			if err != nil {
				return err
			}
			o.Snapshot, o.Logger = args[0], log
			if o.DataDir == "" {
				return errors.New("--data-dir is required")
			}
			info, err := snapshot.Restore(o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s (revision %d, %d keys) into %s as member %s\n", o.Snapshot, info.Revision, info.Keys, o.DataDir, o.Name)
			return nil
		},
	}
	f := restore.Flags()
	f.StringVar(&o.DataDir, "data-dir", "", "the new member's data directory: absent or empty (required)")
	f.StringVar(&o.Name, "name", snapshot.DefaultMemberName, "the member's name")
	f.StringSliceVar(&o.InitialAdvertisePeerURLs, "initial-advertise-peer-urls", []string{snapshot.DefaultPeerURL}, "the member's peer URLs")
	f.StringVar(&o.InitialCluster, "initial-cluster", "", "every member of the new cluster, NAME=PEER-URL,... (default: this member alone)")
	f.StringVar(&o.InitialClusterToken, "initial-cluster-token", snapshot.DefaultClusterToken, "the new cluster's token, the same for every member")
	f.Uint64Var(&o.BumpRevision, "bump-revision", DefaultBumpRevision, "raise the restored revision by this much, past any resourceVersion a client saw before the restore (with --mark-compacted; 0 with --mark-compacted=false: keep the snapshot's revisions)")
	f.BoolVar(&o.MarkCompacted, "mark-compacted", true, "mark the restored revisions compacted, so that watches resuming from a resourceVersion of before the restore are told to relist (with --bump-revision)")
	f.StringVar(&logLevel, "log-level", "warn", "debug, info, warn or error")
	status := &cobra.Command{
		Use:           "status FILE",
		Short:         "Check a snapshot file and print its size, revision and number of keys",
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := snapshot.Check(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d bytes, revision %d, %d keys\n", args[0], info.Size, info.Revision, info.Keys)
			return nil
		},
	}
	cmd.AddCommand(restore, status)
	return cmd
}
