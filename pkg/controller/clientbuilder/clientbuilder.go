// Package clientbuilder gives keel-controller-manager's controllers their
// clients under --use-service-account-credentials, as Kubernetes'
// service-account controller client builder: each controller acts as its
// own ServiceAccount in kube-system, with a token the controller-manager
// requests (TokenRequest) with its own credential and replaces before it
// expires, so its writes and Events are authorized by, and attributed to,
// system:serviceaccount:kube-system:NAME.
package clientbuilder

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/token"
)

// ExpirationSeconds is the lifetime asked for each token (Kubernetes'
// one hour); it is replaced after 80% of it (token.NeedsRefresh).
const ExpirationSeconds = 3600

// RequestTimeout bounds each request for a token.
const RequestTimeout = 10 * time.Second

// Builder makes the controllers' clients. It is safe for concurrent use.
type Builder struct {
	root   *client.Client
	opts   client.Options
	tokens *token.Manager
	log    *zap.Logger

	mu      sync.Mutex
	clients []*client.Client
}

// New returns a Builder that ensures the ServiceAccounts and requests
// their tokens through root (the controller-manager's own identity) and
// connects each controller as opts says (the controller-manager's
// connection settings), but with the token instead of any other
// credential. The connection must be TLS: a token is never sent in plain
// text. log (may be nil) tells of created ServiceAccounts and failed
// refreshes.
func New(root *client.Client, opts client.Options, log *zap.Logger) (*Builder, error) {
	if opts.TLS == nil {
		return nil, errors.New("--use-service-account-credentials needs a TLS connection to the apiserver (the controllers' tokens are sent over TLS only)")
	}
	// A client certificate would win over the token on the apiserver.
	opts.TLS = opts.TLS.Clone()
	opts.TLS.Certificates, opts.TLS.GetClientCertificate = nil, nil
	opts.BearerToken, opts.BearerTokenFile, opts.BearerTokenSource = "", "", nil
	if log == nil {
		log = zap.NewNop()
	}
	b := &Builder{root: root, opts: opts, log: log}
	b.tokens = token.NewManager(token.ClientRequester(root, RequestTimeout), clock.RealClock{}, log)
	return b, nil
}

// Client returns a new client acting as the ServiceAccount
// kube-system/serviceAccount, its user agent the Builder's followed by
// "/" and the ServiceAccount's name. It makes no call: the first call it serves
// gets a token, creating the ServiceAccount if it does not exist, and
// later calls get a fresh token before the current one expires. Close
// closes it.
func (b *Builder) Client(serviceAccount string) (*client.Client, error) {
	opts := b.opts
	opts.BearerTokenSource = func(ctx context.Context) (string, error) { return b.token(ctx, serviceAccount) }
	if opts.UserAgent != "" {
		opts.UserAgent += "/" + serviceAccount
	}
	c, err := client.New(opts)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clients = append(b.clients, c)
	return c, nil
}

// Close closes the clients Client made.
func (b *Builder) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.clients {
		c.Close()
	}
	b.clients = nil
}

// token is a current token of kube-system/name: the cached one, or a new
// one, the ServiceAccount created first if it does not exist.
func (b *Builder) token(ctx context.Context, name string) (string, error) {
	sa := token.Pod{Namespace: api.NamespaceSystem, ServiceAccount: name}
	tok, err := b.tokens.Get(ctx, sa, "", ExpirationSeconds)
	if !apierrors.IsNotFound(err) {
		return tok, err
	}
	_, err = client.For[*corev1.ServiceAccount](b.root, api.NamespaceSystem).Create(ctx,
		&corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: name, Namespace: api.NamespaceSystem}}, client.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating the ServiceAccount %s/%s: %w", api.NamespaceSystem, name, err)
	}
	if err == nil {
		b.log.Info("created a controller's ServiceAccount", zap.String("serviceAccount", api.NamespaceSystem+"/"+name))
	}
	return b.tokens.Get(ctx, sa, "", ExpirationSeconds)
}
