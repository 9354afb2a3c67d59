// Package app is keel-apiserver, Keel's gRPC API over etcd: its flags and
// config file (NewCommand; see README.md) and the wiring from them to a
// serving apiserver. Serve, the part that serves a built apiserver on
// listeners, is shared with pkg/apiserver/testserver.
package app

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/audit"
	"keel.dev/keel/pkg/apiserver/encryptionconfig"
	"keel.dev/keel/pkg/apiserver/flowcontrol"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/serviceaccount"
	"keel.dev/keel/pkg/daemon"
	"keel.dev/keel/pkg/etcdserver"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/storage"
)

type options struct {
	authzModes       []string
	anonymousAuth    bool
	bootstrapTokens  bool
	secureAddress    string
	advertiseAddress string
	insecureAddress  string
	tlsCert, tlsKey  string
	clientCA         string
	kubeletCert      string
	kubeletKey       string
	kubeletCA        string
	etcdServers      []string
	etcdCAFile       string
	etcdCertFile     string
	etcdKeyFile      string
	dataDir          string
	etcdClientURL    string
	etcdPeerURL      string
	etcdServingTLS   etcdserver.TLSFiles
	etcdNoFsync      bool
	serviceIPRange   string
	nodePortRange    string
	httpAddress      string
	watchCacheSize   int
	bookmarkInterval time.Duration
	compactInterval  time.Duration
	eventTTL         time.Duration
	saKeyFiles       []string
	saIssuer         string
	apiAudiences     []string
	saSigningKey     string
	saMaxExpiration  time.Duration
	maxInflight      int
	maxMutating      int
	maxWatches       int
	maxUserWatches   int
	encryptionConfig string
	auditPolicyFile  string
	auditLog         audit.LogOptions
}

// NewCommand is keel-apiserver's root command, with its flags.
func NewCommand() *cobra.Command {
	o := &options{}
	cmd := daemon.Command("keel-apiserver", "Keel's API server: the only component that talks to etcd", func(ctx context.Context, log *zap.Logger) error {
		return run(ctx, o, log)
	})
	f := cmd.Flags()
	f.StringSliceVar(&o.authzModes, "authorization-mode", slices.Clone(apiserver.DefaultAuthorizationModes),
		"authorizers asked in order, the first that allows wins: Node (a kubelet, system:node:NAME, reads only the Secrets, ConfigMaps and ServiceAccounts its pods use and writes only its own Node and Lease), RBAC (roles and bindings; the bootstrap roles give each Keel daemon what it needs), AlwaysAllow (every authenticated caller may do anything: named explicitly only, logged as a warning); members of system:masters are always allowed")
	f.BoolVar(&o.anonymousAuth, "anonymous-auth", false, "accept requests without credentials as user system:anonymous in group system:unauthenticated (authorization still applies)")
	f.StringArrayVar(&o.saKeyFiles, "service-account-key-file", nil, "PEM file of public keys (or private keys, or certificates) that verify ServiceAccount tokens; repeatable, every key is tried (keep the old key here while rotating); none disables ServiceAccount tokens")
	f.StringVar(&o.saIssuer, "service-account-issuer", serviceaccount.DefaultIssuer, "the iss claim of ServiceAccount tokens; tokens of another issuer are not ServiceAccount tokens")
	f.StringVar(&o.saSigningKey, "service-account-signing-key-file", "", "PEM private key (RSA or P-256 ECDSA) that signs the tokens of the TokenRequest API (serviceaccounts/token, keelctl create token); put its public half in --service-account-key-file; empty: TokenRequest is not served")
	f.DurationVar(&o.saMaxExpiration, "service-account-max-token-expiration", 0, "the longest a TokenRequest token lives: longer requests get this lifetime (between 1h and 2^32s; 0: no cap)")
	f.StringSliceVar(&o.apiAudiences, "api-audiences", nil, "audiences a ServiceAccount token must name one of (default: --service-account-issuer)")
	f.BoolVar(&o.bootstrapTokens, "enable-bootstrap-token-auth", false, "authenticate bearer tokens ID.SECRET of Secrets of type bootstrap.kubernetes.io/token named bootstrap-token-ID in kube-system, as user system:bootstrap:ID in group system:bootstrappers (how a joining node's kubelet asks for its certificate)")
	f.StringVar(&o.auditPolicyFile, "audit-policy-file", "", "audit.k8s.io/v1 Policy deciding what is recorded of each request (levels None, Metadata, Request, RequestResponse; see docs/audit.md); without it nothing is audited")
	f.StringVar(&o.auditLog.Path, "audit-log-path", "", "file the audit events are appended to as JSON lines (audit.k8s.io/v1 Event), \"-\" for standard output; empty: no audit log")
	f.IntVar(&o.auditLog.MaxSize, "audit-log-maxsize", 0, "size in megabytes at which the audit log is rotated (0: 100 when --audit-log-maxbackup or --audit-log-maxage is set, else never rotated)")
	f.IntVar(&o.auditLog.MaxBackups, "audit-log-maxbackup", 0, "rotated audit log files kept (0: all, as far as --audit-log-maxage allows)")
	f.IntVar(&o.auditLog.MaxAge, "audit-log-maxage", 0, "days rotated audit log files are kept (0: no age limit)")
	f.StringVar(&o.secureAddress, "secure-address", "0.0.0.0:6443", "TLS listener for the gRPC API and, on the same port, HTTPS for /metrics and /debug/pprof/ (authorized: get on the path, e.g. group system:monitoring for /metrics) and /healthz, /livez, /readyz (anyone); needs --tls-cert-file, --tls-private-key-file, --client-ca-file; empty disables it")
	f.StringVar(&o.advertiseAddress, "advertise-address", "", "IP address at which pods reach this apiserver (on the --secure-address port): listed, with every other live apiserver, in the Endpoints of the Service default/kubernetes, which the apiserver keeps on the first IP of --service-cluster-ip-range (default: the --secure-address host, or the host's primary IP when that is 0.0.0.0)")
	f.StringVar(&o.insecureAddress, "insecure-address", "", "plain-text listener, loopback addresses only, every caller is a cluster admin (e.g. 127.0.0.1:8080); empty disables it")
	f.StringVar(&o.tlsCert, "tls-cert-file", "", "the apiserver's serving certificate")
	f.StringVar(&o.tlsKey, "tls-private-key-file", "", "the key of --tls-cert-file")
	f.StringVar(&o.clientCA, "client-ca-file", "", "CA that signs client certificates (CN is the user, O the groups)")
	f.StringVar(&o.kubeletCert, "kubelet-client-certificate", "", "client certificate the apiserver presents to kubelets for logs and exec (apiserver-kubelet-client.crt)")
	f.StringVar(&o.kubeletKey, "kubelet-client-key", "", "the key of --kubelet-client-certificate")
	f.StringVar(&o.kubeletCA, "kubelet-certificate-authority", "", "CA that signs the kubelets' serving certificates (default: --client-ca-file)")
	f.StringSliceVar(&o.etcdServers, "etcd-servers", nil, "external etcd cluster client URLs, all https:// (mutual TLS: needs --etcd-cafile, --etcd-certfile, --etcd-keyfile) or all http:// (plain text, unauthenticated); empty runs an embedded single-member etcd")
	f.StringVar(&o.etcdCAFile, "etcd-cafile", "", "CA that signs the serving certificates of the --etcd-servers (etcd/ca.crt from keelctl pki init); only this CA is trusted")
	f.StringVar(&o.etcdCertFile, "etcd-certfile", "", "client certificate the apiserver presents to the --etcd-servers (apiserver-etcd-client.crt)")
	f.StringVar(&o.etcdKeyFile, "etcd-keyfile", "", "the key of --etcd-certfile")
	f.StringVar(&o.dataDir, "data-dir", "/var/lib/keel/etcd", "embedded etcd's data directory")
	f.StringVar(&o.etcdClientURL, "embedded-etcd-client-url", "", "embedded etcd's client listener, for etcdctl (backups, inspection): unix:///PATH (default unix://DATA-DIR/etcd.sock, reachable only by who may enter DATA-DIR) or https://HOST:PORT (mutual TLS: needs --embedded-etcd-cert-file, --embedded-etcd-key-file, --embedded-etcd-trusted-ca-file); http:// is refused")
	f.StringVar(&o.etcdServingTLS.CertFile, "embedded-etcd-cert-file", "", "serving certificate of the embedded member's https:// client URL (etcd/server.crt from keelctl pki init)")
	f.StringVar(&o.etcdServingTLS.KeyFile, "embedded-etcd-key-file", "", "the key of --embedded-etcd-cert-file")
	f.StringVar(&o.etcdServingTLS.TrustedCAFile, "embedded-etcd-trusted-ca-file", "", "CA that signs the certificates of the embedded member's clients (etcd/ca.crt): a client without one is refused")
	f.StringVar(&o.etcdPeerURL, "embedded-etcd-peer-url", "", "no effect: the single-member embedded etcd opens no peer listener")
	_ = f.MarkDeprecated("embedded-etcd-peer-url", "the single-member embedded etcd opens no peer listener; the flag has no effect")
	f.BoolVar(&o.etcdNoFsync, "embedded-etcd-unsafe-no-fsync", false, "skip fsync in embedded etcd (tests and benchmarks only: data is lost on power failure)")
	f.StringVar(&o.encryptionConfig, "encryption-provider-config", "", "EncryptionConfiguration file (apiserver.config.k8s.io/v1) saying which resources are encrypted in etcd and with which providers (aesgcm, aescbc, secretbox, identity) and keys: the first provider writes, all read (see docs/encryption.md); empty: nothing is encrypted")
	f.StringVar(&o.serviceIPRange, "service-cluster-ip-range", "10.96.0.0/16", "CIDR from which Service ClusterIPs are allocated")
	f.StringVar(&o.nodePortRange, "service-node-port-range", "30000-32767", "range from which Service NodePorts are allocated")
	f.StringVar(&o.httpAddress, "http-address", "127.0.0.1:6444", "plain-HTTP listener for /healthz, /livez and /readyz only, open to anyone (/metrics and /debug/pprof/ are on --secure-address, behind authorization); empty disables it")
	f.IntVar(&o.watchCacheSize, "watch-cache-size", 10000, "recent events kept per resource for resuming watches")
	f.DurationVar(&o.bookmarkInterval, "watch-bookmark-interval", 10*time.Second, "how often watchers that ask for bookmarks get one")
	f.DurationVar(&o.compactInterval, "etcd-compaction-interval", 5*time.Minute, "how often etcd history older than one interval is compacted; 0 disables")
	f.IntVar(&o.maxInflight, "max-requests-inflight", flowcontrol.DefaultMaxRequestsInflight, "with --max-mutating-requests-inflight, the requests served at once, shared among the priority levels (system, leader-election, workload-high, workload-low, global-default, catch-all; see docs/overload.md); more wait in fair per-user queues or are refused with ResourceExhausted and a retry-after hint")
	f.IntVar(&o.maxMutating, "max-mutating-requests-inflight", flowcontrol.DefaultMaxMutatingRequestsInflight, "added to --max-requests-inflight: the two flags' sum is the apiserver's concurrency limit")
	f.IntVar(&o.maxWatches, "max-watches", flowcontrol.DefaultMaxWatches, "open watches at most, in all (a watch holds no seat once its initial state is sent); more are refused with ResourceExhausted and a retry-after hint; 0: no limit")
	f.IntVar(&o.maxUserWatches, "max-watches-per-user", flowcontrol.DefaultMaxWatchesPerUser, "open watches at most per user (system:masters are not limited); 0: no limit")
	f.DurationVar(&o.eventTTL, "event-ttl", apiserver.DefaultEventTTL, "how long an Event is kept after its last write; etcd then deletes it (whole seconds, one etcd lease shared by the writes of up to a minute)")
	return cmd
}

func run(ctx context.Context, o *options, log *zap.Logger) error {
	if err := checkLimits(o); err != nil {
		return err
	}
	if o.eventTTL <= 0 {
		return fmt.Errorf("--event-ttl must be greater than 0, got %s", o.eventTTL)
	}
	var encryption *encryptionconfig.Config
	if o.encryptionConfig != "" {
		var err error
		if encryption, err = encryptionconfig.Load(o.encryptionConfig, apiserver.StoredResources()); err != nil {
			return fmt.Errorf("--encryption-provider-config: %w", err)
		}
		log.Info("encrypting resources at rest", zap.String("config", o.encryptionConfig))
	}
	if slices.Contains(o.authzModes, apiserver.ModeAlwaysAllow) {
		log.Warn("--authorization-mode includes AlwaysAllow: every authenticated caller may do anything", zap.Strings("authorizationModes", o.authzModes))
	}
	var tlsConfig *tls.Config
	var err error
	if o.secureAddress != "" {
		if o.tlsCert == "" || o.tlsKey == "" || o.clientCA == "" {
			if o.insecureAddress == "" {
				return errors.New("--secure-address needs --tls-cert-file, --tls-private-key-file and --client-ca-file (or set --secure-address='' and use --insecure-address on loopback)")
			}
			log.Warn("no TLS certificates given: serving only the insecure loopback listener")
			o.secureAddress = ""
		} else if tlsConfig, err = pki.ServerTLSConfig(o.tlsCert, o.tlsKey, o.clientCA); err != nil {
			return err
		} else {
			// Verify a certificate when one is presented, and let the
			// authentication interceptor answer a missing one with a clear
			// Unauthenticated error instead of a failed handshake.
			tlsConfig.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	if o.secureAddress == "" && o.insecureAddress == "" {
		return errors.New("no listener: set --secure-address (with TLS files) or --insecure-address")
	}
	kubeletTLS, err := kubeletClientTLS(o)
	if err != nil {
		return err
	}
	etcdTLS, err := etcdClientTLS(o)
	if err != nil {
		return err
	}
	if err := checkEmbeddedEtcd(o); err != nil {
		return err
	}
	if len(o.etcdServers) > 0 && etcdTLS == nil {
		log.Warn("--etcd-servers are http://: etcd traffic is plain text and anyone who reaches etcd may read and write every object; use https:// with --etcd-cafile, --etcd-certfile, --etcd-keyfile")
	}
	var saKeys []crypto.PublicKey
	for _, f := range o.saKeyFiles {
		keys, err := serviceaccount.ReadPublicKeys(f)
		if err != nil {
			return fmt.Errorf("--service-account-key-file: %w", err)
		}
		saKeys = append(saKeys, keys...)
	}
	if len(saKeys) == 0 {
		log.Warn("no --service-account-key-file: ServiceAccount tokens are not accepted")
	}
	saSigner, err := serviceAccountSigningKey(o)
	if err != nil {
		return err
	}
	if kubeletTLS == nil {
		log.Warn("no --kubelet-client-certificate/--kubelet-client-key: logs and exec are unavailable")
	}
	auditor, closeAudit, err := openAudit(o, log)
	if err != nil {
		return err
	}
	defer closeAudit()

	// Bind every listener first: a taken or non-loopback address fails the
	// start before anything else happens.
	var ls Listeners
	defer ls.close()
	if o.secureAddress != "" {
		if ls.Secure, err = net.Listen("tcp", o.secureAddress); err != nil {
			return fmt.Errorf("--secure-address: %w", err)
		}
		ls.TLS = tlsConfig
	}
	if o.insecureAddress != "" {
		l, err := net.Listen("tcp", o.insecureAddress)
		if err != nil {
			return fmt.Errorf("--insecure-address: %w", err)
		}
		if ls.Insecure, err = auth.InsecureLoopbackListener(l); err != nil {
			l.Close()
			return fmt.Errorf("--insecure-address %s: %w", o.insecureAddress, err)
		}
		log.Warn("plain-text API listener on loopback: every local caller is a cluster admin", zap.String("address", ls.Insecure.Addr().String()))
	}
	if o.httpAddress != "" {
		if ls.Health, err = net.Listen("tcp", o.httpAddress); err != nil {
			return fmt.Errorf("--http-address: %w", err)
		}
	}

	advertiseIP, securePort, advertise, err := advertiseAddress(o.advertiseAddress, ls.Secure)
	if err != nil {
		return err
	}
	if !advertise {
		log.Warn("no --secure-address: the Service default/kubernetes is not kept, pods cannot reach the API")
	}

	var store *storage.Etcd
	if len(o.etcdServers) == 0 {
		etcd, err := etcdserver.Start(etcdserver.Options{DataDir: o.dataDir, ClientURL: o.etcdClientURL, ClientTLS: o.etcdServingTLS, Logger: log, UnsafeNoFsync: o.etcdNoFsync})
		if err != nil {
			return err
		}
		defer etcd.Close()
		log.Info("embedded etcd started", zap.String("endpoint", etcd.Endpoint), zap.String("dataDir", o.dataDir))
		c := etcd.Client()
		defer c.Close()
		store = storage.NewEtcd(c)
	} else {
		var err error
		if store, err = storage.OpenEtcd(o.etcdServers, etcdTLS, log); err != nil {
			return fmt.Errorf("etcd: %w", err)
		}
		defer store.Close()
	}

	srv, err := apiserver.New(apiserver.Config{
		Store:                            store,
		ServiceClusterIPRange:            o.serviceIPRange,
		ServiceNodePortRange:             o.nodePortRange,
		Logger:                           log,
		WatchCacheWindow:                 o.watchCacheSize,
		BookmarkInterval:                 o.bookmarkInterval,
		KubeletClientTLS:                 kubeletTLS,
		AuthorizationModes:               o.authzModes,
		AnonymousAuth:                    o.anonymousAuth,
		ServiceAccountKeys:               saKeys,
		ServiceAccountIssuer:             o.saIssuer,
		APIAudiences:                     o.apiAudiences,
		ServiceAccountSigningKey:         saSigner,
		ServiceAccountMaxTokenExpiration: o.saMaxExpiration,
		EnableBootstrapTokenAuth:         o.bootstrapTokens,
		AdvertiseAddress:                 advertiseIP,
		SecurePort:                       securePort,
		MaxRequestsInflight:              o.maxInflight,
		MaxMutatingRequestsInflight:      o.maxMutating,
		MaxWatches:                       noLimit(o.maxWatches),
		MaxWatchesPerUser:                noLimit(o.maxUserWatches),
		EventTTL:                         o.eventTTL,
		Encryption:                       encryption,
		Auditor:                          auditor,
	})
	if err != nil {
		return err
	}
	api, err := Serve(ctx, srv, ls, log)
	if err != nil {
		return err
	}
	defer api.Stop()
	if o.compactInterval > 0 {
		go apiserver.RunCompactor(ctx, store, o.compactInterval, log)
	}
	log.Info("serving the API", zap.Strings("addresses", ls.addrs()))
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		api.GracefulStop(5 * time.Second)
		<-srv.Stopped()
		return nil
	case err := <-api.Err():
		if err != nil && !strings.Contains(err.Error(), "closed") {
			return err
		}
		return nil
	}
}

// checkLimits refuses overload protection flags that make no sense.
func checkLimits(o *options) error {
	for _, f := range []struct {
		name string
		v    int
		min  int
	}{{"--max-requests-inflight", o.maxInflight, 1}, {"--max-mutating-requests-inflight", o.maxMutating, 1},
		{"--max-watches", o.maxWatches, 0}, {"--max-watches-per-user", o.maxUserWatches, 0}} {
		if f.v < f.min {
			return fmt.Errorf("%s %d: must be at least %d", f.name, f.v, f.min)
		}
	}
	return nil
}

// noLimit is the Config value of a watch limit flag: 0 (no limit) is -1.
func noLimit(v int) int {
	if v == 0 {
		return -1
	}
	return v
}

// openAudit reads --audit-policy-file and opens --audit-log-path: nil
// (nothing audited) unless both are set. The returned func writes out
// the buffered events and closes the log; call it once the API is no
// longer served.
func openAudit(o *options, log *zap.Logger) (*audit.Auditor, func(), error) {
	var policy *audit.Policy
	if o.auditPolicyFile != "" {
		var err error
		if policy, err = audit.LoadPolicy(o.auditPolicyFile); err != nil {
			return nil, nil, fmt.Errorf("--audit-policy-file: %w", err)
		}
	}
	switch {
	case policy == nil && o.auditLog.Path == "":
		return nil, func() {}, nil
	case policy == nil:
		log.Warn("--audit-log-path without --audit-policy-file: nothing is audited")
		return nil, func() {}, nil
	case o.auditLog.Path == "":
		log.Warn("--audit-policy-file without --audit-log-path: nothing is audited")
		return nil, func() {}, nil
	}
	out, err := o.auditLog.Open()
	if err != nil {
		return nil, nil, err
	}
	w := audit.NewWriter(out, audit.DefaultBufferSize, log)
	log.Info("audit log", zap.String("path", o.auditLog.Path), zap.String("policy", o.auditPolicyFile), zap.Int("rules", len(policy.Rules)))
	return audit.NewAuditor(policy, w, nil), func() {
		if err := w.Close(); err != nil {
			log.Error("closing the audit log", zap.Error(err))
		}
	}, nil
}

// serviceAccountSigningKey reads --service-account-signing-key-file (nil
// without it: TokenRequest is not served) and checks
// --service-account-max-token-expiration (0, or 1h to 2^32s, as in
// Kubernetes).
func serviceAccountSigningKey(o *options) (crypto.Signer, error) {
	if m := o.saMaxExpiration; m != 0 && (m < time.Hour || m > (1<<32)*time.Second) {
		return nil, fmt.Errorf("--service-account-max-token-expiration %s: must be between 1h and 2^32s, or 0 for no cap", m)
	}
	if o.saSigningKey == "" {
		return nil, nil
	}
	key, err := serviceaccount.ReadPrivateKey(o.saSigningKey)
	if err != nil {
		return nil, fmt.Errorf("--service-account-signing-key-file: %w", err)
	}
	return key, nil
}

// etcdClientTLS checks --etcd-servers and the --etcd-cafile,
// --etcd-certfile, --etcd-keyfile flags and returns the TLS configuration for
// reaching external etcd: nil for http:// servers (and for the embedded
// member, which the apiserver calls in process). https:// servers need all
// three files, read and checked now; http:// servers take none, and the two
// schemes do not mix.
func etcdClientTLS(o *options) (*tls.Config, error) {
	files := o.etcdCAFile != "" || o.etcdCertFile != "" || o.etcdKeyFile != ""
	if len(o.etcdServers) == 0 {
		if files {
			return nil, errors.New("--etcd-cafile, --etcd-certfile and --etcd-keyfile are for an external etcd (--etcd-servers); the embedded member has its own --embedded-etcd-* flags")
		}
		return nil, nil
	}
	var https, http []string
	for _, s := range o.etcdServers {
		u, err := url.Parse(s)
		switch {
		case err != nil:
			return nil, fmt.Errorf("--etcd-servers %q: want https://HOST:PORT (or http://HOST:PORT): %w", s, err)
		case u.Scheme == "https" && u.Host != "":
			https = append(https, s)
		case u.Scheme == "http" && u.Host != "":
			http = append(http, s)
		default:
			return nil, fmt.Errorf("--etcd-servers %q: want https://HOST:PORT (or http://HOST:PORT)", s)
		}
	}
	if len(http) > 0 {
		if len(https) > 0 {
			return nil, fmt.Errorf("--etcd-servers mixes https:// and http:// URLs (%s): give all members as https://", strings.Join(http, ", "))
		}
		if files {
			return nil, errors.New("--etcd-cafile, --etcd-certfile and --etcd-keyfile need https:// --etcd-servers: these are http://")
		}
		return nil, nil
	}
	for _, f := range []struct{ flag, value, what string }{
		{"--etcd-cafile", o.etcdCAFile, "the CA that signs etcd's serving certificates"},
		{"--etcd-certfile", o.etcdCertFile, "the apiserver's client certificate for etcd"},
		{"--etcd-keyfile", o.etcdKeyFile, "the key of --etcd-certfile"},
	} {
		if f.value == "" {
			return nil, fmt.Errorf("https:// --etcd-servers need %s (%s)", f.flag, f.what)
		}
	}
	if _, err := pki.CertPoolFromFile(o.etcdCAFile); err != nil {
		return nil, fmt.Errorf("--etcd-cafile: %w", err)
	}
	tc, err := pki.ClientTLSConfig(o.etcdCAFile, o.etcdCertFile, o.etcdKeyFile, "")
	if err != nil {
		return nil, fmt.Errorf("--etcd-certfile, --etcd-keyfile: %w", err)
	}
	return tc, nil
}

// checkEmbeddedEtcd checks the flags of the embedded member before anything
// is written: its TLS files only with an https:// --embedded-etcd-client-url
// and only without --etcd-servers, all three of them then, readable and
// matching. etcdserver.Start checks the URL itself.
func checkEmbeddedEtcd(o *options) error {
	tlsFiles := o.etcdServingTLS != etcdserver.TLSFiles{}
	if len(o.etcdServers) > 0 {
		if tlsFiles || o.etcdClientURL != "" {
			return errors.New("--embedded-etcd-client-url, --embedded-etcd-cert-file, --embedded-etcd-key-file and --embedded-etcd-trusted-ca-file configure the embedded member, which does not run with --etcd-servers")
		}
		return nil
	}
	if !strings.HasPrefix(o.etcdClientURL, "https://") {
		if tlsFiles {
			return fmt.Errorf("--embedded-etcd-cert-file, --embedded-etcd-key-file and --embedded-etcd-trusted-ca-file need an https:// --embedded-etcd-client-url (it is %q)", o.etcdClientURL)
		}
		return nil
	}
	for _, f := range []struct{ flag, value string }{
		{"--embedded-etcd-cert-file", o.etcdServingTLS.CertFile},
		{"--embedded-etcd-key-file", o.etcdServingTLS.KeyFile},
		{"--embedded-etcd-trusted-ca-file", o.etcdServingTLS.TrustedCAFile},
	} {
		if f.value == "" {
			return fmt.Errorf("an https:// --embedded-etcd-client-url needs %s", f.flag)
		}
	}
	if _, err := pki.CertPoolFromFile(o.etcdServingTLS.TrustedCAFile); err != nil {
		return fmt.Errorf("--embedded-etcd-trusted-ca-file: %w", err)
	}
	if err := o.etcdServingTLS.Check(); err != nil {
		return fmt.Errorf("--embedded-etcd-cert-file, --embedded-etcd-key-file: %w", err)
	}
	return nil
}

// kubeletClientTLS is the TLS configuration for reaching kubelets (logs,
// exec): nil when no kubelet client certificate is configured.
func kubeletClientTLS(o *options) (*tls.Config, error) {
	if o.kubeletCert == "" && o.kubeletKey == "" {
		return nil, nil
	}
	if o.kubeletCert == "" || o.kubeletKey == "" {
		return nil, errors.New("--kubelet-client-certificate and --kubelet-client-key go together")
	}
	ca := o.kubeletCA
	if ca == "" {
		ca = o.clientCA
	}
	if ca == "" {
		return nil, errors.New("--kubelet-client-certificate needs --kubelet-certificate-authority (or --client-ca-file) to verify the kubelets")
	}
	tc, err := pki.ClientTLSConfig(ca, o.kubeletCert, o.kubeletKey, "")
	if err != nil {
		return nil, fmt.Errorf("kubelet client certificate: %w", err)
	}
	return tc, nil
}
