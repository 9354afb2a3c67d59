package apiserver

import (
	"context"
	"slices"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/serviceaccount"
)

// serviceAccountAuthenticator is the authenticator of ServiceAccount
// tokens Config asks for (nil when it names no keys), checking revocation
// against the apiserver's own caches.
func (s *Server) serviceAccountAuthenticator() auth.TokenAuthenticator {
	if len(s.cfg.ServiceAccountKeys) == 0 {
		return nil
	}
	return &serviceaccount.Authenticator{Issuer: s.issuer(), Audiences: s.apiAudiences(), Keys: s.cfg.ServiceAccountKeys,
		Objects: cachedObjects{s}, Now: s.cfg.Now}
}

// issuer is the service-account token issuer: ServiceAccountIssuer, else
// serviceaccount.DefaultIssuer.
func (s *Server) issuer() string {
	if s.cfg.ServiceAccountIssuer == "" {
		return serviceaccount.DefaultIssuer
	}
	return s.cfg.ServiceAccountIssuer
}

// apiAudiences are the audiences the apiserver accepts tokens for and
// issues them to by default: APIAudiences, else the issuer.
func (s *Server) apiAudiences() []string {
	if len(s.cfg.APIAudiences) == 0 {
		return []string{s.issuer()}
	}
	return slices.Clone(s.cfg.APIAudiences)
}

// cachedObjects is serviceaccount.Getter over the watch caches.
type cachedObjects struct{ s *Server }

func (c cachedObjects) ServiceAccount(_ context.Context, ns, name string) (*corev1.ServiceAccount, bool, error) {
	m, err := c.s.resources["serviceaccounts"].cachedGet(ns, name)
	if err != nil || m == nil {
		return nil, false, err
	}
	return m.(*corev1.ServiceAccount), true, nil
}

func (c cachedObjects) Pod(_ context.Context, ns, name string) (*corev1.Pod, bool, error) {
	m, err := c.s.resources["pods"].cachedGet(ns, name)
	if err != nil || m == nil {
		return nil, false, err
	}
	return m.(*corev1.Pod), true, nil
}

func (c cachedObjects) Secret(_ context.Context, ns, name string) (*corev1.Secret, bool, error) {
	m, err := c.s.resources["secrets"].cachedGet(ns, name)
	if err != nil || m == nil {
		return nil, false, err
	}
	return m.(*corev1.Secret), true, nil
}
