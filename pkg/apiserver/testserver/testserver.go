// Package testserver starts real embedded etcd members and real apiservers
// in-process, for integration tests and benchmarks. Everything listens on
// loopback ports chosen by the kernel, and is stopped by t.Cleanup.
package testserver

import (
	"context"
	"net"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/etcdserver"
	"keel.dev/keel/pkg/storage"
)

// Etcd is a running embedded etcd member.
type Etcd struct {
	Endpoint string
	DataDir  string
	server   *etcdserver.Server
}

// StartEtcd starts an embedded etcd in a fresh temporary directory (no
// fsync: test data need not survive a power loss).
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	return StartEtcdIn(t, t.TempDir())
}

// StartEtcdIn starts an embedded etcd on dataDir, e.g. to restart a member
// on the data of one stopped with Stop.
func StartEtcdIn(t testing.TB, dataDir string) *Etcd {
	t.Helper()
	s, err := etcdserver.Start(etcdserver.Options{
		DataDir:       dataDir,
		ClientURL:     "http://127.0.0.1:0",
		PeerURL:       "http://127.0.0.1:0",
		UnsafeNoFsync: true,
	})
	if err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	e := &Etcd{Endpoint: s.Endpoint, DataDir: dataDir, server: s}
	t.Cleanup(e.Stop)
	return e
}

// Stop stops the member; safe to call twice.
func (e *Etcd) Stop() {
	if e.server != nil {
		e.server.Close()
		e.server = nil
	}
}

// APIServer is a running apiserver with a client connection to it.
type APIServer struct {
	// Addr is the plain-text loopback address it serves.
	Addr   string
	Server *apiserver.Server
	Conn   *grpc.ClientConn
	API    apiv1.APIClient
	Etcd   *clientv3.Client
	stop   func()
}

// Start starts an apiserver on the etcd at endpoint. configure, if not nil,
// adjusts the Config before the server is built.
func Start(t testing.TB, endpoint string, configure func(*apiserver.Config)) *APIServer {
	t.Helper()
	client, err := storage.Dial([]string{endpoint})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	cfg := apiserver.Config{Store: storage.NewEtcd(client), Logger: logger(t), BookmarkInterval: time.Second}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := apiserver.New(cfg)
	if err != nil {
		t.Fatalf("apiserver: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		t.Fatalf("apiserver start: %v", err)
	}
	g := grpc.NewServer(append(srv.ServerOptions(), grpc.Creds(auth.ServerCredentials(nil)))...)
	srv.Register(g)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ll, err := auth.InsecureLoopbackListener(l)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(ll) }()
	conn, err := grpc.NewClient(ll.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	a := &APIServer{Addr: ll.Addr().String(), Server: srv, Conn: conn, API: apiv1.NewAPIClient(conn), Etcd: client}
	stopped := false
	a.stop = func() {
		if stopped {
			return
		}
		stopped = true
		conn.Close()
		g.Stop()
		cancel()
		client.Close()
	}
	t.Cleanup(a.Stop)
	return a
}

// Stop stops the apiserver (not its etcd); safe to call twice.
func (a *APIServer) Stop() { a.stop() }

// StartAll starts an etcd and one apiserver on it.
func StartAll(t testing.TB, configure func(*apiserver.Config)) (*Etcd, *APIServer) {
	t.Helper()
	e := StartEtcd(t)
	return e, Start(t, e.Endpoint, configure)
}

func logger(t testing.TB) *zap.Logger {
	if testing.Verbose() {
		return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	return zap.NewNop()
}
