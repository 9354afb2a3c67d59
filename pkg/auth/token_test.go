package auth_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"slices"
	"testing"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/auth"
)

// tokens is a TokenAuthenticator that knows a fixed set of tokens and
// claims (and refuses) those starting with its prefix.
type tokens struct {
	prefix string
	users  map[string]auth.User
}

func (f tokens) AuthenticateToken(_ context.Context, token string) (auth.User, bool, error) {
	if u, ok := f.users[token]; ok {
		return u, true, nil
	}
	if len(token) >= len(f.prefix) && token[:len(f.prefix)] == f.prefix {
		return auth.User{}, false, errors.New("expired")
	}
	return auth.User{}, false, nil
}

// TestAuthenticatorUnion: certificates win, then bearer tokens asked in
// order (the first that claims a token decides), then anonymous callers
// when allowed; every refusal is Unauthorized.
func TestAuthenticatorUnion(t *testing.T) {
	a := &auth.Authenticator{Tokens: []auth.TokenAuthenticator{
		tokens{prefix: "sa.", users: map[string]auth.User{"sa.good": {Name: "system:serviceaccount:team:bot", Groups: []string{"system:serviceaccounts"}, UID: "u1"}}},
		tokens{prefix: "boot.", users: map[string]auth.User{"boot.good": {Name: "system:bootstrap:abc", Groups: []string{"system:bootstrappers"}}, "boot.nameless": {}}},
	}}
	anon := &auth.Authenticator{Anonymous: true, Tokens: a.Tokens}
	addr := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1234}
	tlsPeer := func(cn string) *peer.Peer {
		info := credentials.TLSInfo{State: tls.ConnectionState{}}
		if cn != "" {
			info.State.VerifiedChains = [][]*x509.Certificate{{{Subject: pkix.Name{CommonName: cn, Organization: []string{"ops"}}}}}
		}
		return &peer.Peer{Addr: addr, AuthInfo: info}
	}
	ctx := func(p *peer.Peer, md ...string) context.Context {
		c := peer.NewContext(context.Background(), p)
		if len(md) > 0 {
			c = metadata.NewIncomingContext(c, metadata.Pairs(md...))
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		a      *auth.Authenticator
		ctx    context.Context
		user   string
		groups []string
	}{
		{"certificate", a, ctx(tlsPeer("alice")), "alice", []string{"ops", auth.GroupAuthenticated}},
		{"certificate wins over a token", a, ctx(tlsPeer("alice"), "authorization", "Bearer sa.good"), "alice", []string{"ops", auth.GroupAuthenticated}},
		{"service account token", a, ctx(tlsPeer(""), "authorization", "Bearer sa.good"), "system:serviceaccount:team:bot", []string{"system:serviceaccounts", auth.GroupAuthenticated}},
		{"scheme is case-insensitive", a, ctx(tlsPeer(""), "authorization", "bearer boot.good"), "system:bootstrap:abc", []string{"system:bootstrappers", auth.GroupAuthenticated}},
		{"invalid token of the first kind", a, ctx(tlsPeer(""), "authorization", "Bearer sa.old"), "", nil},
		{"invalid token even when anonymous is allowed", anon, ctx(tlsPeer(""), "authorization", "Bearer sa.old"), "", nil},
		{"token nobody claims", a, ctx(tlsPeer(""), "authorization", "Bearer what"), "", nil},
		{"token naming no user", a, ctx(tlsPeer(""), "authorization", "Bearer boot.nameless"), "", nil},
		{"not a bearer scheme", a, ctx(tlsPeer(""), "authorization", "Basic c2E6Z29vZA=="), "", nil},
		{"empty bearer", a, ctx(tlsPeer(""), "authorization", "Bearer "), "", nil},
		{"two tokens", a, ctx(tlsPeer(""), "authorization", "Bearer sa.good", "authorization", "Bearer boot.good"), "", nil},
		{"no credentials", a, ctx(tlsPeer("")), "", nil},
		{"anonymous", anon, ctx(tlsPeer("")), auth.UserAnonymous, []string{auth.GroupUnauthenticated}},
		{"plain text from the network", anon, ctx(&peer.Peer{Addr: addr}, "authorization", "Bearer sa.good"), "", nil},
	} {
		u, err := tc.a.Authenticate(tc.ctx)
		if tc.user == "" {
			if apierrors.ReasonOf(err) != apierrors.ReasonUnauthorized {
				t.Errorf("%s: got %+v, %v; want Unauthorized", tc.name, u, err)
			}
			continue
		}
		if err != nil || u.Name != tc.user || !slices.Equal(u.Groups, tc.groups) {
			t.Errorf("%s: got %+v, %v; want %s in %v", tc.name, u, err, tc.user, tc.groups)
		}
	}
}
