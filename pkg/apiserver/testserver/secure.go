package testserver

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/pki"
)

// Secure is an apiserver as the daemons meet it in a real cluster: TLS
// only, every caller authenticated by its certificate and authorized by
// the Node authorizer and RBAC (with the bootstrap policy), certificates from pki.Init in PKIDir;
// it reaches kubelets with the apiserver-kubelet-client key pair.
type Secure struct {
	*APIServer
	// PKIDir holds the cluster's key pairs (see pki.Init): pki.AdminName
	// (system:masters), pki.SchedulerName, pki.ControllerManagerName,
	// pki.ProxyName, and pki.KubeletClientName(node) for each node.
	PKIDir string
	logs   *observer.ObservedLogs
}

// StartSecure starts an etcd and an apiserver on it serving TLS with
// --authorization-mode=Node,RBAC, with certificates for the given nodes'
// kubelets besides the daemons' and the admin's. configure, if not nil,
// adjusts the Config further.
func StartSecure(t testing.TB, nodes []string, configure func(*apiserver.Config)) *Secure {
	t.Helper()
	dir := t.TempDir()
	opts := pki.InitOptions{Dir: dir, Hostname: "localhost"}
	for _, n := range nodes {
		opts.Nodes = append(opts.Nodes, pki.Node{Name: n})
	}
	if _, err := pki.Init(opts); err != nil {
		t.Fatal(err)
	}
	serverTLS, err := pki.ServerTLSConfig(pki.CertPath(dir, pki.APIServerName), pki.KeyPath(dir, pki.APIServerName), pki.CertPath(dir, pki.CAName))
	if err != nil {
		t.Fatal(err)
	}
	serverTLS.ClientAuth = tls.VerifyClientCertIfGiven // as keel-apiserver
	kubeletTLS, err := pki.ClientTLSConfig(pki.CertPath(dir, pki.CAName), pki.CertPath(dir, pki.APIServerKubeletClientName),
		pki.KeyPath(dir, pki.APIServerKubeletClientName), "")
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	e := StartEtcd(t)
	a := &APIServer{Addr: "127.0.0.1:0", t: t, endpoint: e.Endpoint, member: e, opts: Options{TLS: serverTLS,
		Configure: func(cfg *apiserver.Config) {
			cfg.AuthorizationModes = slices.Clone(apiserver.DefaultAuthorizationModes)
			cfg.KubeletClientTLS = kubeletTLS // reaches the kubelets' servers (logs, exec, stats)
			cfg.Logger = zap.New(zapcore.NewTee(cfg.Logger.Core(), core))
			if configure != nil {
				configure(cfg)
			}
		}}}
	a.Start()
	t.Cleanup(a.Stop)
	return &Secure{APIServer: a, PKIDir: dir, logs: logs}
}

// Forbidden returns the requests the apiserver has refused so far, each as
// its Forbidden error's message.
func (s *Secure) Forbidden() []string {
	var out []string
	for _, e := range s.logs.FilterMessage("request forbidden").All() {
		out = append(out, fmt.Sprint(e.ContextMap()["error"]))
	}
	return out
}

// FailOnForbidden fails the test, at its end, if the apiserver refused
// any request: a daemon running as itself must hold every permission it
// uses.
func (s *Secure) FailOnForbidden() {
	s.t.Cleanup(func() {
		if f := s.Forbidden(); len(f) > 0 {
			s.t.Errorf("the apiserver refused %d requests:\n%s", len(f), strings.Join(f, "\n"))
		}
	})
}

// TLS is the client TLS configuration of the key pair name.
func (s *Secure) TLS(name string) *tls.Config {
	s.t.Helper()
	c, err := pki.ClientTLSConfig(pki.CertPath(s.PKIDir, pki.CAName), pki.CertPath(s.PKIDir, name), pki.KeyPath(s.PKIDir, name), "")
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// Client connects to the apiserver over TLS as the key pair name; the
// client is closed when the test ends.
func (s *Secure) Client(name string) *client.Client {
	s.t.Helper()
	c, err := client.New(client.Options{Servers: []string{s.Addr}, TLS: s.TLS(name), UserAgent: s.t.Name() + "/" + name})
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Kubeconfig writes a client configuration (--kubeconfig) that reaches the
// apiserver over TLS as the key pair name, and returns its path (in a
// temporary directory removed with the test).
func (s *Secure) Kubeconfig(name string) string {
	s.t.Helper()
	return daemontest.KubeconfigTLS(s.t, s.PKIDir, name, s.Addr)
}
