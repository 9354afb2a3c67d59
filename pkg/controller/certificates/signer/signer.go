// Package signer is the csrsigning controller, as Kubernetes': it signs
// the approved CertificateSigningRequests of the signers
// kubernetes.io/kube-apiserver-client,
// kubernetes.io/kube-apiserver-client-kubelet and
// kubernetes.io/kubelet-serving with the cluster CA
// (--cluster-signing-cert-file, --cluster-signing-key-file), for
// spec.expirationSeconds capped by --cluster-signing-duration. A request
// its signer may not honour (a wrong subject or usages) gets the Failed
// condition instead.
package signer

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/pki"
)

// DefaultDuration is --cluster-signing-duration's default: one year.
const DefaultDuration = 8760 * time.Hour

// Plan is what to do with one request: nothing (Skip), sign it (Spec,
// whose Validity is the certificate's lifetime), or mark it Failed
// (FailReason, FailMessage).
type Plan struct {
	Skip        bool
	Spec        pki.CertSpec
	Request     *x509.CertificateRequest
	FailReason  string
	FailMessage string
}

// Decide plans for csr: only approved requests of the three signers that
// have no certificate and have not failed are signed, for
// spec.expirationSeconds when set and shorter than maxDuration, else
// maxDuration.
func Decide(csr *certificatesv1.CertificateSigningRequest, maxDuration time.Duration) Plan {
	spec := csr.GetSpec()
	signers := []string{api.SignerKubeAPIServerClient, api.SignerKubeAPIServerClientKubelet, api.SignerKubeletServing}
	if !slices.Contains(signers, spec.GetSignerName()) || !api.CSRApproved(csr) || len(csr.GetStatus().GetCertificate()) > 0 {
		return Plan{Skip: true}
	}
	req, err := api.ParseCSR(spec.GetRequest())
	if err != nil {
		return fail("unable to parse csr: " + err.Error())
	}
	d := maxDuration
	if spec.ExpirationSeconds != nil {
		if e := time.Duration(spec.GetExpirationSeconds()) * time.Second; e < d {
			d = e
		}
	}
	if err := check(spec.GetSignerName(), req, spec.GetUsages()); err != nil {
		return fail(err.Error())
	}
	server := spec.GetSignerName() == api.SignerKubeletServing
	return Plan{Request: req, Spec: pki.CertSpec{CommonName: req.Subject.CommonName, Organization: req.Subject.Organization,
		Server: server, Client: !server, Validity: d}}
}

func fail(msg string) Plan {
	return Plan{FailReason: "SignerValidationFailure", FailMessage: msg}
}

// check is what a signer requires of a request's subject and usages.
func check(signer string, req *x509.CertificateRequest, usages []string) error {
	allowed := []string{api.UsageDigitalSignature, api.UsageKeyEncipherment, api.UsageClientAuth}
	need := api.UsageClientAuth
	if signer == api.SignerKubeletServing {
		allowed, need = []string{api.UsageDigitalSignature, api.UsageKeyEncipherment, api.UsageServerAuth}, api.UsageServerAuth
	}
	for _, u := range usages {
		if !slices.Contains(allowed, u) {
			return fmt.Errorf("usage %q is not allowed for signer %s (allowed: %s)", u, signer, strings.Join(allowed, ", "))
		}
	}
	if !slices.Contains(usages, need) {
		return fmt.Errorf("signer %s needs the usage %q", signer, need)
	}
	if len(req.EmailAddresses)+len(req.URIs) > 0 {
		return fmt.Errorf("signer %s does not sign email or URI subject alternative names", signer)
	}
	switch signer {
	case api.SignerKubeAPIServerClient:
		if slices.Contains(req.Subject.Organization, auth.GroupMasters) {
			return fmt.Errorf("signer %s does not sign for the %s group", signer, auth.GroupMasters)
		}
		return nil
	case api.SignerKubeletServing:
		if len(req.DNSNames)+len(req.IPAddresses) == 0 {
			return fmt.Errorf("signer %s needs at least one DNS or IP subject alternative name", signer)
		}
	default:
		if len(req.DNSNames)+len(req.IPAddresses) > 0 {
			return fmt.Errorf("signer %s does not sign subject alternative names", signer)
		}
	}
	if !slices.Equal(req.Subject.Organization, []string{auth.GroupNodes}) || !strings.HasPrefix(req.Subject.CommonName, auth.NodeUserPrefix) ||
		req.Subject.CommonName == auth.NodeUserPrefix {
		return fmt.Errorf("signer %s signs only subjects O=%s CN=%sNAME", signer, auth.GroupNodes, auth.NodeUserPrefix)
	}
	return nil
}

// Config configures the signer.
type Config struct {
	// CA signs the certificates.
	CA *pki.KeyPair
	// MaxDuration caps every certificate's lifetime (default
	// DefaultDuration).
	MaxDuration time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *zap.Logger
}

// Controller is csrsigning. Create it with New, run it with Run.
type Controller struct {
	client *client.Client
	cfg    Config
	csrs   *informer.Informer[*certificatesv1.CertificateSigningRequest]
	queue  workqueue.Interface[string]
	log    *zap.Logger
}

// New builds the controller over f's CertificateSigningRequest informer.
func New(c *client.Client, f *informer.Factory, cfg Config) *Controller {
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = DefaultDuration
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	ctl := &Controller{client: c, cfg: cfg, csrs: informer.For[*certificatesv1.CertificateSigningRequest](f),
		queue: workqueue.New[string]("csrsigning"), log: cfg.Logger.Named("csrsigning")}
	enqueue := func(csr *certificatesv1.CertificateSigningRequest) { ctl.queue.Add(csr.GetMetadata().GetName()) }
	ctl.csrs.AddEventHandler(informer.HandlerFuncs[*certificatesv1.CertificateSigningRequest]{
		AddFunc:    enqueue,
		UpdateFunc: func(_, csr *certificatesv1.CertificateSigningRequest) { enqueue(csr) },
	})
	return ctl
}

// Synced tells whether the informer has listed.
func (c *Controller) Synced() bool { return c.csrs.HasSynced() }

// Run signs requests until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.csrs.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

func (c *Controller) sync(ctx context.Context, name string) error {
	cached, ok := c.csrs.Store().GetByName("", name)
	if !ok {
		return nil
	}
	plan := Decide(cached, c.cfg.MaxDuration)
	if plan.Skip {
		return nil
	}
	csr := proto.Clone(cached).(*certificatesv1.CertificateSigningRequest)
	if csr.Status == nil {
		csr.Status = &certificatesv1.CertificateSigningRequestStatus{}
	}
	if plan.FailReason != "" {
		if api.CSRCondition(csr, api.CertificateFailed) != nil {
			return nil
		}
		now := timestamppb.New(c.cfg.Now())
		csr.Status.Conditions = append(csr.Status.Conditions, &certificatesv1.CertificateSigningRequestCondition{
			Type: api.CertificateFailed, Status: "True", Reason: plan.FailReason, Message: plan.FailMessage, LastUpdateTime: now, LastTransitionTime: now})
	} else {
		cert, err := pki.SignRequest(c.cfg.CA, plan.Request, plan.Spec, c.cfg.Now())
		if err != nil {
			return err
		}
		csr.Status.Certificate = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	}
	_, err := client.For[*certificatesv1.CertificateSigningRequest](c.client, "").UpdateStatus(ctx, csr, client.UpdateOptions{})
	switch {
	case err == nil:
		c.log.Info("answered certificate signing request", zap.String("csr", name), zap.String("signer", csr.GetSpec().GetSignerName()),
			zap.Bool("signed", plan.FailReason == ""), zap.String("failure", plan.FailMessage))
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
	default:
		return err
	}
	return nil
}
