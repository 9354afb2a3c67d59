package apiserver

import (
	"context"
	"net/http"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/apiserver/audit"
	"keel.dev/keel/pkg/apiserver/rest"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/daemon"
	"keel.dev/keel/pkg/snapshotfile"
)

// healthPaths are answered to every caller, authenticated or not, as
// Kubernetes' system:public-info-viewer lets anyone read them.
var healthPaths = map[string]bool{"/healthz": true, "/livez": true, "/readyz": true}

// HTTPHandler serves the apiserver's non-resource URLs over HTTPS on the
// secure port:
//
//   - /healthz, /livez and /readyz, answered by health, to every caller;
//   - /metrics (the default Prometheus registry) and Go's /debug/pprof/
//     profiles, /etcd/snapshot (see Config.EtcdSnapshot), and any other
//     path, only to callers authenticated as gRPC
//     calls are (the same authenticators: the client certificate of
//     r.TLS, which must be the connection's TLS state, or an
//     "Authorization: Bearer TOKEN" header), then impersonating as gRPC
//     calls do (Impersonate-User, Impersonate-Group, Impersonate-Uid and
//     Impersonate-Extra-KEY headers, each part needing the impersonate
//     verb on it), and authorized to the path's verb (GET is "get": the
//     bootstrap role system:monitoring grants get /metrics to group
//     system:monitoring; cluster-admin grants every path). Others get
//     Kubernetes' Status with 401 Unauthorized, 400 Bad Request (an
//     impersonation without a user) or 403 Forbidden; an allowed path
//     that does not exist is 404.
//
// Kubernetes' REST API (package rest, configured by RESTConfig) is served
// there too: discovery, /version and /openapi/ as non-resource URLs
// (system:discovery grants them to every authenticated user), and
// resource requests (/api/v1/…, /apis/GROUP/VERSION/…), which, once
// authenticated and impersonated, go to the gRPC handlers through the
// gRPC interceptors (see localAPI): authorized with their Kubernetes verb,
// admitted, audited and queued as gRPC calls are.
//
// Every request but those for health is audited (Config.Auditor), as
// a non-resource request for its path, or as the API call it makes.
//
// The handler is safe for concurrent use.
func (s *Server) HTTPHandler(health http.Handler) http.Handler {
	mux := http.NewServeMux()
	daemon.HandleMetrics(mux)
	if s.cfg.EtcdSnapshot != nil {
		mux.Handle("GET "+snapshotfile.HTTPPath, s.etcdSnapshotHandler())
	}
	restHandler := rest.New(s.RESTConfig())
	for _, p := range rest.Paths {
		mux.Handle(p, restHandler)
		mux.Handle(p+"/", restHandler)
	}
	authn, im := s.authn(), s.impersonator()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if healthPaths[r.URL.Path] {
			health.ServeHTTP(w, r)
			return
		}
		// Authenticate, impersonate, begin the audit record (with
		// whoever is known), authorize, serve.
		ctx := r.Context()
		u, err := authn.AuthenticateHTTP(r)
		if err == nil {
			ctx = auth.WithUser(ctx, u)
			var ictx context.Context
			if ictx, err = im.ImpersonateHTTP(ctx, r.Header); err == nil {
				ctx = ictx
			}
		}
		if err == nil && rest.IsResourceRequest(r.URL.Path) {
			// The API authorizes and audits it as a gRPC call, from
			// the client's address and user agent.
			ctx = peer.NewContext(ctx, &peer.Peer{Addr: httpAddr(r.RemoteAddr)})
			ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("user-agent", r.UserAgent()))
			restHandler.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		a := auth.Attributes{Verb: httpVerb(r.Method), Path: r.URL.Path}
		a.User, _ = auth.UserFrom(ctx)
		var rec *audit.Record
		if s.cfg.Auditor != nil {
			req := audit.Request{Attributes: a, SourceIPs: []string{hostOf(r.RemoteAddr)}, UserAgent: r.UserAgent()}
			if by, ok := auth.ImpersonatorFrom(ctx); ok {
				req.Impersonator = &by
			}
			ctx, rec = s.cfg.Auditor.Begin(ctx, req)
		}
		if err == nil {
			var reason string
			reason, err = auth.Decide(ctx, s.cfg.Authorizer, a)
			rec.Authorized(a, err == nil, reason)
		}
		if err != nil {
			if apierrors.IsForbidden(err) {
				s.log.Info("request forbidden", zap.String("user", a.User.Name), zap.Strings("groups", a.User.Groups), zap.Error(err))
			}
			apierrors.WriteHTTP(w, err)
			rec.Complete(err, nil, nil)
			return
		}
		sw := &statusRecorder{ResponseWriter: w}
		mux.ServeHTTP(sw, r.WithContext(ctx))
		rec.CompleteCode(sw.code)
	})
}

// httpAddr is an HTTP client's address ("host:port") as a net.Addr.
type httpAddr string

func (a httpAddr) Network() string { return "tcp" }
func (a httpAddr) String() string  { return string(a) }

// httpVerb is the authorization verb of a request for a non-resource URL,
// as Kubernetes names it: the lower-case method, HEAD being "get".
func httpVerb(method string) string {
	if method == http.MethodHead {
		return "get"
	}
	return strings.ToLower(method)
}
