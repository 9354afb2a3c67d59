package printers

import (
	"strings"
	"time"

	"keel.dev/keel/pkg/api"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	"keel.dev/keel/pkg/registry"
)

// CSRColumns are the columns of `get csr`.
var CSRColumns = []registry.Column{{Name: "NAME"}, {Name: "AGE"}, {Name: "SIGNERNAME"}, {Name: "REQUESTOR"},
	{Name: "REQUESTEDDURATION"}, {Name: "CONDITION"}}

// CSRRow returns the cells of a CertificateSigningRequest's row under
// CSRColumns.
func CSRRow(csr *certificatesv1.CertificateSigningRequest, now time.Time) []string {
	spec := csr.GetSpec()
	return []string{csr.GetMetadata().GetName(), Age(csr.GetMetadata().GetCreationTimestamp(), now), spec.GetSignerName(),
		spec.GetUsername(), requestedDuration(csr), CSRCondition(csr)}
}

// requestedDuration is spec.expirationSeconds as a duration, "<none>"
// when unset.
func requestedDuration(csr *certificatesv1.CertificateSigningRequest) string {
	if csr.GetSpec() == nil || csr.GetSpec().ExpirationSeconds == nil {
		return "<none>"
	}
	return HumanDuration(time.Duration(csr.GetSpec().GetExpirationSeconds()) * time.Second)
}

// CSRCondition summarizes a request's state as kubectl does: its
// condition types joined by commas ("Approved,Issued" once a certificate
// is there), or "Pending".
func CSRCondition(csr *certificatesv1.CertificateSigningRequest) string {
	var parts []string
	for _, c := range csr.GetStatus().GetConditions() {
		parts = append(parts, c.GetType())
	}
	if len(csr.GetStatus().GetCertificate()) > 0 {
		parts = append(parts, "Issued")
	}
	if len(parts) == 0 {
		return "Pending"
	}
	return strings.Join(parts, ",")
}

// DescribeCSR renders a CertificateSigningRequest as `describe` does: the
// requestor, the subject and extensions of the request, and its status.
func DescribeCSR(csr *certificatesv1.CertificateSigningRequest, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m, spec := csr.GetMetadata(), csr.GetSpec()
		w.line(0, "Name:\t%s", m.GetName())
		w.labels(0, "Labels", m.GetLabels())
		w.annotations(0, m.GetAnnotations())
		w.line(0, "CreationTimestamp:\t%s", w.time(m.GetCreationTimestamp()))
		w.line(0, "Requesting User:\t%s", spec.GetUsername())
		w.line(0, "Signer:\t%s", spec.GetSignerName())
		w.line(0, "Requested Duration:\t%s", requestedDuration(csr))
		w.line(0, "Status:\t%s", CSRCondition(csr))
		w.multi(0, "Usages", spec.GetUsages())
		if req, err := api.ParseCSR(spec.GetRequest()); err == nil {
			w.line(0, "Subject:")
			w.line(1, "Common Name:\t%s", req.Subject.CommonName)
			w.line(1, "Serial Number:\t%s", req.Subject.SerialNumber)
			w.line(1, "Organization:\t%s", strings.Join(req.Subject.Organization, ", "))
			if len(req.DNSNames) > 0 || len(req.IPAddresses) > 0 {
				w.line(0, "Subject Alternative Names:")
				w.multi(1, "DNS Names", req.DNSNames)
				var ips []string
				for _, ip := range req.IPAddresses {
					ips = append(ips, ip.String())
				}
				w.multi(1, "IP Addresses", ips)
			}
		}
		w.events()
	})
}
