package auth

import (
	"context"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"keel.dev/keel/pkg/apierrors"
)

// Authenticate returns the user behind the connection of the gRPC request
// in ctx. It is what the interceptors call; handlers should use UserFrom.
//
//   - A TLS connection with a verified client certificate yields the
//     certificate's CommonName as Name and its Organization entries, followed
//     by GroupAuthenticated, as Groups. The certificate must have been
//     verified by the TLS stack (tls.Config.ClientAuth VerifyClientCertIfGiven
//     or RequireAndVerifyClientCert); a certificate that was merely presented
//     is not accepted.
//   - A connection accepted by InsecureLoopbackListener and served with
//     ServerCredentials yields UserInsecureLoopback in GroupMasters and
//     GroupAuthenticated.
//   - Anything else (no peer, a TLS connection without a verified
//     certificate, a certificate without CommonName, a plain-text connection
//     that was not marked as insecure-loopback) is an error with code
//     *apierrors.Error with reason Unauthorized (codes.Unauthenticated).
func Authenticate(ctx context.Context) (User, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return User{}, apierrors.Unauthorized("no peer information on the connection")
	}
	switch info := p.AuthInfo.(type) {
	case LoopbackAuthInfo:
		return User{Name: UserInsecureLoopback, Groups: []string{GroupMasters, GroupAuthenticated}}, nil
	case credentials.TLSInfo:
		chains := info.State.VerifiedChains
		if len(chains) == 0 || len(chains[0]) == 0 {
			return User{}, apierrors.Unauthorized("no verified client certificate: present a certificate signed by the cluster CA")
		}
		cert := chains[0][0]
		if cert.Subject.CommonName == "" {
			return User{}, apierrors.Unauthorized("client certificate has no subject common name (the user name)")
		}
		groups := make([]string, 0, len(cert.Subject.Organization)+1)
		for _, g := range cert.Subject.Organization {
			if g != "" && !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
		if !slices.Contains(groups, GroupAuthenticated) {
			groups = append(groups, GroupAuthenticated)
		}
		return User{Name: cert.Subject.CommonName, Groups: groups}, nil
	default:
		return User{}, apierrors.Unauthorized("connection is not authenticated: use TLS with a client certificate")
	}
}

// UnaryServerInterceptor authenticates every unary call (see Authenticate)
// and passes a context carrying the User (see UserFrom) to the handler. A
// caller that cannot be authenticated gets codes.Unauthenticated and the
// handler is not called. Install it first in the chain so that later
// interceptors (authorization, audit, metrics by user) see the user.
func UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		u, err := Authenticate(ctx)
		if err != nil {
			return nil, apierrors.ToStatus(err)
		}
		return handler(WithUser(ctx, u), req)
	}
}

// StreamServerInterceptor is the streaming counterpart of
// UnaryServerInterceptor: the handler's stream.Context() carries the User.
func StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		u, err := Authenticate(ss.Context())
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
