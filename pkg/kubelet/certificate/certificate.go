// Package certificate keeps the kubelet's client certificate when it joins
// with a bootstrap identity (--bootstrap-kubeconfig, or --token with
// --ca-cert-hash), as Kubernetes' kubelet certificate manager: with no
// valid certificate in the cert dir, it generates an ECDSA P-256 key,
// creates a CertificateSigningRequest for O=system:nodes
// CN=system:node:NAME (signer kubernetes.io/kube-apiserver-client-kubelet)
// as the bootstrap identity, waits for the certificate, and writes it
// with its key to CERT-DIR/kubelet-client-current.pem (0600, replaced
// atomically). It then rotates the certificate, at a jittered 70–90% of
// its lifetime, with a new request made as the node itself. Clients built
// with TLSConfig present the current certificate on every new connection,
// and a rotation closes the connections made with the old one, so the
// kubelet moves to the new certificate without a restart.
package certificate

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/renameio/v2"
	"go.uber.org/zap"

	"keel.dev/keel/pkg/api"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
)

// CurrentFile is the name, in the cert dir, of the PEM file holding the
// current client certificate followed by its private key.
const CurrentFile = "kubelet-client-current.pem"

// Usages are the key usages the kubelet asks for.
var Usages = []string{api.UsageDigitalSignature, api.UsageClientAuth}

// Config configures a Manager.
type Config struct {
	// CertDir holds CurrentFile. Required.
	CertDir string
	// NodeName is the node the certificate is for. Required.
	NodeName string
	// ExpirationSeconds, when set, is the lifetime asked for (the
	// signer may cap it).
	ExpirationSeconds *int32
	// Now is the clock (default time.Now); Jitter returns a number in
	// [0, 1) that places the rotation between 70% and 90% of the
	// certificate's lifetime (default crypto/rand).
	Now    func() time.Time
	Jitter func() float64
	Logger *zap.Logger
}

// Manager holds the current client certificate. Its methods are safe for
// concurrent use.
type Manager struct {
	cfg Config
	log *zap.Logger

	mu   sync.RWMutex
	cert *tls.Certificate // nil until one is loaded or issued
	// deadline is when cert is to be rotated.
	deadline time.Time

	conns connTracker
}

// NewManager returns a manager holding the certificate of CERT-DIR/
// CurrentFile if it is there, for the node and not expired; otherwise
// HasCertificate is false until Bootstrap.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.CertDir == "" || cfg.NodeName == "" {
		return nil, errors.New("certificate: the cert dir and the node name are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = randomJitter
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	m := &Manager{cfg: cfg, log: cfg.Logger.Named("certificate")}
	data, err := os.ReadFile(m.path())
	switch {
	case errors.Is(err, os.ErrNotExist):
		return m, nil
	case err != nil:
		return nil, fmt.Errorf("certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(data, data)
	if err != nil {
		m.log.Warn("ignoring an unreadable client certificate: requesting a new one", zap.String("file", m.path()), zap.Error(err))
		return m, nil
	}
	if !cfg.Now().Before(cert.Leaf.NotAfter) || cert.Leaf.Subject.CommonName != auth.NodeUser(cfg.NodeName) {
		m.log.Warn("ignoring an expired client certificate or one of another node: requesting a new one", zap.String("file", m.path()),
			zap.String("subject", cert.Leaf.Subject.CommonName), zap.Time("notAfter", cert.Leaf.NotAfter))
		return m, nil
	}
	m.set(&cert)
	return m, nil
}

func (m *Manager) path() string { return filepath.Join(m.cfg.CertDir, CurrentFile) }

// HasCertificate reports whether the manager holds a certificate.
func (m *Manager) HasCertificate() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.cert != nil
}

// Current returns the current certificate's leaf, nil if none.
func (m *Manager) Current() *x509.Certificate {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.cert == nil {
		return nil
	}
	return m.cert.Leaf
}

// RotationDeadline is when the current certificate is to be rotated.
func (m *Manager) RotationDeadline() time.Time {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.deadline
}

func (m *Manager) set(cert *tls.Certificate) {
	m.mu.Lock()
	m.cert = cert
	m.deadline = Deadline(cert.Leaf.NotBefore, cert.Leaf.NotAfter, m.cfg.Jitter())
	m.mu.Unlock()
}

// Deadline is the rotation time of a certificate valid from notBefore
// to notAfter: 70% of its lifetime plus jitter (in [0, 1)) times 20%.
func Deadline(notBefore, notAfter time.Time, jitter float64) time.Time {
	life := notAfter.Sub(notBefore)
	return notBefore.Add(time.Duration(float64(life) * (0.7 + 0.2*jitter)))
}

func randomJitter() float64 {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<30))
	if err != nil {
		return 0.5
	}
	return float64(n.Int64()) / (1 << 30)
}

// TLSConfig returns a client TLS configuration that trusts roots and
// presents the manager's current certificate on every handshake, and a
// dial option that lets a rotation close the connections made with an
// older certificate (pass both to client.New).
func (m *Manager) TLSConfig(roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			m.mu.RLock()
			defer m.mu.RUnlock()
			if m.cert == nil {
				return &tls.Certificate{}, nil
			}
			return m.cert, nil
		},
	}
}

// Dial is a dialer for client.Options.DialOptions
// (grpc.WithContextDialer) that tracks the connections, so that a
// rotation closes them and the client reconnects with the new certificate.
func (m *Manager) Dial(ctx context.Context, addr string) (net.Conn, error) {
	return m.conns.dial(ctx, addr)
}

// Request obtains a new certificate through c (the bootstrap identity's
// client, or the node's own for a rotation): it creates the request,
// waits until it is issued, denied or failed (or ctx ends), then writes
// and uses the new certificate.
func (m *Manager) Request(ctx context.Context, c *client.Client) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	req, err := pki.NewCSRPEM(key, pki.CertSpec{CommonName: auth.NodeUser(m.cfg.NodeName), Organization: []string{auth.GroupNodes}})
	if err != nil {
		return err
	}
	csrs := client.For[*certificatesv1.CertificateSigningRequest](c, "")
	csr, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{
		Metadata: &metav1.ObjectMeta{GenerateName: "node-csr-"},
		Spec: &certificatesv1.CertificateSigningRequestSpec{Request: req, SignerName: api.SignerKubeAPIServerClientKubelet,
			Usages: Usages, ExpirationSeconds: m.cfg.ExpirationSeconds},
	}, client.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating the certificate signing request: %w", err)
	}
	name := csr.GetMetadata().GetName()
	m.log.Info("requested a client certificate", zap.String("csr", name))
	certPEM, err := WaitForCertificate(ctx, csrs, name)
	if err != nil {
		return err
	}
	keyPEM, err := (&pki.KeyPair{Key: key}).KeyPEM()
	if err != nil {
		return err
	}
	data := append(append([]byte(nil), certPEM...), keyPEM...)
	cert, err := tls.X509KeyPair(data, data)
	if err != nil {
		return fmt.Errorf("the certificate issued for %s: %w", name, err)
	}
	if err := writeAtomic(m.path(), data); err != nil {
		return fmt.Errorf("writing the client certificate: %w", err)
	}
	m.set(&cert)
	m.log.Info("using a new client certificate", zap.String("csr", name), zap.Time("notAfter", cert.Leaf.NotAfter),
		zap.Time("rotationDeadline", m.RotationDeadline()))
	m.conns.closeAll()
	return nil
}

// WaitForCertificate watches the request name until it has a certificate
// (returned, PEM) or is denied or failed (an error), or ctx ends.
func WaitForCertificate(ctx context.Context, csrs *client.Resource[*certificatesv1.CertificateSigningRequest], name string) ([]byte, error) {
	for {
		w, err := csrs.Watch(ctx, client.WatchOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("watching certificate signing request %s: %w", name, err)
		}
		for {
			ev, err := w.Next()
			if err != nil {
				w.Stop()
				if ctx.Err() != nil {
					return nil, fmt.Errorf("waiting for certificate signing request %s: %w", name, ctx.Err())
				}
				break // the watch ended: watch again
			}
			csr := ev.Object
			if ev.Type == client.Deleted {
				w.Stop()
				return nil, fmt.Errorf("certificate signing request %s was deleted", name)
			}
			for _, t := range []string{api.CertificateDenied, api.CertificateFailed} {
				if c := api.CSRCondition(csr, t); c != nil {
					w.Stop()
					return nil, fmt.Errorf("certificate signing request %s is %s: %s %s", name, t, c.GetReason(), c.GetMessage())
				}
			}
			if cert := csr.GetStatus().GetCertificate(); len(cert) > 0 {
				w.Stop()
				return cert, nil
			}
		}
	}
}

// Run rotates the certificate at its rotation deadline, through c (a
// client that authenticates with the manager's certificate), until ctx
// ends; a failed request is retried with back-off.
func (m *Manager) Run(ctx context.Context, c *client.Client) {
	backoff := time.Second
	for {
		wait := m.RotationDeadline().Sub(m.cfg.Now())
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if m.RotationDeadline().After(m.cfg.Now()) {
				continue // the clock disagrees with the timer: wait again
			}
		}
		m.log.Info("rotating the client certificate", zap.Time("notAfter", m.Current().NotAfter))
		if err := m.Request(ctx, c); err != nil {
			if ctx.Err() != nil {
				return
			}
			m.log.Warn("rotating the client certificate failed; retrying", zap.Error(err), zap.Duration("after", backoff))
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Minute)
			continue
		}
		backoff = time.Second
	}
}

// writeAtomic replaces path with data (0600), creating its directory:
// readers see the old file or the new one, never a part.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return renameio.WriteFile(path, data, 0o600, renameio.WithStaticPermissions(0o600))
}

// connTracker remembers open connections so that they can all be closed.
type connTracker struct {
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

type trackedConn struct {
	net.Conn
	t    *connTracker
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		c.t.mu.Unlock()
	})
	return c.Conn.Close()
}

func (t *connTracker) dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: conn, t: t}
	t.mu.Lock()
	if t.conns == nil {
		t.conns = map[*trackedConn]struct{}{}
	}
	t.conns[tc] = struct{}{}
	t.mu.Unlock()
	return tc, nil
}

func (t *connTracker) closeAll() {
	t.mu.Lock()
	conns := make([]*trackedConn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}
