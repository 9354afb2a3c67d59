// Package apiserver implements Keel's generic gRPC API over etcd: the one
// component that reads and writes cluster state. Each registered kind gets a
// watch cache that serves Lists and Watches; Gets and every write go to etcd
// with optimistic concurrency. Kind-specific behaviour (pod graceful deletion
// and binding, Service address allocation, namespace lifecycle, priority
// admission) sits in small hooks around one generic path.
package apiserver

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"keel.dev/keel/pkg/apiserver/admission"
	"keel.dev/keel/pkg/apiserver/encryptionconfig"
	"keel.dev/keel/pkg/apiserver/flowcontrol"
	"keel.dev/keel/pkg/apiserver/openapi"
	"keel.dev/keel/pkg/auth/rbac"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/apiserver/audit"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/bootstraptoken"
	"keel.dev/keel/pkg/auth/node"
	"keel.dev/keel/pkg/auth/serviceaccount"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/storage"
	"keel.dev/keel/pkg/watchcache"

	// Every kind the API serves.
	_ "keel.dev/keel/pkg/registry/all"
)

// MaxObjectBytes is the largest encoded object the apiserver stores, as in
// Kubernetes (etcd's request limit less room for the transaction).
const MaxObjectBytes = 1536 * 1024

// MaxRequestBytes is the largest request gRPC accepts: enough above
// MaxObjectBytes that an oversized object usually reaches the apiserver,
// which names it in its RequestEntityTooLarge error; gRPC refuses larger
// requests unread (clients read that as RequestEntityTooLarge too).
const MaxRequestBytes = MaxObjectBytes + 512*1024

// Config configures a Server.
type Config struct {
	Store storage.Interface
	// ServiceClusterIPRange is the CIDR ClusterIPs come from (default 10.96.0.0/16).
	ServiceClusterIPRange string
	// ServiceNodePortRange is "FIRST-LAST" (default 30000-32767).
	ServiceNodePortRange string
	// Authorizer decides every request. When nil, AuthorizationModes
	// builds it (default: AlwaysAllow).
	Authorizer auth.Authorizer
	// AuthorizationModes are --authorization-mode's authorizers, asked in
	// order: AlwaysAllow, Node, RBAC.
	AuthorizationModes []string
	// TokenAuthenticators authenticate bearer tokens, asked in order (see
	// auth.Authenticator); AnonymousAuth admits callers without credentials
	// as system:anonymous (--anonymous-auth).
	TokenAuthenticators []auth.TokenAuthenticator
	AnonymousAuth       bool
	// ServiceAccountKeys verify ServiceAccount tokens
	// (--service-account-key-file); none disables them. Tokens must be
	// issued by ServiceAccountIssuer (default
	// serviceaccount.DefaultIssuer) for one of APIAudiences (default the
	// issuer). They are asked before TokenAuthenticators.
	ServiceAccountKeys   []crypto.PublicKey
	ServiceAccountIssuer string
	APIAudiences         []string
	// ServiceAccountSigningKey signs the tokens of the TokenRequest
	// subresource, serviceaccounts/token (--service-account-signing-key-file);
	// nil: the subresource answers MethodNotAllowed. Its public half
	// belongs in ServiceAccountKeys for the tokens to authenticate here.
	// ServiceAccountMaxTokenExpiration caps a requested token's lifetime
	// (--service-account-max-token-expiration); zero: no cap.
	ServiceAccountSigningKey         crypto.Signer
	ServiceAccountMaxTokenExpiration time.Duration
	// EnableBootstrapTokenAuth authenticates bootstrap tokens (Secrets of
	// type bootstrap.kubernetes.io/token in kube-system, read from the
	// watch cache), after TokenAuthenticators (--enable-bootstrap-token-auth).
	EnableBootstrapTokenAuth bool
	Logger                   *zap.Logger
	// Watch cache tuning; zero values take the watchcache defaults.
	WatchCacheWindow int
	WatcherBuffer    int
	BookmarkInterval time.Duration
	// Now is the clock for timestamps (default time.Now).
	Now func() time.Time
	// HealthInterval is how often etcd's reachability is checked for the
	// gRPC health status (default 5s); it reports NOT_SERVING after
	// three failed checks in a row.
	HealthInterval time.Duration
	// KubeletClientTLS is how the apiserver reaches kubelets for Logs and
	// Exec (see proxy.go): the apiserver-kubelet-client certificate and the
	// cluster CA that signs the kubelets' serving certificates. Nil: Logs
	// and Exec answer Unavailable.
	KubeletClientTLS *tls.Config
	// AdvertiseAddress is the IP at which pods reach this apiserver
	// (--advertise-address), on SecurePort. With both set the apiserver
	// keeps the Service default/kubernetes (ClusterIP the first address of
	// ServiceClusterIPRange, port https 443/TCP) and its Endpoints listing
	// every live apiserver (see package kubernetesservice); empty: it
	// keeps neither.
	AdvertiseAddress string
	SecurePort       int32
	// EndpointReconcileInterval is how often the apiserver renews its
	// lease and reconciles the kubernetes Service (default 10s);
	// EndpointLeaseTTL how long its address stays listed after the last
	// renewal (default 15s, more than the interval).
	EndpointReconcileInterval time.Duration
	EndpointLeaseTTL          time.Duration
	// MaxRequestsInflight + MaxMutatingRequestsInflight is the number of
	// requests served at once, shared among priority levels (see package
	// flowcontrol and docs/overload.md); zero takes Kubernetes' defaults,
	// 400 and 200. QueueWaitTimeout is the longest a request waits for a
	// seat (default 15s).
	MaxRequestsInflight         int
	MaxMutatingRequestsInflight int
	QueueWaitTimeout            time.Duration
	// MaxWatches and MaxWatchesPerUser bound the open watches, in all and
	// of one user (zero: the flowcontrol defaults; negative: no bound).
	MaxWatches        int
	MaxWatchesPerUser int
	// EventTTL is how long an Event is kept after its last write
	// (--event-ttl; default DefaultEventTTL): etcd deletes it then.
	EventTTL time.Duration
	// Encryption, when set, encrypts the resources it lists in etcd
	// (--encryption-provider-config); Store must then be
	// storage.Transforming. An update that changes nothing still rewrites
	// an object stored by a provider other than the writing one.
	Encryption *encryptionconfig.Config
	// Auditor records every API call, gRPC and HTTPS (--audit-policy-file,
	// --audit-log-path); nil: none is.
	Auditor *audit.Auditor
	// EtcdSnapshot, when set, serves GET /etcd/snapshot on the secure
	// port (see HTTPHandler): a snapshot of the whole store, to callers
	// allowed to get that path (cluster-admin). Nil: the path is 404.
	EtcdSnapshot storage.Snapshotter
}

// DefaultEventTTL is --event-ttl's default, as in Kubernetes.
const DefaultEventTTL = time.Hour

// Server is the API service. Create it with New, start its caches with
// Start, and register it on a grpc.Server with Register.
type Server struct {
	apiv1.UnimplementedAPIServer
	cfg       Config
	log       *zap.Logger
	resources map[string]*resource // by resource name
	alloc     *allocator
	store     storage.Interface
	health    *health.Server
	admission *admission.Chain
	// creates answers creates on subresources and of create-only kinds
	// (see CreateCall), by "<resource>/<subresource>" or resource.
	creates map[string]createHandler
	// reads answer the gets and lists of computed kinds (see computed.go).
	reads map[string]readHandler
	// signer issues TokenRequest tokens (nil without
	// ServiceAccountSigningKey).
	signer *serviceaccount.Signer
	// nodeGraph is the Node authorizer's graph (mode Node only), fed
	// from the pods cache once Start has it.
	nodeGraph *node.Graph
	// views are the in-memory views follow keeps (the node graph, the
	// RBAC index), for catchUp.
	viewsMu sync.Mutex
	views   []*view
	// flow gives requests their seats; watches counts open watches (see
	// overload.go).
	flow    *flowcontrol.Controller
	watches *flowcontrol.WatchLimiter
	// rbacIndex finds the RBAC bindings of a caller (cachedRoles), fed
	// from the binding caches once Start has them.
	rbacIndex *rbac.Index

	// crds are the resources of the custom resources this apiserver
	// serves, crdView how far it has followed their definitions (see
	// customresources.go).
	crds customResources
	// openAPI serves the OpenAPI documents, the custom resources' too.
	openAPI *openapi.Handlers
	crdView *view

	startOnce sync.Once
	// stopped is closed once the work Start began has ended after its
	// context (see Stopped).
	stopped chan struct{}
}

// New builds a Server for every kind in the scheme.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("apiserver: no storage")
	}
	if cfg.ServiceClusterIPRange == "" {
		cfg.ServiceClusterIPRange = "10.96.0.0/16"
	}
	if cfg.ServiceNodePortRange == "" {
		cfg.ServiceNodePortRange = "30000-32767"
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = 5 * time.Second
	}
	if cfg.EndpointReconcileInterval <= 0 {
		cfg.EndpointReconcileInterval = 10 * time.Second
	}
	if cfg.EndpointLeaseTTL <= 0 {
		cfg.EndpointLeaseTTL = 15 * time.Second
	}
	if cfg.EventTTL == 0 {
		cfg.EventTTL = DefaultEventTTL
	}
	if cfg.EventTTL < 0 {
		return nil, fmt.Errorf("apiserver: the event TTL must be positive, got %s", cfg.EventTTL)
	}
	if cfg.EndpointLeaseTTL <= cfg.EndpointReconcileInterval {
		return nil, fmt.Errorf("apiserver: the endpoint lease TTL %s must exceed the reconcile interval %s", cfg.EndpointLeaseTTL, cfg.EndpointReconcileInterval)
	}
	if cfg.AdvertiseAddress != "" {
		if _, err := netip.ParseAddr(cfg.AdvertiseAddress); err != nil {
			return nil, fmt.Errorf("apiserver: advertise address %q is not an IP address", cfg.AdvertiseAddress)
		}
		if cfg.SecurePort <= 0 || cfg.SecurePort > 65535 {
			return nil, fmt.Errorf("apiserver: advertise address %s needs the secure port, got %d", cfg.AdvertiseAddress, cfg.SecurePort)
		}
	}
	alloc, err := newAllocator(cfg.Store, cfg.ServiceClusterIPRange, cfg.ServiceNodePortRange)
	if err != nil {
		return nil, err
	}
	flow, watches, err := newFlowControl(cfg)
	if err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, resources: map[string]*resource{}, alloc: alloc, store: cfg.Store, health: health.NewServer(),
		admission: admission.Default(cfg.ServiceAccountSigningKey != nil), rbacIndex: rbac.NewIndex(), stopped: make(chan struct{}),
		flow: flow, watches: watches,
		crds: customResources{byResource: map[string]*resource{}, byCRD: map[string]*installedCRD{}}, openAPI: newOpenAPI(cfg.Logger)}
	// Clients health-check each apiserver and route around those that are
	// not serving: NOT_SERVING until Start is done, and while etcd does not answer.
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	for _, k := range scheme.All() {
		if !k.Stored() {
			continue // never stored: see createAnswered and computed.go
		}
		r := newResource(k)
		r.ttl = r.strategy.TTL(registry.StorageOptions{EventTTL: cfg.EventTTL})
		r.cache = watchcache.New(watchcache.Config{
			Resource:         k.Resource,
			Prefix:           r.prefix(),
			Store:            cfg.Store,
			Decode:           r.decode,
			WindowSize:       cfg.WatchCacheWindow,
			WatcherBuffer:    cfg.WatcherBuffer,
			BookmarkInterval: cfg.BookmarkInterval,
			Logger:           cfg.Logger,
		})
		s.resources[k.Resource] = r
	}
	s.crdView = &view{cache: s.resources[crdResource].cache, changed: make(chan struct{})}
	if err := s.installEncryption(); err != nil {
		return nil, err
	}
	registerCacheMetrics(s)
	if sa := s.serviceAccountAuthenticator(); sa != nil {
		s.cfg.TokenAuthenticators = append([]auth.TokenAuthenticator{sa}, s.cfg.TokenAuthenticators...)
	}
	s.registerReviews()
	s.registerMetrics()
	if cfg.ServiceAccountSigningKey != nil {
		if s.signer, err = serviceaccount.NewSigner(s.issuer(), cfg.ServiceAccountSigningKey, cfg.Now); err != nil {
			return nil, fmt.Errorf("apiserver: %w", err)
		}
	}
	s.handleCreate("serviceaccounts/token", s.tokenRequest)
	s.handleCreate("pods/eviction", s.evict)
	if s.cfg.Authorizer == nil {
		modes := s.modes()
		z, err := s.authorizer(modes)
		if err != nil {
			return nil, err
		}
		s.cfg.Authorizer = z
		if slices.Contains(modes, ModeRBAC) {
			s.admission.Validating = append(s.admission.Validating,
				admission.RBACEscalation{Rules: rbac.Authorizer{Roles: cachedRoles{s}}, Authorizer: z})
		}
	}
	s.admission.Validating = append(s.admission.Validating,
		admission.CertificateApproval{Authorizer: s.cfg.Authorizer}, admission.CertificateSigning{Authorizer: s.cfg.Authorizer})
	s.admission.Validating = append(s.admission.Validating, admission.ResourceQuota{Status: quotaStatus{s}, Now: s.cfg.Now})
	return s, nil
}

// Start runs every watch cache until ctx ends, waits until they have listed,
// then creates the objects every cluster has (the default namespaces and
// system priority classes) if they are missing, reconciles the
// bootstrap RBAC policy (package bootstrappolicy) and, with an
// AdvertiseAddress, the kubernetes Service, which it keeps until ctx
// ends. Call it once.
func (s *Server) Start(ctx context.Context) error {
	s.startOnce.Do(func() {
		for _, r := range s.resources {
			go r.cache.Run(ctx)
		}
	})
	for _, r := range s.resources {
		// Every etcd revision is >= 1, so this waits for the first list.
		if err := r.cache.WaitForRevision(ctx, 1); err != nil {
			return fmt.Errorf("waiting for the %s cache: %w", r.kind.Resource, err)
		}
	}
	if s.nodeGraph != nil {
		if err := s.follow(ctx, s.resources["pods"], nodeGraphFollower(s.nodeGraph)); err != nil {
			return fmt.Errorf("loading the node authorizer's graph: %w", err)
		}
		for resource, f := range map[string]follower{
			"persistentvolumeclaims": nodeGraphClaimFollower(s.nodeGraph),
			"volumeattachments":      nodeGraphAttachmentFollower(s.nodeGraph),
			"persistentvolumes":      pinnedVolumeFollower(s.nodeGraph),
		} {
			if err := s.follow(ctx, s.resources[resource], f); err != nil {
				return fmt.Errorf("loading the node authorizer's graph of %s: %w", resource, err)
			}
		}
	}
	for resource, f := range rbacIndexFollowers(s.rbacIndex) {
		if err := s.follow(ctx, s.resources[resource], f); err != nil {
			return fmt.Errorf("loading the RBAC index of %s: %w", resource, err)
		}
	}
	if err := s.followCRDs(ctx); err != nil {
		return fmt.Errorf("loading the custom resource definitions: %w", err)
	}
	if err := s.bootstrap(ctx); err != nil {
		return err
	}
	if s.cfg.AdvertiseAddress != "" {
		// Once before serving, so pods started right away find the
		// Service; a failure is retried by the loop.
		sctx := asAPIServer(ctx)
		if err := s.reconcileKubernetesService(sctx, true); err != nil {
			s.log.Warn("reconciling the kubernetes Service", zap.Error(err))
		}
		go func() {
			defer close(s.stopped)
			s.runKubernetesService(sctx)
		}()
	} else {
		close(s.stopped)
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	go s.watchHealth(ctx)
	return nil
}

// Stopped is closed once, after the context given to a successful Start
// ended, this apiserver has withdrawn its address from the kubernetes
// Endpoints (or given up after a few seconds). Its caller waits for it
// before closing the store.
func (s *Server) Stopped() <-chan struct{} { return s.stopped }

// healthFailureThreshold is how many etcd probes in a row must fail
// before the apiserver reports NOT_SERVING: clients take a NOT_SERVING
// apiserver out of their rotation, so one slow answer (etcd busy with a
// burst of writes) must not; a second apiserver cut off from etcd still
// leaves within a few intervals.
const healthFailureThreshold = 3

// watchHealth keeps the gRPC health status in step with etcd's reachability
// until ctx ends, then reports NOT_SERVING. Its probe goes to etcd
// directly, with its own timeout (the interval): it never waits behind
// user requests, which queue for seats (overload.go) before they reach
// etcd.
func (s *Server) watchHealth(ctx context.Context) {
	t := time.NewTicker(s.cfg.HealthInterval)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			s.health.Shutdown()
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, s.cfg.HealthInterval)
		err := s.CheckStorage(cctx)
		cancel()
		if ctx.Err() != nil {
			continue // shutting down: the next select returns
		}
		if err == nil {
			failures = 0
			s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
			continue
		}
		if failures++; failures < healthFailureThreshold {
			s.log.Info("etcd probe failed", zap.Int("failures", failures), zap.Error(err))
			continue
		}
		s.log.Warn("etcd unreachable: reporting NOT_SERVING", zap.Int("failures", failures), zap.Error(err))
		s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	}
}

// Ready reports whether every cache has listed.
func (s *Server) Ready() bool {
	for _, r := range s.resources {
		if !r.cache.Ready() {
			return false
		}
	}
	return true
}

// CheckStorage tells whether etcd answers.
func (s *Server) CheckStorage(ctx context.Context) error {
	_, err := s.store.Revision(ctx)
	return err
}

// Register installs the API service and the standard gRPC health service
// (grpc.health.v1) on g.
func (s *Server) Register(g *grpc.Server) {
	apiv1.RegisterAPIServer(g, s)
	healthpb.RegisterHealthServer(g, s.health)
}

// ServerOptions are the grpc.Server options the API needs: the message size
// limits, keepalives that let clients ping idle connections every few
// seconds, and the interceptors that authenticate, impersonate (the
// Impersonate-* metadata), audit (see Auditing), record metrics and map
// every error to a gRPC status (the one place that does), and give each
// request a seat of its priority level or refuse it (overload.go).
func (s *Server) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxRequestBytes),
		grpc.MaxSendMsgSize(1 << 30),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.ChainUnaryInterceptor(append([]grpc.UnaryServerInterceptor{unaryUnlessHealth(s.unaryAuditRejected(s.authn().UnaryServerInterceptor())), s.unaryAuditRejected(s.impersonator().UnaryServerInterceptor())}, s.unaryAfterAuthn()...)...),
		grpc.ChainStreamInterceptor(append([]grpc.StreamServerInterceptor{streamUnlessHealth(s.streamAuditRejected(s.authn().StreamServerInterceptor())), s.streamAuditRejected(s.impersonator().StreamServerInterceptor())}, s.streamAfterAuthn()...)...),
	}
}

// unaryAfterAuthn and streamAfterAuthn are the interceptors of every
// call once its caller is authenticated and impersonation is done, for
// gRPC calls and REST requests alike (see localAPI): audit, metrics and
// panics, flow control.
func (s *Server) unaryAfterAuthn() []grpc.UnaryServerInterceptor {
	return []grpc.UnaryServerInterceptor{s.unaryAudit, s.unaryObserve, s.unaryFlowControl}
}

func (s *Server) streamAfterAuthn() []grpc.StreamServerInterceptor {
	return []grpc.StreamServerInterceptor{s.streamAudit, s.streamObserve, s.streamFlowControl}
}

// isHealth reports whether method is one of the gRPC health service's.
// They are answered to every caller, authenticated or not (as Kubernetes'
// /healthz and /readyz): clients health-check each server they balance
// over, and a caller whose credentials are refused must learn it from its
// own calls (Unauthorized), not from every server being marked unhealthy.
// Nor are they audited, queued or counted by overload protection.
func isHealth(method string) bool { return strings.HasPrefix(method, "/grpc.health.v1.Health/") }

// unaryUnlessHealth and streamUnlessHealth apply authn to every call but
// those of the health service.
func unaryUnlessHealth(authn grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if isHealth(info.FullMethod) {
			return h(ctx, req)
		}
		return authn(ctx, req, info, h)
	}
}

func streamUnlessHealth(authn grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if isHealth(info.FullMethod) {
			return h(srv, ss)
		}
		return authn(srv, ss, info, h)
	}
}

// modes are the authorization modes (Config.AuthorizationModes; default
// AlwaysAllow).
func (s *Server) modes() []string {
	if len(s.cfg.AuthorizationModes) == 0 {
		return []string{ModeAlwaysAllow}
	}
	return s.cfg.AuthorizationModes
}

// impersonator lets callers with the impersonate verb act as others.
func (s *Server) impersonator() auth.Impersonator {
	return auth.Impersonator{Authorizer: s.cfg.Authorizer}
}

// authn is how callers are authenticated: certificates, the loopback
// listener, Config.TokenAuthenticators, bootstrap tokens when enabled, and
// anonymous callers when allowed.
func (s *Server) authn() *auth.Authenticator {
	tokens := slices.Clone(s.cfg.TokenAuthenticators)
	if s.cfg.EnableBootstrapTokenAuth {
		tokens = append(tokens, bootstraptoken.Authenticator{
			Secret: func(name string) *corev1.Secret {
				return cachedOne[*corev1.Secret](s, "secrets", bootstraptoken.Namespace, name)
			},
			Now: s.cfg.Now,
		})
	}
	return &auth.Authenticator{Tokens: tokens, Anonymous: s.cfg.AnonymousAuth}
}

// lookup finds the resource of name (a resource, singular or short name,
// possibly qualified by its group: "crontabs.stable.example.com").
func (s *Server) lookup(ctx context.Context, name string) (*resource, error) {
	k, ok := scheme.ByResource(name)
	if !ok {
		// Perhaps a custom resource whose definition this apiserver has
		// just stored.
		s.catchUpCRDs(ctx)
		k, ok = scheme.ByResource(name)
	}
	if !ok {
		return nil, apierrors.BadRequest("the server doesn't have a resource type %q", name)
	}
	if !k.Stored() {
		return nil, apierrors.MethodNotAllowed(k.QualifiedResource())
	}
	if k.Dynamic {
		return s.dynamicResource(ctx, k)
	}
	return s.resources[k.Resource], nil
}

func (s *Server) authorize(ctx context.Context, verb, res, ns, name string) error {
	return s.authorizeRequest(ctx, auth.Attributes{Verb: verb, Resource: res, Namespace: ns, Name: name})
}

// authorizeOn authorizes verb on res (r's resource, or one of its
// subresources: "crontabs/status") in r's API group.
func (s *Server) authorizeOn(ctx context.Context, verb string, r *resource, res, ns, name string) error {
	return s.authorizeRequest(ctx, auth.Attributes{Verb: verb, APIGroup: r.kind.Group, Resource: res, Namespace: ns, Name: name})
}

// authorizeRequest decides a, whose User and APIGroup it fills in.
func (s *Server) authorizeRequest(ctx context.Context, a auth.Attributes) error {
	u, _ := auth.UserFrom(ctx)
	a.User = u
	res := a.Resource
	if base, _, _ := strings.Cut(res, "/"); base != "" && a.APIGroup == "" {
		if k, ok := scheme.ByResource(base); ok {
			a.APIGroup = k.Group
		}
	}
	reason, err := auth.Decide(ctx, s.cfg.Authorizer, a)
	audit.RecordFrom(ctx).Authorized(a, err == nil, reason)
	if apierrors.IsForbidden(err) {
		// As in Kubernetes' log, a denial names who was refused what: how
		// an operator finds what a role lacks.
		fields := []zap.Field{zap.String("user", u.Name), zap.Strings("groups", u.Groups), zap.Error(err)}
		if by, ok := auth.ImpersonatorFrom(ctx); ok {
			fields = append(fields, zap.String("impersonatedBy", by.Name))
		}
		s.log.Info("request forbidden", fields...)
	}
	return err
}

// storageErr maps storage sentinels to API errors for one object.
func storageErr(err error, r *resource, name string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return apierrors.NotFound(r.kind.QualifiedResource(), name)
	case errors.Is(err, storage.ErrExists):
		return apierrors.AlreadyExists(r.kind.QualifiedResource(), name)
	case errors.Is(err, storage.ErrConflict):
		return apierrors.ConflictModified(r.kind.QualifiedResource(), name)
	case errors.Is(err, storage.ErrCompacted):
		return apierrors.Expired("the requested resource version has been compacted: %v", err)
	case errors.Is(err, storage.ErrUnavailable):
		return apierrors.Unavailable("storage unavailable: %v", err)
	case errors.Is(err, storage.ErrTransform):
		return apierrors.Internal("%v", err)
	}
	return err
}

// marshal encodes an object for storage, refusing objects over the limit.
func marshal(r *resource, obj proto.Message) ([]byte, error) {
	b, err := proto.Marshal(obj)
	if err != nil {
		return nil, apierrors.Internal("encoding %s: %v", r.kind.Kind, err)
	}
	if len(b) > MaxObjectBytes {
		return nil, apierrors.TooLarge(fmt.Sprintf("the %s %q", r.kind.Kind, scheme.Meta(obj).GetName()), len(b), MaxObjectBytes)
	}
	return b, nil
}
