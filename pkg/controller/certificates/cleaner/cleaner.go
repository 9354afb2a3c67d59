// Package cleaner is the csrcleaner controller, as Kubernetes': it deletes
// CertificateSigningRequests once they are of no more use, so that
// joining and rotating kubelets do not pile them up. A request goes when
// its issued certificate has expired, an hour after it was approved,
// denied or failed (from the condition's lastUpdateTime, else its
// creation), or 24 hours after its creation while still pending.
package cleaner

import (
	"context"
	"time"

	"go.uber.org/zap"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/pki"
)

// How long requests are kept, as Kubernetes' csrcleaner.
const (
	PendingExpiration = 24 * time.Hour
	DecidedExpiration = time.Hour
)

// Decide returns whether csr is to be deleted now, else how long until it
// is.
func Decide(csr *certificatesv1.CertificateSigningRequest, now time.Time) (remove bool, after time.Duration) {
	if csr.GetMetadata().GetDeletionTimestamp() != nil {
		return false, 0
	}
	deadline := csr.GetMetadata().GetCreationTimestamp().AsTime().Add(PendingExpiration)
	for _, t := range []string{api.CertificateApproved, api.CertificateDenied, api.CertificateFailed} {
		c := api.CSRCondition(csr, t)
		if c == nil {
			continue
		}
		at := csr.GetMetadata().GetCreationTimestamp().AsTime()
		if c.GetLastUpdateTime() != nil {
			at = c.GetLastUpdateTime().AsTime()
		}
		if d := at.Add(DecidedExpiration); d.Before(deadline) {
			deadline = d
		}
	}
	if certs, err := pki.ParseCertsPEM(csr.GetStatus().GetCertificate()); err == nil && certs[0].NotAfter.Before(deadline) {
		deadline = certs[0].NotAfter
	}
	if !now.Before(deadline) {
		return true, 0
	}
	return false, deadline.Sub(now)
}

// Controller is csrcleaner. Create it with New, run it with Run.
type Controller struct {
	client *client.Client
	csrs   *informer.Informer[*certificatesv1.CertificateSigningRequest]
	queue  workqueue.Interface[string]
	now    func() time.Time
	log    *zap.Logger
}

// New builds the controller over f's CertificateSigningRequest informer;
// now is the clock (nil: time.Now).
func New(c *client.Client, f *informer.Factory, now func() time.Time, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	if now == nil {
		now = time.Now
	}
	ctl := &Controller{client: c, csrs: informer.For[*certificatesv1.CertificateSigningRequest](f),
		queue: workqueue.New[string]("csrcleaner"), now: now, log: log.Named("csrcleaner")}
	enqueue := func(csr *certificatesv1.CertificateSigningRequest) { ctl.schedule(csr) }
	ctl.csrs.AddEventHandler(informer.HandlerFuncs[*certificatesv1.CertificateSigningRequest]{
		AddFunc:    enqueue,
		UpdateFunc: func(_, csr *certificatesv1.CertificateSigningRequest) { enqueue(csr) },
	})
	return ctl
}

// Synced tells whether the informer has listed.
func (c *Controller) Synced() bool { return c.csrs.HasSynced() }

// Run deletes requests until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.csrs.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

func (c *Controller) schedule(csr *certificatesv1.CertificateSigningRequest) {
	remove, after := Decide(csr, c.now())
	switch {
	case remove:
		c.queue.Add(csr.GetMetadata().GetName())
	case after > 0:
		c.queue.AddAfter(csr.GetMetadata().GetName(), after)
	}
}

func (c *Controller) sync(ctx context.Context, name string) error {
	csr, ok := c.csrs.Store().GetByName("", name)
	if !ok {
		return nil
	}
	remove, after := Decide(csr, c.now())
	if !remove {
		if after > 0 {
			c.queue.AddAfter(name, after)
		}
		return nil
	}
	_, _, err := client.For[*certificatesv1.CertificateSigningRequest](c.client, "").Delete(ctx, name,
		client.DeleteOptions{Preconditions: &client.Preconditions{UID: csr.GetMetadata().GetUid()}})
	switch {
	case err == nil:
		c.log.Info("deleted an old certificate signing request", zap.String("csr", name))
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
	default:
		return err
	}
	return nil
}
