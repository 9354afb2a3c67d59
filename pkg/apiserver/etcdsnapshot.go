package apiserver

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"go.uber.org/zap"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/etcdserver/snapshot"
	"keel.dev/keel/pkg/snapshotfile"
)

// etcdSnapshotHandler answers GET snapshotfile.HTTPPath (authorized as
// get on that path, which of the bootstrap roles only cluster-admin,
// group system:masters, holds): it takes a snapshot
// from Config.EtcdSnapshot into a temporary file on this machine, checks
// it (sha256, database integrity) and reads its revision, then sends it
// with Content-Length and snapshotfile.RevisionHeader, so that the client can tell
// a whole snapshot from a cut one. The file is removed once sent. A
// snapshot that cannot be taken is 503 ServiceUnavailable.
func (s *Server) etcdSnapshotHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dir, err := os.MkdirTemp("", "keel-etcd-snapshot-")
		if err != nil {
			apierrors.WriteHTTP(w, apierrors.Internal("etcd snapshot: %v", err))
			return
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "snapshot.db")
		info, err := snapshot.Save(r.Context(), s.cfg.EtcdSnapshot, path)
		if err != nil {
			s.log.Error("etcd snapshot failed", zap.Error(err))
			apierrors.WriteHTTP(w, apierrors.Unavailable("etcd snapshot: %v", err))
			return
		}
		f, err := os.Open(path)
		if err != nil {
			apierrors.WriteHTTP(w, apierrors.Internal("etcd snapshot: %v", err))
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set(snapshotfile.RevisionHeader, strconv.FormatInt(info.Revision, 10))
		w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return
		}
		if _, err := f.WriteTo(w); err != nil {
			s.log.Warn("sending an etcd snapshot", zap.Error(err))
			return
		}
		s.log.Info("etcd snapshot sent", zap.Int64("bytes", info.Size), zap.Int64("revision", info.Revision))
	})
}
