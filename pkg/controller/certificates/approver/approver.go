// Package approver is the csrapproving controller, as Kubernetes': it
// approves the CertificateSigningRequests of kubelet client certificates
// (signer kubernetes.io/kube-apiserver-client-kubelet, subject
// O=system:nodes CN=system:node:NAME, client usages) when the requestor
// may: a bootstrap identity with "create" on
// certificatesigningrequests/nodeclient, or the very node renewing its
// own certificate with "create" on
// certificatesigningrequests/selfnodeclient. It asks the apiserver with a
// SubjectAccessReview. Every other request is left to an operator
// (`keelctl certificate approve|deny`).
package approver

import (
	"context"
	"crypto/x509"
	"slices"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	authorizationv1 "keel.dev/keel/pkg/apis/authorization/v1"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
)

// The subresources of certificatesigningrequests whose "create" lets a
// requestor have its kubelet client certificate approved.
const (
	NodeClient     = "nodeclient"
	SelfNodeClient = "selfnodeclient"
)

// Decide returns the subresources (in the order to ask) of which "create"
// by the requestor of csr approves it; nil when the controller leaves csr
// alone: decided already, another signer, or not exactly a kubelet client
// certificate request.
func Decide(csr *certificatesv1.CertificateSigningRequest) []string {
	if csr.GetSpec().GetSignerName() != api.SignerKubeAPIServerClientKubelet ||
		api.CSRCondition(csr, api.CertificateApproved) != nil || api.CSRCondition(csr, api.CertificateDenied) != nil {
		return nil
	}
	req, err := api.ParseCSR(csr.GetSpec().GetRequest())
	if err != nil || !IsNodeClient(req, csr.GetSpec().GetUsages()) {
		return nil
	}
	if csr.GetSpec().GetUsername() == req.Subject.CommonName {
		return []string{SelfNodeClient, NodeClient}
	}
	return []string{NodeClient}
}

// IsNodeClient reports whether req with usages is a kubelet client
// certificate request: subject O=system:nodes only, CN=system:node:NAME,
// no subject alternative names, usages "client auth" and "digital
// signature", with "key encipherment" or not.
func IsNodeClient(req *x509.CertificateRequest, usages []string) bool {
	if !slices.Equal(req.Subject.Organization, []string{auth.GroupNodes}) ||
		!strings.HasPrefix(req.Subject.CommonName, auth.NodeUserPrefix) || req.Subject.CommonName == auth.NodeUserPrefix ||
		len(req.DNSNames)+len(req.EmailAddresses)+len(req.IPAddresses)+len(req.URIs) > 0 {
		return false
	}
	u := slices.Sorted(slices.Values(usages))
	return slices.Equal(u, []string{api.UsageClientAuth, api.UsageDigitalSignature}) ||
		slices.Equal(u, []string{api.UsageClientAuth, api.UsageDigitalSignature, api.UsageKeyEncipherment})
}

// Controller is csrapproving. Create it with New, run it with Run.
type Controller struct {
	client *client.Client
	csrs   *informer.Informer[*certificatesv1.CertificateSigningRequest]
	queue  workqueue.Interface[string]
	log    *zap.Logger
}

// New builds the controller over f's CertificateSigningRequest informer.
func New(c *client.Client, f *informer.Factory, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	ctl := &Controller{client: c, csrs: informer.For[*certificatesv1.CertificateSigningRequest](f),
		queue: workqueue.New[string]("csrapproving"), log: log.Named("csrapproving")}
	enqueue := func(csr *certificatesv1.CertificateSigningRequest) { ctl.queue.Add(csr.GetMetadata().GetName()) }
	ctl.csrs.AddEventHandler(informer.HandlerFuncs[*certificatesv1.CertificateSigningRequest]{
		AddFunc:    enqueue,
		UpdateFunc: func(_, csr *certificatesv1.CertificateSigningRequest) { enqueue(csr) },
	})
	return ctl
}

// Synced tells whether the informer has listed.
func (c *Controller) Synced() bool { return c.csrs.HasSynced() }

// Run approves requests until ctx ends.
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
	subs := Decide(cached)
	if len(subs) == 0 {
		return nil
	}
	allowed := false
	for _, sub := range subs {
		ok, err := c.mayCreate(ctx, cached.GetSpec(), sub)
		if err != nil {
			return err
		}
		if allowed = ok; allowed {
			break
		}
	}
	if !allowed {
		return nil // an operator decides
	}
	csr := proto.Clone(cached).(*certificatesv1.CertificateSigningRequest)
	if csr.Status == nil {
		csr.Status = &certificatesv1.CertificateSigningRequestStatus{}
	}
	now := timestamppb.Now()
	csr.Status.Conditions = append(csr.Status.Conditions, &certificatesv1.CertificateSigningRequestCondition{
		Type: api.CertificateApproved, Status: "True", Reason: "AutoApproved",
		Message: "Auto approving kubelet client certificate after SubjectAccessReview.", LastUpdateTime: now, LastTransitionTime: now})
	_, err := client.For[*certificatesv1.CertificateSigningRequest](c.client, "").UpdateSubresource(ctx, csr, "approval", client.UpdateOptions{})
	switch {
	case err == nil:
		c.log.Info("approved kubelet client certificate request", zap.String("csr", name), zap.String("requestor", csr.GetSpec().GetUsername()))
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		// Gone, or changed since: its own event brings it back.
	default:
		return err
	}
	return nil
}

// mayCreate asks the apiserver whether the requestor of spec may create
// certificatesigningrequests/sub.
func (c *Controller) mayCreate(ctx context.Context, spec *certificatesv1.CertificateSigningRequestSpec, sub string) (bool, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: &authorizationv1.SubjectAccessReviewSpec{
		User: spec.GetUsername(), Groups: spec.GetGroups(), Uid: spec.GetUid(),
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "create", Group: api.GroupCertificates,
			Resource: "certificatesigningrequests", Subresource: sub},
	}}
	out, err := client.For[*authorizationv1.SubjectAccessReview](c.client, "").Create(ctx, sar, client.CreateOptions{})
	if err != nil {
		return false, err
	}
	return out.GetStatus().GetAllowed(), nil
}
