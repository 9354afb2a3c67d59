// Package server is the kubelet's own API for the apiserver: container logs
// and non-interactive exec, served over gRPC with TLS on the kubelet port
// (10250), the service keel.kubelet.v1.Kubelet (package
// pkg/apis/kubelet/v1); and on the same port, for HTTP/1.1 connections,
// the streaming endpoint (exec, attach, port-forward sessions; see
// StreamHandler).
//
// Callers authenticate with a client certificate of the cluster CA and only
// the apiserver is allowed: users in system:masters (the
// apiserver-kubelet-client certificate is CN system:apiserver, O
// system:masters) or named system:apiserver. Everyone else, kubelets
// included, is refused with PermissionDenied.
//
// Logs are read from the container's CRI log file; exec runs through the
// CRI's ExecSync. The kubelet tells the server where a container's log and
// ID are through PodLookup, and its resource usage through StatsSource.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	kubeletv1 "keel.dev/keel/pkg/apis/kubelet/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/kubelet/cri"
)

// PodLookup is how the server finds the kubelet's containers. Both methods
// must be safe for concurrent use. A pod or container the kubelet does not
// know (or, with previous, a container that has no previous instance) is
// reported with an error for which apierrors.IsNotFound is true (e.g.
// apierrors.NotFound, or any *apierrors.Error of reason NotFound whose
// message says what is missing); any other error is sent as Internal
// unless it is an *apierrors.Error or a gRPC status error, whose code is
// kept.
type PodLookup interface {
	// ContainerLogPath returns the CRI log file of container in pod
	// ns/pod: its current (or last) instance, or with previous the one
	// before it (kept by the kubelet until the next restart).
	ContainerLogPath(ns, pod, container string, previous bool) (string, error)
	// ContainerID returns the runtime ID of the container's current
	// instance.
	ContainerID(ns, pod, container string) (string, error)
	// SandboxID returns the runtime ID of the pod's current sandbox.
	SandboxID(ns, pod string) (string, error)
}

// StatsSource is the kubelet's resource usage (see pkg/kubelet/stats);
// Summary must be safe for concurrent use and return promptly.
type StatsSource interface {
	Summary(ctx context.Context) *kubeletv1.StatsSummary
}

// Config configures a Server.
type Config struct {
	// Addr is where ListenAndServe listens (e.g. ":10250").
	Addr string
	// TLS is the serving configuration: the kubelet's serving certificate
	// (kubelet-NODE-serving) and, as ClientCAs, the cluster CA. Client
	// certificates are always required and verified (ClientAuth is raised
	// to RequireAndVerifyClientCert if lower). Required.
	TLS *tls.Config
	// Pods finds containers; Runtime runs exec and tells whether a followed
	// container has exited.
	Pods    PodLookup
	Runtime cri.Runtime
	// Stats answers the Stats call (nil: Unavailable).
	Stats StatsSource
	// Log receives request logs (nil: none).
	Log *zap.Logger
}

// Server serves the kubelet service on TLS. Create it with NewServer.
type Server struct {
	kubeletv1.UnimplementedKubeletServer
	cfg Config
	log *zap.Logger
}

var _ kubeletv1.KubeletServer = (*Server)(nil)

// NewServer returns a Server for cfg.
func NewServer(cfg Config) *Server {
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Server{cfg: cfg, log: log.Named("kubelet-server")}
}

// ListenAndServe listens on Config.Addr and serves until ctx ends (see
// Serve).
func (s *Server) ListenAndServe(ctx context.Context) error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("kubelet server: %w", err)
	}
	return s.Serve(ctx, l)
}

// Serve serves on l until ctx ends, then stops gracefully (open log
// streams are cancelled after a second, streaming sessions are closed)
// and returns nil; it closes l. It terminates TLS itself and tells the
// gRPC service from the streaming endpoint by ALPN: h2 is gRPC, anything
// else (http/1.1, none) the streaming endpoint.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	g, err := s.GRPCServer()
	if err != nil {
		l.Close()
		return err
	}
	tc := s.tlsConfig()
	tc.NextProtos = []string{"h2", "http/1.1"}
	grpcL, httpL := newConnQueue(l.Addr()), newConnQueue(l.Addr())
	hs := &http.Server{Handler: s.StreamHandler(), ReadHeaderTimeout: handshakeTimeout, IdleTimeout: 2 * time.Minute,
		ErrorLog: zap.NewStdLog(s.log)}
	errc := make(chan error, 3)
	go func() { errc <- g.Serve(grpcL) }()
	go func() { errc <- hs.Serve(httpL) }()
	go func() { errc <- split(tls.NewListener(l, tc), grpcL, httpL) }()
	s.log.Info("serving the kubelet API", zap.String("address", l.Addr().String()))
	var serr error
	select {
	case serr = <-errc:
	case <-ctx.Done():
	}
	l.Close()
	done := make(chan struct{})
	go func() { g.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		g.Stop()
	}
	hs.Close()
	if ctx.Err() != nil {
		return nil
	}
	return serr
}

// handshakeTimeout bounds a client's TLS handshake and request header.
const handshakeTimeout = 10 * time.Second

// split accepts connections from l (a TLS listener), completes their
// handshakes and hands them to grpcL (marked auth.TLSTerminated) if they
// negotiated h2, else to httpL, until l is closed; then it closes both.
func split(l net.Listener, grpcL, httpL *connQueue) error {
	defer grpcL.Close()
	defer httpL.Close()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go func() {
			tc := c.(*tls.Conn)
			_ = tc.SetDeadline(time.Now().Add(handshakeTimeout))
			if err := tc.Handshake(); err != nil {
				tc.Close()
				return
			}
			_ = tc.SetDeadline(time.Time{})
			st := tc.ConnectionState()
			if st.NegotiatedProtocol == "h2" {
				grpcL.put(auth.TLSTerminated(tc, st))
				return
			}
			httpL.put(tc)
		}()
	}
}

// connQueue is a net.Listener whose connections another goroutine puts.
type connQueue struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

// put hands c to Accept, or closes it once the queue is closed.
func (q *connQueue) put(c net.Conn) {
	select {
	case q.ch <- c:
	case <-q.done:
		c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.done:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.done) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }

// tlsConfig is the serving configuration: Config.TLS with client
// certificates required and at least TLS 1.2.
func (s *Server) tlsConfig() *tls.Config {
	tc := s.cfg.TLS.Clone()
	if tc.ClientAuth < tls.VerifyClientCertIfGiven {
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if tc.MinVersion < tls.VersionTLS12 {
		tc.MinVersion = tls.VersionTLS12
	}
	return tc
}

// GRPCServer returns a grpc.Server with the kubelet service, TLS with
// required client certificates, authentication and authorization; the
// caller serves it on listeners of its choice (connections marked
// auth.TLSTerminated are taken as they are).
func (s *Server) GRPCServer() (*grpc.Server, error) {
	if s.cfg.TLS == nil {
		return nil, errors.New("kubelet server: no TLS configuration (the serving certificate and the cluster CA are required)")
	}
	g := grpc.NewServer(
		grpc.Creds(auth.ServerCredentials(s.tlsConfig())),
		grpc.MaxRecvMsgSize(kubeletv1.MaxMessageSize),
		grpc.MaxSendMsgSize(kubeletv1.MaxMessageSize),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.ChainUnaryInterceptor((&auth.Authenticator{}).UnaryServerInterceptor(), s.unaryAuthz),
		grpc.ChainStreamInterceptor((&auth.Authenticator{}).StreamServerInterceptor(), s.streamAuthz),
	)
	kubeletv1.RegisterKubeletServer(g, s)
	return g, nil
}

// allowed tells whether u may use the kubelet API.
func allowed(u auth.User) bool {
	return u.Name == auth.UserAPIServer || u.InGroup(auth.GroupMasters)
}

func (s *Server) check(ctx context.Context, method string) error {
	u, ok := auth.UserFrom(ctx)
	if !ok {
		return status.Error(codes.Unauthenticated, "not authenticated")
	}
	if !allowed(u) {
		s.log.Warn("refused a caller", zap.String("user", u.Name), zap.String("method", method))
		return status.Errorf(codes.PermissionDenied, "user %q may not use the kubelet API (only the apiserver may)", u.Name)
	}
	return nil
}

func (s *Server) unaryAuthz(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := s.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	resp, err := h(ctx, req)
	return resp, apierrors.ToStatus(err)
}

func (s *Server) streamAuthz(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := s.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return apierrors.ToStatus(h(srv, ss))
}

// lookupErr keeps NotFound and coded errors, and makes others Internal.
func lookupErr(err error) error {
	var ae *apierrors.Error
	if errors.As(err, &ae) {
		return err
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: err.Error()}
	}
	return apierrors.Internal("%v", err)
}

func requestPod(ns, name, container string) error {
	if ns == "" || name == "" {
		return apierrors.BadRequest("namespace and name are required")
	}
	if container == "" {
		return apierrors.BadRequest("a container name is required")
	}
	return nil
}

// Logs implements kubeletv1.KubeletServer.
func (s *Server) Logs(req *apiv1.LogsRequest, stream grpc.ServerStreamingServer[apiv1.LogsChunk]) error {
	ctx := stream.Context()
	ns, name, container := req.GetNamespace(), req.GetName(), req.GetContainer()
	if err := requestPod(ns, name, container); err != nil {
		return err
	}
	if req.TailLines != nil && req.GetTailLines() < 0 {
		return apierrors.BadRequest("tail_lines must not be negative")
	}
	if req.GetSinceSeconds() < 0 || req.GetLimitBytes() < 0 {
		return apierrors.BadRequest("since_seconds and limit_bytes must not be negative")
	}
	path, err := s.cfg.Pods.ContainerLogPath(ns, name, container, req.GetPrevious())
	if err != nil {
		return lookupErr(err)
	}
	opts := LogOptions{
		Follow:     req.GetFollow() && !req.GetPrevious(),
		TailLines:  -1,
		LimitBytes: req.GetLimitBytes(),
		Timestamps: req.GetTimestamps(),
	}
	if req.TailLines != nil {
		opts.TailLines = req.GetTailLines()
	}
	if sec := req.GetSinceSeconds(); sec > 0 {
		opts.Since = time.Now().Add(-time.Duration(sec) * time.Second)
	}
	if opts.Follow {
		id, err := s.cfg.Pods.ContainerID(ns, name, container)
		if err != nil {
			return lookupErr(err)
		}
		opts.Exited = s.exited(id)
	}
	s.log.Debug("logs", zap.String("pod", ns+"/"+name), zap.String("container", container), zap.Bool("follow", opts.Follow))
	err = ReadLog(ctx, path, opts, func(b []byte) error {
		return stream.Send(&apiv1.LogsChunk{Data: b})
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		what := "log of container %q of pod %s/%s"
		if req.GetPrevious() {
			what = "log of the previous instance of container %q of pod %s/%s"
		}
		return &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf(what+" not found (%s)", container, ns, name, path)}
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	}
	return err
}

// exited returns a check of whether container id has stopped running (or
// is gone).
func (s *Server) exited(id string) func(context.Context) bool {
	return func(ctx context.Context) bool {
		if s.cfg.Runtime == nil {
			return false
		}
		st, err := s.cfg.Runtime.ContainerStatus(ctx, id, false)
		if cri.IsNotFound(err) {
			return true
		}
		if err != nil {
			return false // the runtime may be restarting: keep following
		}
		switch st.GetStatus().GetState() {
		case runtimeapi.ContainerState_CONTAINER_EXITED, runtimeapi.ContainerState_CONTAINER_UNKNOWN:
			return true
		}
		return false
	}
}

// Exec implements kubeletv1.KubeletServer.
func (s *Server) Exec(ctx context.Context, req *apiv1.ExecRequest) (*apiv1.ExecResponse, error) {
	ns, name, container := req.GetNamespace(), req.GetName(), req.GetContainer()
	if err := requestPod(ns, name, container); err != nil {
		return nil, err
	}
	if len(req.GetCommand()) == 0 {
		return nil, apierrors.BadRequest("a command is required")
	}
	if req.GetTimeoutSeconds() < 0 {
		return nil, apierrors.BadRequest("timeout_seconds must not be negative")
	}
	if s.cfg.Runtime == nil {
		return nil, apierrors.Unavailable("the kubelet has no container runtime")
	}
	id, err := s.cfg.Pods.ContainerID(ns, name, container)
	if err != nil {
		return nil, lookupErr(err)
	}
	timeout := time.Duration(req.GetTimeoutSeconds()) * time.Second
	s.log.Debug("exec", zap.String("pod", ns+"/"+name), zap.String("container", container), zap.Strings("command", req.GetCommand()))
	resp, err := s.cfg.Runtime.ExecSync(ctx, id, req.GetCommand(), timeout)
	if err != nil {
		return nil, execErr(ctx, err, req, timeout, s.running(ctx, id))
	}
	return &apiv1.ExecResponse{Stdout: resp.GetStdout(), Stderr: resp.GetStderr(), ExitCode: resp.GetExitCode()}, nil
}

// running tells whether the runtime reports container id running (true
// when it cannot tell).
func (s *Server) running(ctx context.Context, id string) bool {
	st, err := s.cfg.Runtime.ContainerStatus(ctx, id, false)
	if err != nil {
		return !cri.IsNotFound(err)
	}
	return st.GetStatus().GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING
}

// execErr describes a failed ExecSync for the caller, keeping the
// runtime's code; running says whether the container still runs.
func execErr(ctx context.Context, err error, req *apiv1.ExecRequest, timeout time.Duration, running bool) error {
	code, msg := cri.Code(err), runtimeMessage(err)
	where := fmt.Sprintf("container %q of pod %s/%s", req.GetContainer(), req.GetNamespace(), req.GetName())
	switch {
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	case code == codes.DeadlineExceeded && timeout > 0:
		return status.Errorf(codes.DeadlineExceeded, "command %q in %s timed out after %v", strings.Join(req.GetCommand(), " "), where, timeout)
	case code == codes.NotFound:
		return status.Errorf(codes.NotFound, "%s is not running: the runtime does not know it (%s)", where, msg)
	case code == codes.FailedPrecondition, !running:
		// containerd reports a stopped container with code Unknown.
		return status.Errorf(codes.FailedPrecondition, "%s is not running (%s)", where, msg)
	}
	return status.Errorf(code, "exec in %s: %s", where, msg)
}

// runtimeMessage is the runtime's own message in a cri error.
func runtimeMessage(err error) string {
	var ce *cri.Error
	if errors.As(err, &ce) {
		err = ce.Err
	}
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}

// Stats implements kubeletv1.KubeletServer.
func (s *Server) Stats(ctx context.Context, _ *kubeletv1.StatsRequest) (*kubeletv1.StatsSummary, error) {
	if s.cfg.Stats == nil {
		return nil, apierrors.Unavailable("the kubelet reports no stats")
	}
	return s.cfg.Stats.Summary(ctx), nil
}
