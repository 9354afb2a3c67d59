// Package etcdserver runs an embedded single-member etcd, the apiserver's
// default store on a single machine (and every integration test's).
//
// The apiserver calls the member in process (Server.Client). Its client
// listener is for etcdctl (backups, inspection): by default a unix socket
// inside the data directory, which etcd keeps mode 0700, so that only who
// may read the data files may talk to the member. A TCP client URL serves
// anyone who can reach it without authentication: tests only, until etcd
// TLS.
package etcdserver

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
)

// Options configure the embedded member.
type Options struct {
	// DataDir holds the member's WAL and snapshots; it persists across restarts.
	DataDir string
	// ClientURL is where the member serves clients: "" is the unix socket
	// DefaultSocket(DataDir); unix:///PATH another socket; http://HOST:PORT
	// plain TCP (port 0 picks a free port, see Server.Endpoint).
	ClientURL string
	// PeerURL is where the member serves peers; port 0 picks a free port.
	PeerURL string
	// Logger receives etcd's logs; nil discards them.
	Logger *zap.Logger
	// UnsafeNoFsync skips fsync: for tests and benchmarks that do not survive
	// a power loss, never for real clusters.
	UnsafeNoFsync bool
}

// Server is a running embedded etcd member.
type Server struct {
	etcd *embed.Etcd
	// Endpoint is the client URL actually listened on (unix:///PATH for a
	// socket), for clientv3 and etcdctl --endpoints.
	Endpoint string
}

// DefaultSocket is the client socket of a member whose data directory is
// dataDir.
func DefaultSocket(dataDir string) string { return filepath.Join(dataDir, "etcd.sock") }

// Start starts the member and waits until it serves clients.
func Start(o Options) (*Server, error) {
	cfg := embed.NewConfig()
	cfg.Name = "keel"
	cfg.Dir = o.DataDir
	if o.ClientURL == "" {
		o.ClientURL = "unix://" + DefaultSocket(o.DataDir)
	}
	if o.PeerURL == "" {
		o.PeerURL = "http://127.0.0.1:2380"
	}
	cu, err := url.Parse(o.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("etcd client URL: %w", err)
	}
	pu, err := url.Parse(o.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("etcd peer URL: %w", err)
	}
	if cu.Scheme == "unix" {
		if !filepath.IsAbs(cu.Path) || cu.Host != "" {
			return nil, fmt.Errorf("etcd client URL %q: want unix:///ABSOLUTE/PATH", o.ClientURL)
		}
		// The socket's directory must exist before etcd binds it; the data
		// directory is etcd's own, so make it with the mode etcd wants.
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("etcd data directory: %w", err)
		}
		// A socket left by a member that did not close cleanly.
		if err := os.Remove(cu.Path); err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("etcd client socket: %w", err)
		}
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = o.UnsafeNoFsync
	// The apiserver asks for progress notifications itself when it needs them.
	cfg.WatchProgressNotifyInterval = 5 * time.Second
	// Keel's objects are capped at 1.5 MiB; leave room for the txn around them.
	cfg.MaxRequestBytes = 3 << 20
	cfg.QuotaBackendBytes = 8 << 30
	if o.Logger != nil {
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(o.Logger.Named("etcd"))
	} else {
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd did not become ready within 60s")
	}
	endpoint := "http://" + e.Clients[0].Addr().String()
	if cu.Scheme == "unix" {
		endpoint = "unix://" + cu.Path
	}
	return &Server{etcd: e, Endpoint: endpoint}, nil
}

// Client returns a client that calls the member in process: requests and
// watches are function calls, with no gRPC framing, encoding or socket in
// between. The caller closes it before Close.
func (s *Server) Client() *clientv3.Client { return v3client.New(s.etcd.Server) }

// Close stops the member.
func (s *Server) Close() { s.etcd.Close() }
