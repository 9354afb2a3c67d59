package validation

import (
	"encoding/pem"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
)

// CertificateSigningRequest checks a request's spec: a PEM certificate
// request whose signature checks, a qualified signerName, known usages
// without repeats, and expirationSeconds of at least 600 when set.
func CertificateSigningRequest(csr *certificatesv1.CertificateSigningRequest) field.ErrorList {
	var errs field.ErrorList
	spec := csr.GetSpec()
	sp := field.NewPath("spec")
	if len(spec.GetRequest()) == 0 {
		errs = append(errs, field.Required(sp.Child("request"), ""))
	} else if _, err := api.ParseCSR(spec.GetRequest()); err != nil {
		errs = append(errs, field.Invalid(sp.Child("request"), "<certificate request>", err.Error()))
	}
	errs = append(errs, signerName(spec.GetSignerName(), sp.Child("signerName"))...)
	if len(spec.GetUsages()) == 0 {
		errs = append(errs, field.Required(sp.Child("usages"), ""))
	}
	seen := map[string]bool{}
	for i, u := range spec.GetUsages() {
		switch {
		case !slices.Contains(api.KeyUsages, u):
			errs = append(errs, field.NotSupported(sp.Child("usages").Index(i), u, api.KeyUsages))
		case seen[u]:
			errs = append(errs, field.Duplicate(sp.Child("usages").Index(i), u))
		}
		seen[u] = true
	}
	if spec != nil && spec.ExpirationSeconds != nil && spec.GetExpirationSeconds() < api.MinCSRExpirationSeconds {
		errs = append(errs, field.Invalid(sp.Child("expirationSeconds"), spec.GetExpirationSeconds(), "may not specify a duration less than 600 seconds (10 minutes)"))
	}
	return errs
}

// signerName checks a signer name: "domain/path", the domain a DNS
// subdomain, the path a qualified name's part.
func signerName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	domain, rest, ok := strings.Cut(name, "/")
	if !ok || domain == "" || rest == "" {
		return field.ErrorList{field.Invalid(p, name, "must be a fully qualified domain and path of the form 'example.com/signer-name'")}
	}
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Subdomain(domain) {
		errs = append(errs, field.Invalid(p, name, "the domain: "+msg))
	}
	if len(name) > 571 {
		errs = append(errs, field.TooLong(p, "", 571))
	}
	return errs
}

// CertificateSigningRequestUpdate refuses any change of the spec.
func CertificateSigningRequestUpdate(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	if !proto.Equal(csr.GetSpec(), old.GetSpec()) {
		return field.ErrorList{field.Forbidden(field.NewPath("spec"), "field is immutable")}
	}
	return nil
}

// CertificateSigningRequestStatus checks a status update (the signer's):
// the Approved and Denied conditions are the approval subresource's and
// stay as they were; the certificate, once set, never changes, and is
// set only on an approved request, as PEM CERTIFICATE blocks.
func CertificateSigningRequestStatus(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	p := field.NewPath("status")
	errs := csrConditions(csr, p.Child("conditions"))
	for _, t := range []string{api.CertificateApproved, api.CertificateDenied} {
		if !proto.Equal(api.CSRCondition(csr, t), api.CSRCondition(old, t)) {
			errs = append(errs, field.Forbidden(p.Child("conditions"), "the "+t+" condition may only be set or changed through the approval subresource"))
		}
	}
	return append(errs, csrCertificate(csr, old, p.Child("certificate"))...)
}

// CertificateSigningRequestApproval checks an update through the approval
// subresource (which changes only those two conditions): Approved and
// Denied are exclusive, and once set neither is removed.
func CertificateSigningRequestApproval(csr, old *certificatesv1.CertificateSigningRequest) field.ErrorList {
	p := field.NewPath("status", "conditions")
	errs := csrConditions(csr, p)
	approved, denied := api.CSRCondition(csr, api.CertificateApproved), api.CSRCondition(csr, api.CertificateDenied)
	if approved != nil && denied != nil {
		errs = append(errs, field.Invalid(p, api.CertificateApproved+","+api.CertificateDenied, "Approved and Denied conditions are mutually exclusive"))
	}
	for _, t := range []string{api.CertificateApproved, api.CertificateDenied} {
		if api.CSRCondition(old, t) != nil && api.CSRCondition(csr, t) == nil {
			errs = append(errs, field.Forbidden(p, "the "+t+" condition may not be removed"))
		}
	}
	return errs
}

// csrConditions checks condition types and statuses, one of each type.
func csrConditions(csr *certificatesv1.CertificateSigningRequest, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	types := []string{api.CertificateApproved, api.CertificateDenied, api.CertificateFailed}
	for i, c := range csr.GetStatus().GetConditions() {
		cp := p.Index(i)
		switch {
		case !slices.Contains(types, c.GetType()):
			errs = append(errs, field.NotSupported(cp.Child("type"), c.GetType(), types))
		case seen[c.GetType()]:
			errs = append(errs, field.Duplicate(cp.Child("type"), c.GetType()))
		}
		seen[c.GetType()] = true
		if s := c.GetStatus(); s != "True" && s != "False" && s != "Unknown" {
			errs = append(errs, field.NotSupported(cp.Child("status"), s, []string{"True", "False", "Unknown"}))
		}
	}
	return errs
}

// csrCertificate checks status.certificate against the stored request.
func csrCertificate(csr, old *certificatesv1.CertificateSigningRequest, p *field.Path) field.ErrorList {
	cert, was := csr.GetStatus().GetCertificate(), old.GetStatus().GetCertificate()
	switch {
	case len(cert) == 0 && len(was) == 0:
		return nil
	case len(was) > 0 && string(cert) != string(was):
		return field.ErrorList{field.Forbidden(p, "updates may not modify existing certificate content")}
	case len(was) > 0:
		return nil
	case !api.CSRApproved(old):
		return field.ErrorList{field.Forbidden(p, "may only be set when the request is approved")}
	}
	rest, n := cert, 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return field.ErrorList{field.Invalid(p, "<certificate data>", "only CERTIFICATE PEM blocks are allowed, found "+b.Type)}
		}
		n++
	}
	if n == 0 || len(strings.TrimSpace(string(rest))) > 0 {
		return field.ErrorList{field.Invalid(p, "<certificate data>", "must contain one or more PEM CERTIFICATE blocks and nothing else")}
	}
	return nil
}
