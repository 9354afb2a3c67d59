package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc/credentials"
)

// LoopbackAuthInfo is the credentials.AuthInfo of a connection accepted by an
// InsecureLoopbackListener and served with ServerCredentials. Authenticate
// treats such callers as UserInsecureLoopback in GroupMasters.
type LoopbackAuthInfo struct {
	credentials.CommonAuthInfo
}

// AuthType implements credentials.AuthInfo.
func (LoopbackAuthInfo) AuthType() string { return "insecure-loopback" }

// InsecureLoopbackListener marks every connection accepted by l as coming
// from the trusted plain-text loopback listener. l must be a TCP listener
// bound to a loopback address (127.0.0.0/8 or ::1), otherwise an error is
// returned: the apiserver never trusts plain text from the network. l must
// not itself be a TLS listener.
//
// The mark only has an effect on a grpc.Server created with
// grpc.Creds(ServerCredentials(...)); an ordinary server treats these
// connections as unauthenticated. Closing the returned listener closes l.
func InsecureLoopbackListener(l net.Listener) (net.Listener, error) {
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok || !addr.IP.IsLoopback() {
		return nil, fmt.Errorf("insecure listener must be bound to a loopback TCP address, not %q", l.Addr())
	}
	return loopbackListener{l}, nil
}

type loopbackListener struct{ net.Listener }

func (l loopbackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return loopbackConn{c}, nil
}

// loopbackConn marks a connection accepted by a loopbackListener.
type loopbackConn struct{ net.Conn }

// TLSTerminated marks c as a connection whose TLS handshake is done, with
// state its outcome: the secure port terminates TLS before telling HTTPS
// from gRPC (see pkg/apiserver/app), then hands the gRPC connections to a
// server with ServerCredentials, which takes them as they are, with state
// (its verified client certificate) as the peer's AuthInfo.
func TLSTerminated(c net.Conn, state tls.ConnectionState) net.Conn {
	return terminatedConn{Conn: c, state: state}
}

type terminatedConn struct {
	net.Conn
	state tls.ConnectionState
}

// ServerCredentials returns gRPC server transport credentials that perform a
// TLS handshake with tlsConfig on ordinary connections, none on connections
// marked with TLSTerminated (their handshake is done), and none at all on
// connections accepted by an InsecureLoopbackListener (whose callers
// Authenticate then trusts). One grpc.Server can thus Serve both the TLS
// listener and the loopback listener.
//
// tlsConfig may be nil for a server that only serves an insecure loopback
// listener or TLSTerminated connections; such credentials refuse every
// unmarked connection. The config is
// not copied: do not modify it after the call. ClientHandshake is not
// supported: use credentials.NewTLS on the client side.
func ServerCredentials(tlsConfig *tls.Config) credentials.TransportCredentials {
	c := &serverCreds{}
	if tlsConfig != nil {
		c.tls = credentials.NewTLS(tlsConfig)
	}
	return c
}

type serverCreds struct {
	tls credentials.TransportCredentials // nil: loopback only
}

func (c *serverCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if lc, ok := conn.(loopbackConn); ok {
		addr, ok := lc.RemoteAddr().(*net.TCPAddr)
		if !ok || !addr.IP.IsLoopback() {
			return nil, nil, fmt.Errorf("refusing insecure connection from non-loopback address %v", lc.RemoteAddr())
		}
		return lc.Conn, LoopbackAuthInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
	}
	if tc, ok := conn.(terminatedConn); ok {
		return tc.Conn, credentials.TLSInfo{State: tc.state, CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}, nil
	}
	if c.tls == nil {
		return nil, nil, errors.New("TLS is not configured and the connection did not come from the insecure loopback listener")
	}
	return c.tls.ServerHandshake(conn)
}

func (c *serverCreds) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("auth.ServerCredentials are server-side only")
}

func (c *serverCreds) Info() credentials.ProtocolInfo {
	if c.tls == nil {
		return credentials.ProtocolInfo{SecurityProtocol: "insecure"}
	}
	return c.tls.Info()
}

func (c *serverCreds) Clone() credentials.TransportCredentials {
	n := &serverCreds{}
	if c.tls != nil {
		n.tls = c.tls.Clone()
	}
	return n
}

func (c *serverCreds) OverrideServerName(name string) error {
	if c.tls == nil {
		return nil
	}
	return c.tls.OverrideServerName(name)
}
