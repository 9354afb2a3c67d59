// Package snapshot takes, checks and restores etcd snapshots, and takes
// them on a schedule (Schedule). Beside pkg/storage and pkg/etcdserver it
// is the one package that imports etcd: restoring builds a member's data
// directory with etcd's own code (etcdutl), so it runs inside
// keel-apiserver, which carries etcd already, and never in keelctl.
package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"

	"keel.dev/keel/pkg/etcdserver"
	"keel.dev/keel/pkg/snapshotfile"
	"keel.dev/keel/pkg/storage"
)

// Info describes a snapshot file.
type Info struct {
	// Size is the file's size in bytes, the trailing sha256 included.
	Size int64
	// Revision is the etcd revision the snapshot holds: the
	// resourceVersion of the newest object in it.
	Revision int64
	// Keys is the number of live keys in it.
	Keys int
}

// Check verifies the snapshot file at path: its trailing sha256 (see
// snapshotfile.Verify), then the database's own integrity (every bbolt
// page reachable and consistent), and reads its revision. Its errors name
// path and wrap snapshotfile.ErrCorrupt when the file is no whole,
// consistent snapshot.
func Check(path string) (Info, error) {
	size, err := snapshotfile.Verify(path)
	if err != nil {
		return Info{}, err
	}
	st, err := snapshot.NewV3(zap.NewNop()).Status(path)
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w: %v", path, snapshotfile.ErrCorrupt, err)
	}
	return Info{Size: size, Revision: st.Revision, Keys: st.TotalKey}, nil
}

// Save takes a snapshot from src and writes it to path atomically (see
// snapshotfile.Write), checked with Check before it takes path's name.
func Save(ctx context.Context, src storage.Snapshotter, path string) (Info, error) {
	r, err := src.Snapshot(ctx)
	if err != nil {
		return Info{}, fmt.Errorf("taking an etcd snapshot: %w", err)
	}
	defer r.Close()
	var info Info
	_, err = snapshotfile.Write(r, path, func(part string) (err error) {
		info, err = Check(part)
		return err
	})
	if err != nil {
		return Info{}, err
	}
	return info, nil
}

// DefaultMemberName, DefaultPeerURL and DefaultClusterToken are the
// embedded member's (see pkg/etcdserver): what RestoreOptions default to,
// so that a restored directory serves keel-apiserver --data-dir as it is.
const (
	DefaultMemberName   = "keel"
	DefaultPeerURL      = etcdserver.AdvertisedPeerURL
	DefaultClusterToken = "etcd-cluster"
)

// RestoreOptions say what member of what new cluster a restored data
// directory belongs to, with etcd's flag names.
type RestoreOptions struct {
	// Snapshot is the snapshot file. Required.
	Snapshot string
	// DataDir is the new member's data directory; it must not exist or be
	// empty. Required.
	DataDir string
	// Name is the member's name (--name; default DefaultMemberName).
	Name string
	// InitialAdvertisePeerURLs are the member's peer URLs
	// (--initial-advertise-peer-urls; default DefaultPeerURL).
	InitialAdvertisePeerURLs []string
	// InitialCluster lists every member of the new cluster as
	// NAME=PEER-URL,… (--initial-cluster; default Name with
	// InitialAdvertisePeerURLs: a single member).
	InitialCluster string
	// InitialClusterToken names the new cluster (--initial-cluster-token;
	// default DefaultClusterToken); every member is restored with the same.
	InitialClusterToken string
	// BumpRevision raises the restored revision by this much, and
	// MarkCompacted marks everything up to it compacted, so that
	// resourceVersions never go back and watchers resuming from an old
	// one are told to relist (etcdutl's --bump-revision,
	// --mark-compacted; they go together).
	BumpRevision  uint64
	MarkCompacted bool
	// Logger receives etcd's logs of the restore; nil discards them.
	Logger *zap.Logger
}

// Restore builds a new member data directory from a snapshot. It checks
// the snapshot (Check) and the options first, and refuses a DataDir that
// is not empty; it restores into a new directory beside DataDir and
// renames it into place only once complete, so that a failed restore
// leaves nothing behind. It returns the snapshot's Info.
func Restore(o RestoreOptions) (Info, error) {
	if o.Snapshot == "" || o.DataDir == "" {
		return Info{}, errors.New("restore needs a snapshot file and a data directory")
	}
	if o.Name == "" {
		o.Name = DefaultMemberName
	}
	if len(o.InitialAdvertisePeerURLs) == 0 {
		o.InitialAdvertisePeerURLs = []string{DefaultPeerURL}
	}
	for _, u := range o.InitialAdvertisePeerURLs {
		if pu, err := url.Parse(u); err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https") {
			return Info{}, fmt.Errorf("--initial-advertise-peer-urls %q: want http(s)://HOST:PORT", u)
		}
	}
	if o.InitialCluster == "" {
		var members []string
		for _, u := range o.InitialAdvertisePeerURLs {
			members = append(members, o.Name+"="+u)
		}
		o.InitialCluster = strings.Join(members, ",")
	}
	if o.InitialClusterToken == "" {
		o.InitialClusterToken = DefaultClusterToken
	}
	if (o.BumpRevision > 0) != o.MarkCompacted {
		return Info{}, errors.New("--bump-revision and --mark-compacted go together")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	info, err := Check(o.Snapshot)
	if err != nil {
		return Info{}, err
	}
	if err := emptyOrAbsent(o.DataDir); err != nil {
		return Info{}, err
	}
	parent := filepath.Dir(filepath.Clean(o.DataDir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return Info{}, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(o.DataDir)+".restore-")
	if err != nil {
		return Info{}, err
	}
	defer os.RemoveAll(tmp) // empty once renamed
	out := filepath.Join(tmp, "member-data")
	err = snapshot.NewV3(o.Logger).Restore(snapshot.RestoreConfig{
		SnapshotPath:        o.Snapshot,
		Name:                o.Name,
		OutputDataDir:       out,
		PeerURLs:            o.InitialAdvertisePeerURLs,
		InitialCluster:      o.InitialCluster,
		InitialClusterToken: o.InitialClusterToken,
		RevisionBump:        o.BumpRevision,
		MarkCompacted:       o.MarkCompacted,
	})
	if err != nil {
		return Info{}, fmt.Errorf("restoring %s: %w", o.Snapshot, err)
	}
	if err := os.Chmod(out, 0o700); err != nil {
		return Info{}, err
	}
	// An empty DataDir gives way to the restored one.
	if err := os.Remove(o.DataDir); err != nil && !os.IsNotExist(err) {
		return Info{}, err
	}
	if err := os.Rename(out, o.DataDir); err != nil {
		return Info{}, err
	}
	return info, nil
}

// emptyOrAbsent refuses a data directory that holds anything.
func emptyOrAbsent(dir string) error {
	f, err := os.Open(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err == io.EOF {
		return nil
	} else if err != nil {
		return fmt.Errorf("data directory %s: %w", dir, err)
	}
	return fmt.Errorf("data directory %s is not empty: restore builds a new one, it never overwrites a member's data", dir)
}
