// Package token is the client side of service account tokens: it asks
// the apiserver (TokenRequest) for tokens, caches them and asks for a new
// one before the old one expires, as Kubernetes' kubelet does. The kubelet
// uses it for the tokens of the pods' projected serviceAccountToken volumes
// (bound to the pod); keel-controller-manager
// --use-service-account-credentials for its controllers' tokens (bound to
// no object).
//
// NeedsRefresh is the pure decision; Manager is the cache and the I/O
// edge (a Requester).
package token

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	authenticationv1 "keel.dev/keel/pkg/apis/authentication/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
)

// MaxTTL is the age past which a token is replaced whatever its lifetime
// (Kubernetes' 24 hours).
const MaxTTL = 24 * time.Hour

// NeedsRefresh tells whether the token tr (an answered TokenRequest, its
// spec.expirationSeconds the lifetime granted) must be replaced at now:
// when it has lived 80% of its lifetime, or longer than MaxTTL. A token
// without a lifetime or expiry is always replaced.
func NeedsRefresh(tr *authenticationv1.TokenRequest, now time.Time) bool {
	due, ok := refreshAt(tr)
	return !ok || !now.Before(due)
}

// refreshAt is when tr is due for refresh (see NeedsRefresh); false when
// it has no lifetime or expiry.
func refreshAt(tr *authenticationv1.TokenRequest) (time.Time, bool) {
	exp := tr.GetStatus().GetExpirationTimestamp()
	secs := tr.GetSpec().GetExpirationSeconds()
	if exp == nil || secs <= 0 {
		return time.Time{}, false
	}
	lifetime := time.Duration(secs) * time.Second
	issued := exp.AsTime().Add(-lifetime)
	return issued.Add(min(lifetime*8/10, MaxTTL)), true
}

// Requester asks the apiserver for a token of the service account
// namespace/name (serviceaccounts/token) and returns its answer.
type Requester func(ctx context.Context, namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)

// ClientRequester is the Requester that asks through c, each request
// given at most timeout.
func ClientRequester(c *client.Client, timeout time.Duration) Requester {
	return func(ctx context.Context, namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		out, err := client.For[*corev1.ServiceAccount](c, namespace).CreateSubresource(ctx, name, "token", tr, client.CreateOptions{})
		if err != nil {
			return nil, err
		}
		answer, ok := out.(*authenticationv1.TokenRequest)
		if !ok {
			return nil, fmt.Errorf("the apiserver answered a token request with a %T", out)
		}
		return answer, nil
	}
}

// Pod is the pod a token is bound to. With an empty Name and UID the
// token is bound to no object: a token of the ServiceAccount alone.
type Pod struct {
	Namespace, Name, UID string
	// ServiceAccount is the pod's spec.serviceAccountName.
	ServiceAccount string
}

// key identifies a cached token.
type key struct {
	namespace, serviceAccount, podUID, audience string
	expirationSeconds                           int64
}

// Manager caches tokens per pod, service account, audience and requested
// lifetime. It is safe for concurrent use; one Get at a time talks to the
// apiserver.
type Manager struct {
	request Requester
	clock   clock.PassiveClock
	log     *zap.Logger

	mu    sync.Mutex
	cache map[key]*authenticationv1.TokenRequest
}

// NewManager returns a Manager that gets tokens through request and reads
// the time from c; log (may be nil) tells of failed refreshes.
func NewManager(request Requester, c clock.PassiveClock, log *zap.Logger) *Manager {
	if log == nil {
		log = zap.NewNop()
	}
	return &Manager{request: request, clock: c, log: log, cache: map[key]*authenticationv1.TokenRequest{}}
}

// Get returns a token of pod's service account for audience (empty: the
// apiserver's own audiences) asking for expirationSeconds of lifetime,
// bound to the pod: the cached one, or a new one when there is none or
// NeedsRefresh says so. When asking for a new one fails while the cached
// one has not expired, the cached one is returned. Expired tokens are
// dropped from the cache.
func (m *Manager) Get(ctx context.Context, pod Pod, audience string, expirationSeconds int64) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	for k, tr := range m.cache {
		if !now.Before(tr.GetStatus().GetExpirationTimestamp().AsTime()) {
			delete(m.cache, k)
		}
	}
	k := key{namespace: pod.Namespace, serviceAccount: pod.ServiceAccount, podUID: pod.UID, audience: audience, expirationSeconds: expirationSeconds}
	cached := m.cache[k]
	if cached != nil && !NeedsRefresh(cached, now) {
		return cached.GetStatus().GetToken(), nil
	}
	req := &authenticationv1.TokenRequest{Spec: &authenticationv1.TokenRequestSpec{ExpirationSeconds: &expirationSeconds}}
	if pod.Name != "" {
		req.Spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: "Pod", ApiVersion: "v1", Name: pod.Name, Uid: pod.UID}
	}
	if audience != "" {
		req.Spec.Audiences = []string{audience}
	}
	tr, err := m.request(ctx, pod.Namespace, pod.ServiceAccount, req)
	if err == nil && (tr.GetStatus().GetToken() == "" || tr.GetStatus().GetExpirationTimestamp() == nil) {
		err = fmt.Errorf("the apiserver answered without a token or its expiry")
	}
	if err != nil {
		if cached != nil {
			m.log.Warn("refreshing a service account token failed; the current one is kept until it expires",
				zap.String("pod", pod.Namespace+"/"+pod.Name), zap.String("serviceAccount", pod.ServiceAccount), zap.Error(err))
			return cached.GetStatus().GetToken(), nil
		}
		return "", fmt.Errorf("requesting a token of service account %s/%s: %w", pod.Namespace, pod.ServiceAccount, err)
	}
	m.cache[k] = tr
	return tr.GetStatus().GetToken(), nil
}

// RefreshAt returns when the first of the cached tokens of the pod with
// uid is due for refresh, so that the caller syncs its volumes then; false
// when the pod has none.
func (m *Manager) RefreshAt(uid string) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var first time.Time
	found := false
	for k, tr := range m.cache {
		if k.podUID != uid {
			continue
		}
		if at, ok := refreshAt(tr); ok && (!found || at.Before(first)) {
			first, found = at, true
		}
	}
	return first, found
}

// ForgetPod drops the tokens bound to the pod with uid (it is gone).
func (m *Manager) ForgetPod(uid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.cache {
		if k.podUID == uid {
			delete(m.cache, k)
		}
	}
}
