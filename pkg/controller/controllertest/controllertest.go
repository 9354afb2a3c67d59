// Package controllertest runs controllers against a real apiserver (in
// process, on embedded etcd) for their integration tests.
package controllertest

import (
	"context"
	"testing"
	"time"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// Env is a running apiserver, a client of it, and a context that ends with
// the test (after a minute at most).
type Env struct {
	T      *testing.T
	Ctx    context.Context
	Client *client.Client
	Server *testserver.APIServer
}

// Start starts an apiserver, calls build with a client and an informer
// factory (where controllers register their handlers), starts the
// informers, and runs what build returns until the test ends.
func Start(t *testing.T, build func(c *client.Client, f *informer.Factory) func(ctx context.Context)) *Env {
	t.Helper()
	_, a := testserver.StartAll(t, nil)
	c, err := client.New(client.Options{Servers: []string{a.Addr}, Insecure: true, UserAgent: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return run(t, a, c, c, build)
}

// StartAs is Start against an apiserver that authenticates every caller
// and authorizes it (Node,RBAC with the bootstrap policy): the
// controllers act as the ServiceAccount sa of kube-system, so with its
// system:controller role only, while Env.Client is the cluster's
// administrator. A request the apiserver refuses fails the test.
func StartAs(t *testing.T, sa string, build func(c *client.Client, f *informer.Factory) func(ctx context.Context)) *Env {
	t.Helper()
	s := testserver.StartSecure(t, nil, nil)
	s.FailOnForbidden()
	ctl, err := client.New(client.Options{Servers: []string{s.Addr}, TLS: s.TLS(pki.AdminName), UserAgent: t.Name() + "/" + sa,
		Impersonate: client.Impersonation{UserName: auth.ServiceAccountUser(api.NamespaceSystem, sa)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctl.Close() })
	return run(t, s.APIServer, s.Client(pki.AdminName), ctl, build)
}

// run builds and runs the controllers on ctl; c is the test's client.
func run(t *testing.T, a *testserver.APIServer, c, ctl *client.Client, build func(c *client.Client, f *informer.Factory) func(ctx context.Context)) *Env {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	f := informer.NewFactory(ctl, 0)
	loop := build(ctl, f)
	f.Start(ctx)
	done := make(chan struct{})
	go func() { loop(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; f.Shutdown() })
	return &Env{T: t, Ctx: ctx, Client: c, Server: a}
}

// Namespace creates the namespace name and, as the service account
// controller would, its "default" ServiceAccount, which pods need.
func (e *Env) Namespace(name string) {
	e.T.Helper()
	if _, err := e.Client.Namespaces().Create(e.Ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name}}, client.CreateOptions{}); err != nil {
		e.T.Fatal(err)
	}
	if err := testserver.DefaultServiceAccounts(e.Ctx, e.Server.Server, name); err != nil {
		e.T.Fatal(err)
	}
}

// Eventually retries cond until it returns nil, failing the test with
// what and cond's last error after 30s.
func (e *Env) Eventually(what string, cond func() error) {
	e.T.Helper()
	testutil.Eventually(e.T, 30*time.Second, what, cond)
}
