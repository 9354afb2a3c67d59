package auth

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"keel.dev/keel/pkg/apierrors"
)

// TokenAuthenticator authenticates a bearer token: a ServiceAccount JWT,
// a bootstrap token. ok=false means the token is not of its kind (the next
// authenticator is asked); a non-nil error means it is of its kind and
// invalid (expired, wrong audience, revoked…): the call is refused as
// Unauthenticated with that error, and no other authenticator is asked.
// Implementations must be safe for concurrent use and compare secrets in
// constant time.
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (u User, ok bool, err error)
}

// Authenticator authenticates API callers, as Kubernetes' union of
// authenticators does, in this order:
//
//   - A connection accepted by InsecureLoopbackListener and served with
//     ServerCredentials yields UserInsecureLoopback in GroupMasters and
//     GroupAuthenticated.
//   - A TLS connection with a verified client certificate yields the
//     certificate's CommonName as Name and its Organization entries,
//     followed by GroupAuthenticated, as Groups. The certificate must have
//     been verified by the TLS stack (tls.Config.ClientAuth
//     VerifyClientCertIfGiven or RequireAndVerifyClientCert); a certificate
//     that was merely presented is not accepted.
//   - Otherwise, a request carrying gRPC metadata (over HTTPS, the
//     header) "authorization: Bearer TOKEN" is authenticated by the first
//     of Tokens that claims the token; a token none claims, or one its
//     authenticator finds invalid, is refused.
//   - Otherwise the caller is UserAnonymous in GroupUnauthenticated when
//     Anonymous is set, and refused when it is not.
//
// A refusal is an *apierrors.Error with reason Unauthorized
// (codes.Unauthenticated). The zero Authenticator accepts certificates and
// the loopback listener only.
type Authenticator struct {
	Tokens    []TokenAuthenticator
	Anonymous bool
}

// AuthorizationMetadata is the gRPC metadata key carrying a bearer token
// ("Bearer TOKEN"), as HTTP's Authorization header does.
const AuthorizationMetadata = "authorization"

// Authenticate returns the user behind the gRPC request in ctx (see
// Authenticator). It is what the interceptors call; handlers should use
// UserFrom.
func (a *Authenticator) Authenticate(ctx context.Context) (User, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return User{}, apierrors.Unauthorized("no peer information on the connection")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return a.authenticate(ctx, p.AuthInfo, md.Get(AuthorizationMetadata))
}

// AuthenticateHTTP returns the user behind an HTTPS request, with the
// same authenticators, in the same order, as Authenticate: r.TLS is the
// connection's TLS state (its verified client certificate, if any; nil
// means the request did not come over TLS and is refused), and the
// "Authorization: Bearer TOKEN" header carries a bearer token.
func (a *Authenticator) AuthenticateHTTP(r *http.Request) (User, error) {
	if r.TLS == nil {
		return User{}, apierrors.Unauthorized("connection is not authenticated: use TLS with a client certificate or a bearer token")
	}
	return a.authenticate(r.Context(), credentials.TLSInfo{State: *r.TLS}, r.Header.Values("Authorization"))
}

// authenticate decides who calls on a connection of info, with
// authorization the values of the request's authorization metadata or
// header.
func (a *Authenticator) authenticate(ctx context.Context, info credentials.AuthInfo, authorization []string) (User, error) {
	switch info := info.(type) {
	case LoopbackAuthInfo:
		return User{Name: UserInsecureLoopback, Groups: []string{GroupMasters, GroupAuthenticated}}, nil
	case credentials.TLSInfo:
		if chains := info.State.VerifiedChains; len(chains) > 0 && len(chains[0]) > 0 {
			cert := chains[0][0]
			if cert.Subject.CommonName == "" {
				return User{}, apierrors.Unauthorized("client certificate has no subject common name (the user name)")
			}
			return User{Name: cert.Subject.CommonName, Groups: withAuthenticated(cert.Subject.Organization)}, nil
		}
	default:
		return User{}, apierrors.Unauthorized("connection is not authenticated: use TLS with a client certificate or a bearer token")
	}
	if token, found, err := bearerToken(authorization); err != nil {
		return User{}, err
	} else if found {
		return a.authenticateToken(ctx, token)
	}
	if a.Anonymous {
		return User{Name: UserAnonymous, Groups: []string{GroupUnauthenticated}}, nil
	}
	return User{}, apierrors.Unauthorized("no credentials: present a client certificate signed by the cluster CA or a bearer token")
}

func (a *Authenticator) authenticateToken(ctx context.Context, token string) (User, error) {
	for _, t := range a.Tokens {
		u, ok, err := t.AuthenticateToken(ctx, token)
		if err != nil {
			return User{}, apierrors.Unauthorized("invalid bearer token: " + err.Error())
		}
		if ok {
			if u.Name == "" {
				return User{}, apierrors.Unauthorized("invalid bearer token: it names no user")
			}
			u.Groups = withAuthenticated(u.Groups)
			return u, nil
		}
	}
	return User{}, apierrors.Unauthorized("invalid bearer token")
}

// bearerToken reads a request's "authorization: Bearer TOKEN" metadata or
// header, of values vals: found is false when there is none; an error when
// it is malformed.
func bearerToken(vals []string) (token string, found bool, err error) {
	if len(vals) == 0 {
		return "", false, nil
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	token = strings.TrimSpace(token)
	if len(vals) > 1 || !strings.EqualFold(scheme, "bearer") || token == "" {
		return "", false, apierrors.Unauthorized(`malformed authorization metadata: want one "Bearer TOKEN"`)
	}
	return token, true, nil
}

// withAuthenticated returns groups without empty and repeated entries,
// then GroupAuthenticated.
func withAuthenticated(in []string) []string {
	groups := make([]string, 0, len(in)+1)
	for _, g := range in {
		if g != "" && g != GroupAuthenticated && !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	return append(groups, GroupAuthenticated)
}

// UnaryServerInterceptor authenticates every unary call (see
// Authenticate) and passes a context carrying the User (see UserFrom) to
// the handler. A caller that cannot be authenticated gets
// codes.Unauthenticated and the handler is not called. Install it first in
// the chain so that later interceptors (authorization, audit, metrics by
// user) see the user.
func (a *Authenticator) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		u, err := a.Authenticate(ctx)
		if err != nil {
			return nil, apierrors.ToStatus(err)
		}
		return handler(WithUser(ctx, u), req)
	}
}

// StreamServerInterceptor is the streaming counterpart of
// UnaryServerInterceptor: the handler's stream.Context() carries the User.
func (a *Authenticator) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		u, err := a.Authenticate(ss.Context())
		if err != nil {
			return apierrors.ToStatus(err)
		}
		return handler(srv, &userStream{ServerStream: ss, ctx: WithUser(ss.Context(), u)})
	}
}

// userStream overrides the context of a grpc.ServerStream.
type userStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *userStream) Context() context.Context { return s.ctx }
