package apiserver

import (
	"net/http"
	"strings"

	"go.uber.org/zap"

	"keel.dev/keel/pkg/apierrors"
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
// The handler is safe for concurrent use.
func (s *Server) HTTPHandler(health http.Handler) http.Handler {
	mux := http.NewServeMux()
	daemon.HandleMetrics(mux)
	if s.cfg.EtcdSnapshot != nil {
		mux.Handle("GET "+snapshotfile.HTTPPath, s.etcdSnapshotHandler())
	}
	authn, im := s.authn(), s.impersonator()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if healthPaths[r.URL.Path] {
			health.ServeHTTP(w, r)
			return
		}
		u, err := authn.AuthenticateHTTP(r)
		if err != nil {
			apierrors.WriteHTTP(w, err)
			return
		}
		ctx, err := im.ImpersonateHTTP(auth.WithUser(r.Context(), u), r.Header)
		if err == nil {
			u, _ = auth.UserFrom(ctx)
			err = auth.Check(ctx, s.cfg.Authorizer, auth.Attributes{User: u, Verb: httpVerb(r.Method), Path: r.URL.Path})
		}
		if err != nil {
			if apierrors.IsForbidden(err) {
				s.log.Info("request forbidden", zap.String("user", u.Name), zap.Strings("groups", u.Groups), zap.Error(err))
			}
			apierrors.WriteHTTP(w, err)
			return
		}
		mux.ServeHTTP(w, r.WithContext(ctx))
	})
}

// httpVerb is the authorization verb of a request for a non-resource URL,
// as Kubernetes names it: the lower-case method, HEAD being "get".
func httpVerb(method string) string {
	if method == http.MethodHead {
		return "get"
	}
	return strings.ToLower(method)
}
