package certificate_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/auth/bootstraptoken"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/certificates/approver"
	"keel.dev/keel/pkg/controller/certificates/cleaner"
	"keel.dev/keel/pkg/controller/certificates/signer"
	"keel.dev/keel/pkg/kubelet/certificate"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

func TestDeadline(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	na := nb.Add(100 * time.Hour)
	for _, tc := range []struct {
		jitter float64
		want   time.Duration
	}{{0, 70 * time.Hour}, {0.5, 80 * time.Hour}, {0.999999, 90 * time.Hour}} {
		got := certificate.Deadline(nb, na, tc.jitter).Sub(nb)
		if d := got - tc.want; d < -time.Second || d > time.Second {
			t.Errorf("jitter %v: deadline after %v, want %v", tc.jitter, got, tc.want)
		}
	}
}

// TestJoinAndRotate is a kubelet joining with a bootstrap token against
// an apiserver with Node,RBAC and the controller-manager's csrapproving
// and csrsigning: it obtains a node certificate, acts as system:node:NAME
// with it, cannot get a certificate for another node nor approve one,
// and rotates its certificate as itself, picking up the new one without
// a new client.
func TestJoinAndRotate(t *testing.T) {
	s := testserver.StartSecure(t, nil, func(cfg *apiserver.Config) { cfg.EnableBootstrapTokenAuth = true })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := s.Client(pki.AdminName)
	if _, err := client.For[*corev1.Secret](admin, bootstraptoken.Namespace).Create(ctx, &corev1.Secret{
		Metadata: &metav1.ObjectMeta{Name: bootstraptoken.SecretName("abcdef")},
		Type:     bootstraptoken.SecretType,
		Data: map[string][]byte{
			bootstraptoken.KeyTokenID: []byte("abcdef"), bootstraptoken.KeyTokenSecret: []byte("0123456789abcdef"),
			bootstraptoken.KeyUsageAuthentication: []byte("true"),
		},
	}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The controller-manager's two controllers, as itself.
	ca, err := pki.LoadKeyPair(s.PKIDir, pki.CAName)
	if err != nil {
		t.Fatal(err)
	}
	cm := s.Client(pki.ControllerManagerName)
	f := informer.NewFactory(cm, 0)
	appr := approver.New(cm, f, nil)
	sign := signer.New(cm, f, signer.Config{CA: ca, MaxDuration: time.Hour})
	f.Start(ctx)
	var controllers sync.WaitGroup
	run := func(f func()) { controllers.Add(1); go func() { defer controllers.Done(); f() }() }
	run(func() { appr.Run(ctx, 1) })
	run(func() { sign.Run(ctx, 1) })
	t.Cleanup(func() { cancel(); controllers.Wait(); f.Shutdown() })

	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	caOnly, err := pki.ClientTLSConfig(pki.CertPath(s.PKIDir, pki.CAName), "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	boot, err := client.New(client.Options{Servers: []string{s.Addr}, TLS: caOnly, BearerToken: "abcdef.0123456789abcdef", UserAgent: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	defer boot.Close()

	var offset atomic.Int64 // the manager's clock runs this far ahead
	dir := t.TempDir()
	cfg := certificate.Config{CertDir: dir, NodeName: "n1", ExpirationSeconds: proto.Int32(600),
		Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }}
	m, err := certificate.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m.HasCertificate() {
		t.Fatal("a certificate in an empty dir")
	}
	if err := m.Request(ctx, boot); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	first := m.Current()
	if first.Subject.CommonName != "system:node:n1" || first.Subject.Organization[0] != "system:nodes" {
		t.Fatalf("subject %v", first.Subject)
	}
	if life := first.NotAfter.Sub(time.Now()); life > 10*time.Minute || life < 9*time.Minute {
		t.Errorf("lifetime left %v, want the 600s asked for", life)
	}
	fi, err := os.Stat(filepath.Join(dir, certificate.CurrentFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, mode %v; want 0600", certificate.CurrentFile, err, fi)
	}
	// A new manager (a restarted kubelet) loads it.
	if again, err := certificate.NewManager(cfg); err != nil || !again.HasCertificate() || !again.Current().Equal(first) {
		t.Fatalf("reloading: %v", err)
	}

	node, err := client.New(client.Options{Servers: []string{s.Addr}, TLS: m.TLSConfig(roots), UserAgent: t.Name() + "/n1",
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(m.Dial)}})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	nodes := client.For[*corev1.Node](node, "")
	if _, err := nodes.Create(ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1"}}, client.CreateOptions{}); err != nil {
		t.Fatalf("the node creates its Node: %v", err)
	}
	if _, err := nodes.Create(ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n2"}}, client.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("the node creates another Node: %v, want Forbidden", err)
	}

	// A node asking for another node's certificate is not approved, and
	// may not approve it itself.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	req, err := pki.NewCSRPEM(key, pki.CertSpec{CommonName: "system:node:n2", Organization: []string{"system:nodes"}})
	if err != nil {
		t.Fatal(err)
	}
	csrs := client.For[*certificatesv1.CertificateSigningRequest](node, "")
	other, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{Metadata: &metav1.ObjectMeta{Name: "n1-for-n2"},
		Spec: &certificatesv1.CertificateSigningRequestSpec{Request: req, SignerName: api.SignerKubeAPIServerClientKubelet,
			Usages: certificate.Usages, Username: "system:bootstrap:abcdef"}}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := other.GetSpec().GetUsername(); u != "system:node:n1" {
		t.Errorf("requestor %q, want the caller system:node:n1 whatever the client sent", u)
	}
	other.Status = &certificatesv1.CertificateSigningRequestStatus{Conditions: []*certificatesv1.CertificateSigningRequestCondition{
		{Type: api.CertificateApproved, Status: "True", Reason: "Mine"}}}
	if _, err := csrs.UpdateSubresource(ctx, other, "approval", client.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the node approving a request: %v, want Forbidden", err)
	}

	// Rotation: once the clock passes the deadline, a request made as the
	// node itself, approved as selfnodeclient; the same client uses the
	// new certificate.
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { m.Run(runCtx, node); close(ran) }()
	defer stop()
	offset.Store(int64(m.RotationDeadline().Sub(time.Now()) + time.Second))
	testutil.Eventually(t, time.Minute, "the certificate is rotated", func() error {
		if m.Current().SerialNumber.Cmp(first.SerialNumber) == 0 {
			return errors.New("still the first certificate")
		}
		return nil
	})
	offset.Store(0)
	list, err := csrs.List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byNode := 0
	for _, c := range list.Items {
		if c.GetMetadata().GetName() != "n1-for-n2" && c.GetSpec().GetUsername() == "system:node:n1" && api.CSRApproved(c) {
			byNode++
		}
	}
	if byNode == 0 {
		t.Errorf("no approved request made by system:node:n1 for its rotation")
	}
	got, err := csrs.Get(ctx, "n1-for-n2")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.GetStatus().GetConditions()) != 0 || len(got.GetStatus().GetCertificate()) != 0 {
		t.Errorf("the request for another node was answered: %v", got.GetStatus())
	}
	if _, err := nodes.Get(ctx, "n1"); err != nil {
		t.Errorf("the node after rotation: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, certificate.CurrentFile))
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := pki.ParseCertsPEM(data)
	if err != nil || onDisk[0].SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Errorf("the file still holds the first certificate (%v)", err)
	}

	// A day later the controller-manager's csrcleaner has removed them all.
	stop()
	<-ran
	clean := cleaner.New(cm, f, func() time.Time { return time.Now().Add(25 * time.Hour) }, nil)
	run(func() { clean.Run(ctx, 1) })
	testutil.Eventually(t, time.Minute, "csrcleaner deletes the old requests", func() error {
		l, err := csrs.List(ctx, client.ListOptions{})
		if err != nil {
			return err
		}
		if len(l.Items) > 0 {
			return errors.New("requests left")
		}
		return nil
	})
}
