package auth_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// recorder remembers the user that the handlers saw, by method kind.
type recorder struct {
	mu     sync.Mutex
	unary  []auth.User
	stream []auth.User
}

func (r *recorder) unaryInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	u, _ := auth.UserFrom(ctx)
	r.mu.Lock()
	r.unary = append(r.unary, u)
	r.mu.Unlock()
	return h(ctx, req)
}

func (r *recorder) streamInterceptor(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	u, _ := auth.UserFrom(ss.Context())
	r.mu.Lock()
	r.stream = append(r.stream, u)
	r.mu.Unlock()
	return h(srv, ss)
}

func (r *recorder) last() (unary, stream auth.User) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.unary) > 0 {
		unary = r.unary[len(r.unary)-1]
	}
	if len(r.stream) > 0 {
		stream = r.stream[len(r.stream)-1]
	}
	return unary, stream
}

type fixture struct {
	dir      string
	tlsAddr  string
	loopAddr string
	rec      *recorder
}

// startServer runs one grpc.Server with the health service, the
// authentication interceptors and a recorder behind them, serving a TLS
// listener (clientAuth as given) and an insecure loopback listener.
func startServer(t *testing.T, clientAuth tls.ClientAuthType) *fixture {
	t.Helper()
	dir := t.TempDir()
	if _, err := pki.Init(pki.InitOptions{Dir: dir, Hostname: "cp1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.IssueInDir(dir, "alice", pki.CertSpec{CommonName: "alice", Organization: []string{"dev", "ops"}, Client: true}); err != nil {
		t.Fatal(err)
	}
	cfg, err := pki.ServerTLSConfig(pki.CertPath(dir, pki.APIServerName), pki.KeyPath(dir, pki.APIServerName), pki.CertPath(dir, pki.CAName))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientAuth = clientAuth
	rec := &recorder{}
	srv := grpc.NewServer(
		grpc.Creds(auth.ServerCredentials(cfg)),
		grpc.ChainUnaryInterceptor((&auth.Authenticator{}).UnaryServerInterceptor(), rec.unaryInterceptor),
		grpc.ChainStreamInterceptor((&auth.Authenticator{}).StreamServerInterceptor(), rec.streamInterceptor),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())

	tlsL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rawLoop, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	loopL, err := auth.InsecureLoopbackListener(rawLoop)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(tlsL)
	go srv.Serve(loopL)
	t.Cleanup(srv.Stop)
	return &fixture{dir: dir, tlsAddr: tlsL.Addr().String(), loopAddr: rawLoop.Addr().String(), rec: rec}
}

func (f *fixture) tlsCreds(t *testing.T, pair string) credentials.TransportCredentials {
	t.Helper()
	certFile, keyFile := "", ""
	if pair != "" {
		certFile, keyFile = pki.CertPath(f.dir, pair), pki.KeyPath(f.dir, pair)
	}
	cfg, err := pki.ClientTLSConfig(pki.CertPath(f.dir, pki.CAName), certFile, keyFile, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	return credentials.NewTLS(cfg)
}

func dial(t *testing.T, addr string, creds credentials.TransportCredentials) healthpb.HealthClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

// call makes one unary Check and one streaming Watch (first message only).
func call(t *testing.T, c healthpb.HealthClient) (unaryErr, streamErr error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, unaryErr = c.Check(ctx, &healthpb.HealthCheckRequest{})
	w, err := c.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = w.Recv()
	}
	return unaryErr, err
}

func TestAuthenticatedUser(t *testing.T) {
	f := startServer(t, tls.VerifyClientCertIfGiven)
	tests := []struct {
		pair   string
		name   string
		groups []string
	}{
		{pki.AdminName, "admin", []string{"system:masters", "system:authenticated"}},
		{"alice", "alice", []string{"dev", "ops", "system:authenticated"}},
		{pki.SchedulerName, "system:kube-scheduler", []string{"system:authenticated"}},
	}
	for _, tt := range tests {
		t.Run(tt.pair, func(t *testing.T) {
			uErr, sErr := call(t, dial(t, f.tlsAddr, f.tlsCreds(t, tt.pair)))
			if uErr != nil || sErr != nil {
				t.Fatalf("unary err %v, stream err %v", uErr, sErr)
			}
			want := auth.User{Name: tt.name, Groups: tt.groups}
			u, s := f.rec.last()
			for kind, got := range map[string]auth.User{"unary": u, "stream": s} {
				if got.Name != want.Name || !slices.Equal(got.Groups, want.Groups) {
					t.Errorf("%s handler saw %+v, want %+v", kind, got, want)
				}
			}
		})
	}
}

func TestNoClientCertIsUnauthenticated(t *testing.T) {
	f := startServer(t, tls.VerifyClientCertIfGiven)
	uErr, sErr := call(t, dial(t, f.tlsAddr, f.tlsCreds(t, "")))
	for kind, err := range map[string]error{"unary": uErr, "stream": sErr} {
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: %v, want Unauthenticated", kind, err)
		}
	}
	if u, s := f.rec.last(); u.Name != "" || s.Name != "" {
		t.Errorf("a handler ran for an unauthenticated caller: %+v %+v", u, s)
	}
}

func TestUnverifiedClientCertIsUnauthenticated(t *testing.T) {
	// RequestClientCert asks for a certificate but does not verify it: a
	// certificate from another CA must not authenticate anybody.
	f := startServer(t, tls.RequestClientCert)
	other := t.TempDir()
	if _, err := pki.Init(pki.InitOptions{Dir: other, Hostname: "cp1"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := pki.ClientTLSConfig(pki.CertPath(f.dir, pki.CAName), pki.CertPath(other, pki.AdminName), pki.KeyPath(other, pki.AdminName), "localhost")
	if err != nil {
		t.Fatal(err)
	}
	uErr, sErr := call(t, dial(t, f.tlsAddr, credentials.NewTLS(cfg)))
	for kind, err := range map[string]error{"unary": uErr, "stream": sErr} {
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: %v, want Unauthenticated", kind, err)
		}
	}
}

func TestRequiredClientCertRefusedAtHandshake(t *testing.T) {
	f := startServer(t, tls.RequireAndVerifyClientCert)
	if uErr, _ := call(t, dial(t, f.tlsAddr, f.tlsCreds(t, pki.AdminName))); uErr != nil {
		t.Fatalf("admin: %v", uErr)
	}
	uErr, sErr := call(t, dial(t, f.tlsAddr, f.tlsCreds(t, "")))
	if uErr == nil || sErr == nil {
		t.Errorf("no-cert client succeeded: unary %v, stream %v", uErr, sErr)
	}
}

func TestInsecureLoopbackListener(t *testing.T) {
	f := startServer(t, tls.VerifyClientCertIfGiven)
	uErr, sErr := call(t, dial(t, f.loopAddr, insecure.NewCredentials()))
	if uErr != nil || sErr != nil {
		t.Fatalf("unary err %v, stream err %v", uErr, sErr)
	}
	u, _ := f.rec.last()
	if u.Name != auth.UserInsecureLoopback || !u.InGroup(auth.GroupMasters) {
		t.Errorf("loopback caller is %+v, want %s in %s", u, auth.UserInsecureLoopback, auth.GroupMasters)
	}
	// Plain text on the TLS port is not trusted.
	if uErr, _ := call(t, dial(t, f.tlsAddr, insecure.NewCredentials())); uErr == nil {
		t.Error("plain-text call on the TLS listener succeeded")
	}
}

func TestPlainServerWithoutMarkIsUnauthenticated(t *testing.T) {
	// A server without ServerCredentials (or a listener not wrapped by
	// InsecureLoopbackListener) never trusts plain text.
	srv := grpc.NewServer(grpc.UnaryInterceptor((&auth.Authenticator{}).UnaryServerInterceptor()))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	uErr, _ := call(t, dial(t, l.Addr().String(), insecure.NewCredentials()))
	if status.Code(uErr) != codes.Unauthenticated {
		t.Errorf("got %v, want Unauthenticated", uErr)
	}
}

func TestLoopbackOnlyServerCredentials(t *testing.T) {
	// ServerCredentials(nil): only marked loopback connections are served.
	srv := grpc.NewServer(grpc.Creds(auth.ServerCredentials(nil)), grpc.UnaryInterceptor((&auth.Authenticator{}).UnaryServerInterceptor()))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	marked, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ml, err := auth.InsecureLoopbackListener(marked)
	if err != nil {
		t.Fatal(err)
	}
	unmarked, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ml)
	go srv.Serve(unmarked)
	t.Cleanup(srv.Stop)
	if uErr, _ := call(t, dial(t, marked.Addr().String(), insecure.NewCredentials())); uErr != nil {
		t.Errorf("marked listener: %v", uErr)
	}
	if uErr, _ := call(t, dial(t, unmarked.Addr().String(), insecure.NewCredentials())); uErr == nil {
		t.Error("unmarked listener served a call without TLS")
	}
}

func TestInsecureLoopbackListenerRefusesOtherAddresses(t *testing.T) {
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		testutil.Missing(t, fmt.Sprintf("cannot listen on the wildcard address: %v", err))
	}
	defer l.Close()
	if _, err := auth.InsecureLoopbackListener(l); err == nil {
		t.Error("InsecureLoopbackListener accepted a wildcard listener")
	}
}

func TestUserContext(t *testing.T) {
	if _, ok := auth.UserFrom(context.Background()); ok {
		t.Error("UserFrom on an empty context reported a user")
	}
	u := auth.User{Name: "bob", Groups: []string{"g"}}
	got, ok := auth.UserFrom(auth.WithUser(context.Background(), u))
	if !ok || got.Name != "bob" || !got.InGroup("g") || got.InGroup("h") {
		t.Errorf("UserFrom = %+v, %v", got, ok)
	}
	if auth.NodeUser("n1") != "system:node:n1" {
		t.Errorf("NodeUser = %q", auth.NodeUser("n1"))
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	a := auth.Attributes{User: auth.User{Name: "bob"}, Verb: "delete", Resource: "pods", Namespace: "default", Name: "web"}
	if err := auth.Check(ctx, auth.AlwaysAllow{}, a); err != nil {
		t.Errorf("AlwaysAllow: %v", err)
	}
	deny := auth.AuthorizerFunc(func(context.Context, auth.Attributes) (bool, string, error) {
		return false, "no binding", nil
	})
	err := apierrors.ToStatus(auth.Check(ctx, deny, a))
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("deny: %v, want PermissionDenied", err)
	}
	for _, s := range []string{`"bob"`, "delete", `"pods"`, `"web"`, `"default"`, "no binding"} {
		if !strings.Contains(status.Convert(err).Message(), s) {
			t.Errorf("message %q lacks %s", status.Convert(err).Message(), s)
		}
	}
	// Kubernetes' wording, namespaced and cluster-scoped.
	for _, c := range []struct {
		a    auth.Attributes
		want string
	}{
		{auth.Attributes{User: auth.User{Name: "alice"}, Verb: "list", Resource: "deployments", APIGroup: "apps", Namespace: "team"},
			`deployments.apps is forbidden: User "alice" cannot list resource "deployments" in API group "apps" in the namespace "team": no binding`},
		{auth.Attributes{User: auth.User{Name: "system:node:n1"}, Verb: "update", Resource: "nodes", Name: "n2"},
			`nodes "n2" is forbidden: User "system:node:n1" cannot update resource "nodes" in API group "" at the cluster scope: no binding`},
		{auth.Attributes{User: auth.User{Name: "system:anonymous"}, Verb: "get", Path: "/metrics"},
			`forbidden: User "system:anonymous" cannot get path "/metrics": no binding`},
	} {
		if got := status.Convert(apierrors.ToStatus(auth.Check(ctx, deny, c.a))).Message(); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
	broken := auth.AuthorizerFunc(func(context.Context, auth.Attributes) (bool, string, error) {
		return true, "", context.DeadlineExceeded
	})
	if err := apierrors.ToStatus(auth.Check(ctx, broken, a)); status.Code(err) != codes.Internal {
		t.Errorf("failing authorizer: %v, want Internal", err)
	}
}

func TestSplitServiceAccountUser(t *testing.T) {
	for in, want := range map[string][2]string{
		"system:serviceaccount:team:builder": {"team", "builder"},
		"system:serviceaccount:team":         {},
		"system:serviceaccount::x":           {},
		"system:serviceaccount:a:b:c":        {},
		"admin":                              {},
	} {
		ns, name, ok := auth.SplitServiceAccountUser(in)
		if ok != (want[0] != "") || ns != want[0] || name != want[1] {
			t.Errorf("SplitServiceAccountUser(%q) = %q, %q, %v", in, ns, name, ok)
		}
	}
}
