package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/config"
	"keel.dev/keel/pkg/kubelet/certificate"
	"keel.dev/keel/pkg/pki"
)

// joining reports whether the kubelet authenticates with a certificate it
// requests itself (--bootstrap-kubeconfig, or --token).
func (o *options) joining() bool { return o.bootstrapKubeconfig != "" || o.token != "" }

// validateJoin checks the join flags.
func (o *options) validateJoin() []string {
	var problems []string
	if o.bootstrapKubeconfig != "" && o.token != "" {
		problems = append(problems, "--bootstrap-kubeconfig and --token exclude each other")
	}
	if o.joining() && (o.kubeconfig != "" || o.insecure || o.hollowNodes > 0) {
		problems = append(problems, "--bootstrap-kubeconfig and --token exclude --kubeconfig, --insecure and --hollow-nodes")
	}
	if o.token != "" {
		if len(o.servers) == 0 {
			problems = append(problems, "--token needs --server")
		}
		if o.caCertHash == "" {
			problems = append(problems, "--token needs --ca-cert-hash (the sha256: hash of the cluster CA that `keelctl token create --print-join-command` prints)")
		}
	}
	if o.caCertHash != "" && o.token == "" {
		problems = append(problems, "--ca-cert-hash goes with --token")
	}
	return problems
}

// joinClient connects as the node with the client certificate of
// --cert-dir, requesting one first with the bootstrap identity when there
// is none (or it expired). The returned manager rotates it (Run).
func (o *options) joinClient(ctx context.Context, log *zap.Logger) (*client.Client, *certificate.Manager, error) {
	ua := "keel-kubelet/" + o.nodeName
	var (
		servers []string
		roots   *x509.CertPool
		boot    func() (*client.Client, error)
	)
	if o.bootstrapKubeconfig != "" {
		cfg, err := config.Load(o.bootstrapKubeconfig)
		if err != nil {
			return nil, nil, fmt.Errorf("--bootstrap-kubeconfig: %w", err)
		}
		r, err := cfg.Resolve("")
		if err != nil {
			return nil, nil, fmt.Errorf("--bootstrap-kubeconfig: %w", err)
		}
		if r.Insecure || r.TLS == nil || r.TLS.RootCAs == nil {
			return nil, nil, fmt.Errorf("--bootstrap-kubeconfig %s: needs a TLS server with its certificate-authority", o.bootstrapKubeconfig)
		}
		servers, roots = r.Servers, r.TLS.RootCAs
		boot = func() (*client.Client, error) { return client.NewFromResolved(r, ua) }
	} else {
		ca, err := o.clusterCA(ctx, log)
		if err != nil {
			return nil, nil, err
		}
		servers, roots = o.servers, x509.NewCertPool()
		roots.AddCert(ca)
		boot = func() (*client.Client, error) {
			return client.New(client.Options{Servers: servers, TLS: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}, BearerToken: o.token, UserAgent: ua})
		}
	}
	m, err := certificate.NewManager(certificate.Config{CertDir: o.certDir, NodeName: o.nodeName, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	if !m.HasCertificate() {
		bc, err := boot()
		if err != nil {
			return nil, nil, err
		}
		log.Info("no client certificate in --cert-dir: requesting one with the bootstrap identity", zap.String("certDir", o.certDir))
		err = m.Request(ctx, bc)
		bc.Close()
		if err != nil {
			return nil, nil, err
		}
	}
	c, err := client.New(client.Options{Servers: servers, TLS: m.TLSConfig(roots), UserAgent: ua,
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(m.Dial)}})
	if err != nil {
		return nil, nil, err
	}
	return c, m, nil
}

// clusterCA is the CA whose hash is --ca-cert-hash: the one kept in
// CERT-DIR/ca.crt by an earlier start (so that a restart does not need
// the apiserver), else found in the apiserver's handshake and kept there.
func (o *options) clusterCA(ctx context.Context, log *zap.Logger) (*x509.Certificate, error) {
	path := filepath.Join(o.certDir, pki.CAName+".crt")
	if certs, err := pki.LoadCertsFile(path); err == nil && pki.SPKIHash(certs[0]) == strings.ToLower(o.caCertHash) {
		return certs[0], nil
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	ca, err := pki.DiscoverCA(dctx, o.servers[0], o.caCertHash)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("--ca-cert-hash: %w", err)
	}
	if err := os.MkdirAll(o.certDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o644); err != nil {
		return nil, fmt.Errorf("keeping the cluster CA: %w", err)
	}
	log.Info("found the cluster CA by its hash", zap.String("file", path), zap.String("subject", ca.Subject.CommonName))
	return ca, nil
}
