package app

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/soheilhy/cmux"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/daemon"
)

// Listeners are the ports an apiserver serves; a nil listener is not
// served.
type Listeners struct {
	// Secure serves, after a TLS handshake with TLS, both the gRPC API and
	// HTTPS (apiserver.Server.HTTPHandler: /metrics and /debug/pprof/
	// behind authorization, health to anyone) on one port: a connection
	// whose first HTTP/2 request has content-type application/grpc goes
	// to gRPC, every other (HTTP/1.x, other HTTP/2) to HTTPS.
	Secure net.Listener
	TLS    *tls.Config
	// Insecure serves the gRPC API in plain text; it must come from
	// auth.InsecureLoopbackListener (every caller is a cluster admin).
	Insecure net.Listener
	// Health serves plain HTTP /healthz, /livez and /readyz to anyone, and
	// nothing else.
	Health net.Listener
}

func (ls Listeners) all() []net.Listener {
	var out []net.Listener
	for _, l := range []net.Listener{ls.Secure, ls.Insecure, ls.Health} {
		if l != nil {
			out = append(out, l)
		}
	}
	return out
}

func (ls Listeners) close() {
	for _, l := range ls.all() {
		l.Close()
	}
}

func (ls Listeners) addrs() []string {
	var out []string
	for _, l := range ls.all() {
		out = append(out, l.Addr().String())
	}
	return out
}

// matchTimeout bounds a new secure connection's TLS handshake and first
// request, the bytes that tell gRPC from HTTPS.
const matchTimeout = 10 * time.Second

// Serving is an apiserver serving its listeners.
type Serving struct {
	grpc    *grpc.Server
	https   *http.Server
	serving atomic.Bool
	errc    chan error
	stop    context.CancelFunc
}

// Serve serves srv on ls: it serves Health at once (/readyz fails until
// the API is served), starts srv (its watch caches run until ctx ends;
// see apiserver.Server.Start), then serves the API on Secure and Insecure,
// and returns. From the call on the listeners are Serve's: Stop, or a
// failed Serve, closes them. Secure needs TLS.
func Serve(ctx context.Context, srv *apiserver.Server, ls Listeners, log *zap.Logger) (*Serving, error) {
	if ls.Secure != nil && ls.TLS == nil {
		ls.close()
		return nil, errors.New("the secure listener needs a TLS configuration")
	}
	hctx, stopHealth := context.WithCancel(context.Background())
	// One slot per serving goroutine (gRPC on three listeners, HTTPS on
	// three, cmux), so that none blocks once nobody reads Err.
	s := &Serving{errc: make(chan error, 7), stop: stopHealth}
	health := daemon.HealthHandler(
		[]daemon.Check{{Name: "ping", Func: func(context.Context) error { return nil }}},
		[]daemon.Check{
			{Name: "etcd", Func: srv.CheckStorage},
			{Name: "watch-caches", Func: func(context.Context) error {
				if !srv.Ready() {
					return errors.New("not every watch cache has listed yet")
				}
				return nil
			}},
			{Name: "api-listeners", Func: func(context.Context) error {
				if !s.serving.Load() {
					return errors.New("the API is not being served yet")
				}
				return nil
			}},
		})
	if ls.Health != nil {
		daemon.Serve(hctx, ls.Health, health, log)
	}
	if err := srv.Start(ctx); err != nil {
		stopHealth()
		ls.close()
		return nil, err
	}
	s.grpc = grpc.NewServer(append(srv.ServerOptions(), grpc.Creds(auth.ServerCredentials(nil)))...)
	srv.Register(s.grpc)
	if ls.Insecure != nil {
		go func() { s.errc <- s.grpc.Serve(ls.Insecure) }()
	}
	if ls.Secure != nil {
		s.serveSecure(ls.Secure, ls.TLS, srv.HTTPHandler(health))
	}
	s.serving.Store(true)
	return s, nil
}

// serveSecure terminates TLS on l, then hands each connection, by its
// first bytes, to the gRPC server (marked auth.TLSTerminated, so that
// its peer carries the TLS state that authenticates it) or to an HTTPS
// server with h (r.TLS is the connection's state).
func (s *Serving) serveSecure(l net.Listener, tlsConfig *tls.Config, h http.Handler) {
	tc := tlsConfig.Clone()
	// The server's preference wins: clients that speak HTTP/1.1 (curl,
	// Prometheus) get it; gRPC clients offer only h2.
	tc.NextProtos = []string{"http/1.1", "h2"}
	m := cmux.New(tls.NewListener(l, tc))
	m.SetReadTimeout(matchTimeout)
	http1L := m.Match(cmux.HTTP1Fast())
	// gRPC clients send their first request only after the server's
	// SETTINGS frame: send it while matching.
	grpcL := m.MatchWithWriters(cmux.HTTP2MatchHeaderFieldPrefixSendSettings("content-type", "application/grpc"))
	// HTTP/2 whose first request is not gRPC.
	http2L := m.Match(http2Request)
	// HTTP/2 that sent no request within matchTimeout: a gRPC client that
	// connected ahead of its first call (HTTPS clients send theirs at
	// once). Without this it would reach the HTTPS server, which answers
	// each of its calls 403.
	idleL := m.Match(cmux.HTTP2())
	// The rest: HTTP/1.x with methods HTTP1Fast does not know, or junk
	// (answered 400).
	otherL := m.Match(cmux.Any())
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	// HTTP/2 after ALPN: the server sees a connection that is no *tls.Conn
	// any more, whose HTTP/2 it must take as prior knowledge.
	protocols.SetUnencryptedHTTP2(true)
	s.https = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			state, ok := r.Context().Value(tlsStateKey{}).(tls.ConnectionState)
			if !ok {
				http.Error(w, "no TLS state", http.StatusInternalServerError)
				return
			}
			r = r.WithContext(r.Context())
			r.TLS = &state
			h.ServeHTTP(w, r)
		}),
		Protocols:         protocols,
		ReadHeaderTimeout: matchTimeout,
		IdleTimeout:       2 * time.Minute,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if state, ok := connectionState(c); ok {
				return context.WithValue(ctx, tlsStateKey{}, state)
			}
			return ctx
		},
	}
	go func() { s.errc <- s.grpc.Serve(terminatedListener{grpcL}) }()
	go func() { s.errc <- s.grpc.Serve(terminatedListener{idleL}) }()
	go func() { s.errc <- s.https.Serve(http1L) }()
	go func() { s.errc <- s.https.Serve(settingsAckListener{http2L}) }()
	go func() { s.errc <- s.https.Serve(otherL) }()
	go func() { s.errc <- m.Serve() }()
}

type tlsStateKey struct{}

// connectionState is the TLS state of a connection cmux accepted from the
// TLS listener, once its handshake is done (matching read through it).
func connectionState(c net.Conn) (tls.ConnectionState, bool) {
	if f, ok := c.(*settingsAckFilter); ok {
		c = f.Conn
	}
	mc, ok := c.(*cmux.MuxConn)
	if !ok {
		return tls.ConnectionState{}, false
	}
	tc, ok := mc.Conn.(*tls.Conn)
	if !ok {
		return tls.ConnectionState{}, false
	}
	st := tc.ConnectionState()
	return st, st.HandshakeComplete
}

// terminatedListener marks the gRPC connections of the secure port as
// auth.TLSTerminated.
type terminatedListener struct{ net.Listener }

func (l terminatedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if state, ok := connectionState(c); ok {
			return auth.TLSTerminated(c, state), nil
		}
		c.Close()
	}
}

// Err receives the error of each server that stops serving.
func (s *Serving) Err() <-chan error { return s.errc }

// GracefulStop stops accepting calls and waits for those in flight to end,
// at most timeout; then it stops at once.
func (s *Serving) GracefulStop(timeout time.Duration) {
	stopped := make(chan struct{})
	go func() {
		if s.https != nil {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			_ = s.https.Shutdown(ctx)
			cancel()
		}
		s.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(timeout):
	}
	s.Stop()
}

// Stop stops serving at once, closing the listeners and every connection.
// It may be called more than once.
func (s *Serving) Stop() {
	s.grpc.Stop()
	if s.https != nil {
		_ = s.https.Close()
	}
	s.stop()
}
