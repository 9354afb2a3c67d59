package apiserver

import (
	"context"

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
	issuer := s.cfg.ServiceAccountIssuer
	if issuer == "" {
		issuer = serviceaccount.DefaultIssuer
	}
	audiences := s.cfg.APIAudiences
	if len(audiences) == 0 {
		audiences = []string{issuer}
	}
	return &serviceaccount.Authenticator{Issuer: issuer, Audiences: audiences, Keys: s.cfg.ServiceAccountKeys,
		Objects: cachedObjects{s}, Now: s.cfg.Now}
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
