// Package client is Keel's Go client: one gRPC connection to every apiserver
// of a cluster, and typed clients for every kind over the generic API.
//
// Connection. New opens a single grpc.ClientConn whose manual resolver lists
// every server of the cluster and whose service config selects round_robin
// load balancing: each server gets its own subchannel, calls are spread over
// the subchannels that are READY, and a server whose connection breaks (an
// apiserver that stopped, crashed or is unreachable) leaves the rotation
// until it reconnects (reconnection backs off from 250ms up to 5s). Each
// subchannel also watches the apiserver's gRPC health service
// (grpc.health.v1): an apiserver that is up but cannot serve (starting, or
// cut off from etcd) reports NOT_SERVING and leaves the rotation too.
//
// Keepalive pings every 30s (10s timeout, also without active calls) detect
// dead peers on idle connections and long watches. Get, List and the start of
// Watch are idempotent and retried by gRPC (up to 5 attempts, backoff 100ms
// to 2s) when they fail with Unavailable, usually on another server; writes
// are not retried automatically, since a write whose answer was lost may
// have been applied. A call the apiserver refused as overloaded
// (ResourceExhausted with a retry-after hint: it did none of the call's
// work) is sent again, writes included, after the hint, doubled on each
// retry and jittered, at most OverloadRetries times and never past the
// context's deadline; a watch so refused is resumed by the informer after
// at least the hint. Received messages may be up to 1 GiB (large lists).
//
// Errors. Every method converts gRPC errors with apierrors.FromStatus, so
// callers test them with apierrors.IsNotFound, IsConflict, and so on.
//
// Objects returned by the typed clients belong to the caller. Objects from
// informer caches do not (see package informer).
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/health" // client-side health checking (see the package doc)
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/client/config"

	// Every kind the client can encode and decode.
	_ "keel.dev/keel/pkg/registry/all"
)

// MaxRecvMsgSize is the largest message the client accepts (a list of many
// objects).
const MaxRecvMsgSize = 1 << 30

// MaxSendMsgSize is the largest request the client sends; the apiserver
// refuses objects over 1.5 MiB anyway.
const MaxSendMsgSize = 64 << 20

// Keepalive settings of the connection.
const (
	KeepaliveTime    = 30 * time.Second
	KeepaliveTimeout = 10 * time.Second
)

// serviceConfig balances over every server, health-checks them, and retries
// the idempotent calls on Unavailable.
const serviceConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "healthCheckConfig": {"serviceName": ""},
  "methodConfig": [{
    "name": [
      {"service": "keel.api.v1.API", "method": "Get"},
      {"service": "keel.api.v1.API", "method": "List"},
      {"service": "keel.api.v1.API", "method": "Watch"}
    ],
    "retryPolicy": {
      "maxAttempts": 5,
      "initialBackoff": "0.1s",
      "maxBackoff": "2s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
}`

// Options configure New.
type Options struct {
	// Servers are the apiservers' "host:port" addresses. Required.
	Servers []string
	// TLS is the client TLS configuration (see pki.ClientTLSConfig): the
	// cluster CA and the client certificate. Unless it sets ServerName,
	// each server's certificate is verified against that server's host.
	TLS *tls.Config
	// Insecure connects in plain text to the apiserver's loopback listener;
	// every server must then be a loopback address. Exactly one of TLS and
	// Insecure must be set.
	Insecure bool
	// Namespace is the default namespace (Client.Namespace); "default" if
	// empty.
	Namespace string
	// UserAgent is sent with every call (for example "keel-scheduler").
	UserAgent string
	// BearerToken, or the token in BearerTokenFile (re-read every minute,
	// so a refreshed token is picked up), is sent with every call; TLS
	// only. A verified client certificate, when TLS carries one, wins on
	// the server.
	BearerToken     string
	BearerTokenFile string
	// BearerTokenSource, when set instead, is asked for the token of every
	// call (it may change: a token it refreshes); an error fails the call.
	BearerTokenSource func(context.Context) (string, error)
	// Impersonate, when its UserName is set, makes every call act as
	// another user (keelctl --as).
	Impersonate Impersonation
	// DialOptions are appended to the client's own.
	DialOptions []grpc.DialOption
}

// Impersonation is who a client acts as, as kubectl's --as, --as-group and
// --as-uid: sent as Impersonate-User, -Group and -Uid metadata with every
// call. The caller needs the impersonate verb on each (the apiserver
// refuses the call as Forbidden otherwise).
type Impersonation struct {
	UserName string
	UID      string
	Groups   []string
}

// metadata is the outgoing metadata of the impersonation.
func (im Impersonation) metadata() metadata.MD {
	md := metadata.Pairs(auth.ImpersonateUserMetadata, im.UserName)
	if im.UID != "" {
		md.Append(auth.ImpersonateUIDMetadata, im.UID)
	}
	md.Append(auth.ImpersonateGroupMetadata, im.Groups...)
	return md
}

// Client is a connection to a cluster. It is safe for concurrent use; create
// one per process and share it.
type Client struct {
	conn      *grpc.ClientConn // nil for NewForConn
	api       apiv1.APIClient
	namespace string
}

// New connects to the servers of opts. It does not wait for a connection:
// calls fail with Unavailable while no server can be reached.
func New(opts Options) (*Client, error) {
	if len(opts.Servers) == 0 {
		return nil, errors.New("client: no servers")
	}
	if (opts.TLS == nil) == !opts.Insecure {
		return nil, errors.New("client: set exactly one of TLS and Insecure")
	}
	tokens := 0
	for _, set := range []bool{opts.BearerToken != "", opts.BearerTokenFile != "", opts.BearerTokenSource != nil} {
		if set {
			tokens++
		}
	}
	if tokens > 0 && opts.Insecure {
		return nil, errors.New("client: a bearer token is sent over TLS only")
	}
	if tokens > 1 {
		return nil, errors.New("client: set at most one of BearerToken, BearerTokenFile and BearerTokenSource")
	}
	addrs := make([]resolver.Address, 0, len(opts.Servers))
	for _, s := range opts.Servers {
		host, _, err := net.SplitHostPort(s)
		if err != nil {
			return nil, fmt.Errorf("client: server %q: %v", s, err)
		}
		if opts.Insecure && !isLoopback(host) {
			return nil, fmt.Errorf("client: server %q: plain text is allowed only to loopback addresses", s)
		}
		// The address's ServerName is what gRPC's TLS handshake verifies the
		// server certificate against (it ignores tls.Config.ServerName):
		// each server's own host, or the configured override.
		name := host
		if opts.TLS != nil && opts.TLS.ServerName != "" {
			name = opts.TLS.ServerName
		}
		addrs = append(addrs, resolver.Address{Addr: s, ServerName: name})
	}
	r := manual.NewBuilderWithScheme("keel")
	r.InitialState(resolver.State{Addresses: addrs})

	sc := serviceConfig

	creds := insecure.NewCredentials()
	if opts.TLS != nil {
		creds = credentials.NewTLS(opts.TLS)
	}
	dialOpts := []grpc.DialOption{
		grpc.WithResolvers(r),
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultServiceConfig(sc),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                KeepaliveTime,
			Timeout:             KeepaliveTimeout,
			PermitWithoutStream: true,
		}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  250 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   5 * time.Second,
			},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxRecvMsgSize),
			grpc.MaxCallSendMsgSize(MaxSendMsgSize),
		),
		grpc.WithChainUnaryInterceptor(retryOverloaded),
	}
	if opts.UserAgent != "" {
		dialOpts = append(dialOpts, grpc.WithUserAgent(opts.UserAgent))
	}
	if tokens > 0 {
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(&tokenCredentials{token: opts.BearerToken, file: opts.BearerTokenFile, source: opts.BearerTokenSource}))
	}
	if im := opts.Impersonate; im.UserName != "" {
		md := im.metadata()
		dialOpts = append(dialOpts,
			grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, callOpts ...grpc.CallOption) error {
				return invoker(metadata.NewOutgoingContext(ctx, metadata.Join(md, outgoing(ctx))), method, req, reply, cc, callOpts...)
			}),
			grpc.WithChainStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, callOpts ...grpc.CallOption) (grpc.ClientStream, error) {
				return streamer(metadata.NewOutgoingContext(ctx, metadata.Join(md, outgoing(ctx))), desc, cc, method, callOpts...)
			}))
	}
	dialOpts = append(dialOpts, opts.DialOptions...)
	conn, err := grpc.NewClient(r.Scheme()+":///apiserver", dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	// Connect every subchannel now rather than on the first call.
	conn.Connect()
	return &Client{conn: conn, api: apiv1.NewAPIClient(conn), namespace: defaultNamespace(opts.Namespace)}, nil
}

// NewForConn wraps an existing connection (for example an in-process one in
// tests). Close does not close conn.
func NewForConn(conn grpc.ClientConnInterface, namespace string) *Client {
	return &Client{api: apiv1.NewAPIClient(conn), namespace: defaultNamespace(namespace)}
}

// outgoing is ctx's outgoing metadata (none: empty).
func outgoing(ctx context.Context) metadata.MD {
	md, _ := metadata.FromOutgoingContext(ctx)
	return md
}

// NewFromResolved connects with the settings of a configuration context.
func NewFromResolved(r *config.Resolved, userAgent string) (*Client, error) {
	return New(ResolvedOptions(r, userAgent))
}

// ResolvedOptions are the Options of a configuration context.
func ResolvedOptions(r *config.Resolved, userAgent string) Options {
	return Options{Servers: r.Servers, TLS: r.TLS, Insecure: r.Insecure, Namespace: r.Namespace, UserAgent: userAgent,
		BearerToken: r.BearerToken, BearerTokenFile: r.BearerTokenFile}
}

// FromConfig loads the client configuration (path, else $KEELCONFIG, else
// ~/.keel/config), resolves contextName (the current context if empty) and
// connects.
func FromConfig(path, contextName, userAgent string) (*Client, error) {
	cfg, err := config.LoadDefault(path)
	if err != nil {
		return nil, err
	}
	r, err := cfg.Resolve(contextName)
	if err != nil {
		return nil, err
	}
	return NewFromResolved(r, userAgent)
}

// Close closes the connection; calls in flight fail with Canceled.
func (c *Client) Close() error {
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}

// Conn returns the underlying connection (nil for NewForConn).
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// API returns the raw generic API client.
func (c *Client) API() apiv1.APIClient { return c.api }

// Namespace is the default namespace of the client's configuration.
func (c *Client) Namespace() string { return c.namespace }

func defaultNamespace(ns string) string {
	if ns == "" {
		return config.DefaultNamespace
	}
	return ns
}

func isLoopback(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	return strings.EqualFold(host, "localhost")
}

// ConfigFlags are a daemon's --kubeconfig and --context flags.
type ConfigFlags struct {
	Kubeconfig string
	Context    string
}

// AddFlags registers --kubeconfig and --context on fs.
func (f *ConfigFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.Kubeconfig, "kubeconfig", "", "client configuration file, a kubeconfig (apiservers, CA, credentials); default $KEELCONFIG, else the first file of $KUBECONFIG, else ~/.keel/config")
	fs.StringVar(&f.Context, "context", "", "context of the client configuration to use (default: its current context)")
}

// Client connects as the flags say (see FromConfig).
func (f *ConfigFlags) Client(userAgent string) (*Client, error) {
	return FromConfig(f.Kubeconfig, f.Context, userAgent)
}

// Options are the connection settings the flags say (the configuration
// FromConfig loads and resolves), for a caller that adjusts them before
// New.
func (f *ConfigFlags) Options(userAgent string) (Options, error) {
	cfg, err := config.LoadDefault(f.Kubeconfig)
	if err != nil {
		return Options{}, err
	}
	r, err := cfg.Resolve(f.Context)
	if err != nil {
		return Options{}, err
	}
	return ResolvedOptions(r, userAgent), nil
}
