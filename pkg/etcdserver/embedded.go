// Package etcdserver runs an embedded single-member etcd, the apiserver's
// default store on a single machine (and every integration test's).
//
// The apiserver calls the member in process (Server.Client). Its client
// listener is for etcdctl (backups, inspection), and is authenticated either
// way it can be configured: by default a unix socket inside the data
// directory, which etcd keeps mode 0700, so that only who may read the data
// files may talk to the member; or an https:// URL, where the member
// presents its serving certificate and admits only clients whose
// certificate chains to the trusted CA (the TLS handshake fails without
// one). Plain http:// is refused.
//
// A single member never talks to peers, so it opens no peer listener at all:
// its membership record names AdvertisedPeerURL, on which nothing listens.
package etcdserver

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"

	"keel.dev/keel/pkg/pki"
)

// AdvertisedPeerURL is the peer URL in the member's membership record. No
// listener serves it (a single member has no peers); it is the URL earlier
// Keel versions listened on, so that data directories they made keep a
// consistent record.
const AdvertisedPeerURL = "http://127.0.0.1:2380"

// Options configure the embedded member.
type Options struct {
	// DataDir holds the member's WAL and snapshots; it persists across restarts.
	DataDir string
	// ClientURL is where the member serves clients: "" is the unix socket
	// DefaultSocket(DataDir); unix:///PATH another socket; https://HOST:PORT
	// TLS with client certificates, which needs ClientTLS (port 0 picks a
	// free port, see Server.Endpoint). http:// is refused.
	ClientURL string
	// ClientTLS is the member's serving certificate and the CA that signs
	// its clients' certificates, for an https:// ClientURL (and only for
	// one).
	ClientTLS TLSFiles
	// Logger receives etcd's logs; nil discards them.
	Logger *zap.Logger
	// UnsafeNoFsync skips fsync: for tests and benchmarks that do not survive
	// a power loss, never for real clusters.
	UnsafeNoFsync bool
}

// TLSFiles name the PEM files of a TLS listener that authenticates its
// clients by certificate (etcd's --cert-file, --key-file,
// --trusted-ca-file).
type TLSFiles struct {
	CertFile, KeyFile, TrustedCAFile string
}

// ServingFiles are the member's files among those `keelctl pki init` (pki.Init)
// writes in pkiDir: etcd/server.crt and its key, trusting etcd/ca.crt.
func ServingFiles(pkiDir string) TLSFiles {
	etcdDir := filepath.Join(pkiDir, pki.EtcdDir)
	return TLSFiles{
		CertFile:      pki.CertPath(etcdDir, pki.EtcdServerName),
		KeyFile:       pki.KeyPath(etcdDir, pki.EtcdServerName),
		TrustedCAFile: pki.CertPath(etcdDir, pki.EtcdCAName),
	}
}

func (f TLSFiles) empty() bool { return f == TLSFiles{} }

// Check reads the three files and checks that they make a TLS server that
// authenticates clients: all three given, the key matching the
// certificate, the CA file holding certificates. Errors name the file.
func (f TLSFiles) Check() error {
	switch {
	case f.CertFile == "":
		return errors.New("no serving certificate file")
	case f.KeyFile == "":
		return errors.New("no key file")
	case f.TrustedCAFile == "":
		return errors.New("no trusted CA file (the CA of the clients' certificates)")
	}
	_, err := pki.ServerTLSConfig(f.CertFile, f.KeyFile, f.TrustedCAFile)
	return err
}

// Server is a running embedded etcd member.
type Server struct {
	etcd *embed.Etcd
	// Endpoint is the client URL actually listened on (unix:///PATH for a
	// socket, https://HOST:PORT), for clientv3 and etcdctl --endpoints.
	Endpoint string
}

// DefaultSocket is the client socket of a member whose data directory is
// dataDir.
func DefaultSocket(dataDir string) string { return filepath.Join(dataDir, "etcd.sock") }

// Start starts the member and waits until it serves clients. Bad options
// (an http:// or relative URL, TLS files missing, unreadable or not
// matching) fail before anything is written.
func Start(o Options) (*Server, error) {
	if o.ClientURL == "" {
		o.ClientURL = "unix://" + DefaultSocket(o.DataDir)
	}
	cu, err := url.Parse(o.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("etcd client URL: %w", err)
	}
	pu, err := url.Parse(AdvertisedPeerURL)
	if err != nil {
		panic(err)
	}
	cfg := embed.NewConfig()
	switch cu.Scheme {
	case "unix":
		if !filepath.IsAbs(cu.Path) || cu.Host != "" {
			return nil, fmt.Errorf("etcd client URL %q: want unix:///ABSOLUTE/PATH", o.ClientURL)
		}
		if !o.ClientTLS.empty() {
			return nil, fmt.Errorf("etcd client URL %q: TLS files are for an https:// URL; a unix socket is guarded by its directory's mode", o.ClientURL)
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
	case "https":
		if cu.Host == "" {
			return nil, fmt.Errorf("etcd client URL %q: want https://HOST:PORT", o.ClientURL)
		}
		if err := o.ClientTLS.Check(); err != nil {
			return nil, fmt.Errorf("etcd client URL %q: %w", o.ClientURL, err)
		}
		// A trusted CA makes etcd's listener require a client certificate
		// that verifies against it (tls.RequireAndVerifyClientCert), as
		// --client-cert-auth does; TestTLSMemberRequiresEtcdClientCertificate
		// holds etcd to that. ClientCertAuth itself is left off: beyond the
		// handshake it only makes etcd take a certificate's CN as an etcd
		// user, and it would do so for in-process calls too, reading the
		// gRPC peer of the apiserver's own caller from the request context
		// (a keel user named like an etcd user, or a panic for the
		// plain-text loopback listener).
		cfg.ClientTLSInfo = transport.TLSInfo{
			CertFile:      o.ClientTLS.CertFile,
			KeyFile:       o.ClientTLS.KeyFile,
			TrustedCAFile: o.ClientTLS.TrustedCAFile,
		}
	default:
		return nil, fmt.Errorf("etcd client URL %q: want unix:///PATH or https://HOST:PORT (plain http:// would let anyone who reaches it read and write every object)", o.ClientURL)
	}
	cfg.Name = "keel"
	cfg.Dir = o.DataDir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = nil, []url.URL{*pu}
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
	endpoint := "https://" + e.Clients[0].Addr().String()
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
