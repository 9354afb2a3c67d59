// Package testserver starts real embedded etcd members and real apiservers
// in-process, for integration tests and benchmarks; an apiserver is served
// as keel-apiserver serves it (app.Serve). Everything listens on
// loopback ports chosen by the kernel, and is stopped by t.Cleanup.
package testserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	keelapi "keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/admission"
	"keel.dev/keel/pkg/apiserver/app"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/etcdserver"
	"keel.dev/keel/pkg/scheme"
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

// APIServer is a running apiserver. It can be stopped and started again on
// the same address.
type APIServer struct {
	// Addr is the address it serves: plain-text gRPC on loopback, or, when
	// Options.TLS is set, gRPC and HTTPS (/metrics…) over TLS, as
	// keel-apiserver's --secure-address.
	Addr string
	// HealthAddr serves plain-HTTP health as keel-apiserver's
	// --http-address (with Options.TLS only).
	HealthAddr string
	Server     *apiserver.Server
	// Conn and API are a plain-text client connection (nil with TLS).
	Conn *grpc.ClientConn
	API  apiv1.APIClient
	Etcd *clientv3.Client

	t        testing.TB
	endpoint string
	// member, when set, is reached through its in-process client (as
	// keel-apiserver reaches its embedded etcd) instead of endpoint.
	member *Etcd
	opts   Options
	stop   func()
}

// Options configure an apiserver.
type Options struct {
	// Configure, if not nil, adjusts the Config before the server is built.
	Configure func(*apiserver.Config)
	// TLS, if not nil, serves TLS with this config instead of the
	// plain-text loopback listener.
	TLS *tls.Config
}

// Start starts an apiserver on the etcd at endpoint. configure, if not nil,
// adjusts the Config before the server is built.
func Start(t testing.TB, endpoint string, configure func(*apiserver.Config)) *APIServer {
	t.Helper()
	return StartWith(t, endpoint, Options{Configure: configure})
}

// StartWith starts an apiserver on the etcd at endpoint with options.
func StartWith(t testing.TB, endpoint string, o Options) *APIServer {
	t.Helper()
	a := &APIServer{Addr: "127.0.0.1:0", t: t, endpoint: endpoint, opts: o}
	a.Start()
	t.Cleanup(a.Stop)
	return a
}

// Start starts the apiserver, again on the same address after a Stop.
func (a *APIServer) Start() {
	t := a.t
	t.Helper()
	var client *clientv3.Client
	if a.member != nil {
		client = a.member.server.Client()
	} else {
		var err error
		if client, err = storage.Dial([]string{a.endpoint}, nil, nil); err != nil {
			t.Fatalf("etcd client: %v", err)
		}
	}
	cfg := apiserver.Config{Store: storage.NewEtcd(client), Logger: logger(t), BookmarkInterval: time.Second}
	if a.opts.Configure != nil {
		a.opts.Configure(&cfg)
	}
	srv, err := apiserver.New(cfg)
	if err != nil {
		t.Fatalf("apiserver: %v", err)
	}
	l, err := listen(a.Addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", a.Addr, err)
	}
	ls := app.Listeners{Secure: l, TLS: a.opts.TLS}
	if a.opts.TLS == nil {
		if ls.Insecure, err = auth.InsecureLoopbackListener(l); err != nil {
			t.Fatal(err)
		}
		ls.Secure = nil
	} else {
		if a.HealthAddr == "" {
			a.HealthAddr = "127.0.0.1:0"
		}
		if ls.Health, err = listen(a.HealthAddr); err != nil {
			l.Close()
			t.Fatalf("listen on %s: %v", a.HealthAddr, err)
		}
		a.HealthAddr = ls.Health.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	api, err := app.Serve(ctx, srv, ls, logger(t))
	if err != nil {
		cancel()
		t.Fatalf("apiserver start: %v", err)
	}
	a.Addr, a.Server, a.Etcd = l.Addr().String(), srv, client
	saCtx, saCancel := context.WithTimeout(ctx, 30*time.Second)
	err = DefaultServiceAccounts(saCtx, srv, admission.Immortal...)
	saCancel()
	if err != nil {
		api.Stop()
		cancel()
		t.Fatal(err)
	}
	a.Conn, a.API = nil, nil
	if a.opts.TLS == nil {
		conn, err := grpc.NewClient(a.Addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30), grpc.MaxCallSendMsgSize(64<<20)))
		if err != nil {
			t.Fatal(err)
		}
		a.Conn, a.API = conn, apiv1.NewAPIClient(conn)
	}
	a.stop = func() {
		if a.Conn != nil {
			a.Conn.Close()
		}
		api.Stop()
		cancel()
		<-srv.Stopped()
		client.Close()
	}
}

// listen binds addr, waiting a little for the port of a server that was
// just stopped to be free again.
func listen(addr string) (net.Listener, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return l, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the apiserver (not its etcd); safe to call twice.
func (a *APIServer) Stop() {
	if a.stop != nil {
		a.stop()
		a.stop = nil
	}
}

// StartAll starts an etcd and one apiserver on it, which reaches it in
// process, as keel-apiserver does its embedded etcd.
func StartAll(t testing.TB, configure func(*apiserver.Config)) (*Etcd, *APIServer) {
	t.Helper()
	e := StartEtcd(t)
	a := &APIServer{Addr: "127.0.0.1:0", t: t, endpoint: e.Endpoint, member: e, opts: Options{Configure: configure}}
	a.Start()
	t.Cleanup(a.Stop)
	return e, a
}

// DefaultServiceAccounts creates, as the cluster's administrator, the
// ServiceAccount "default" in each namespace that lacks it, as the service
// account controller would (a test server runs no controller): the
// ServiceAccount admission plugin refuses pods until it exists. Start does
// it for the namespaces every cluster has; a test that creates a namespace
// and then pods in it calls it for that namespace.
func DefaultServiceAccounts(ctx context.Context, srv *apiserver.Server, namespaces ...string) error {
	ctx = auth.WithUser(ctx, auth.User{Name: "testserver", Groups: []string{auth.GroupMasters, auth.GroupAuthenticated}})
	for _, ns := range namespaces {
		sa, err := scheme.Pack(&corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: keelapi.DefaultServiceAccountName, Namespace: ns}})
		if err != nil {
			return err
		}
		if _, err := srv.Create(ctx, &apiv1.CreateRequest{Resource: "serviceaccounts", Namespace: ns, Object: sa}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the default service account of namespace %s: %w", ns, err)
		}
	}
	return nil
}

func logger(t testing.TB) *zap.Logger {
	if testing.Verbose() {
		return zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	return zap.NewNop()
}
