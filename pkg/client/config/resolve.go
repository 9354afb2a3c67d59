package config

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"

	"keel.dev/keel/pkg/pki"
)

// Resolved is what a client needs to connect, taken from one context.
type Resolved struct {
	Context string
	Cluster string
	User    string
	// Namespace is the context's namespace, DefaultNamespace if unset.
	Namespace string
	// Servers are "host:port" addresses.
	Servers []string
	// Insecure: connect in plain text (every server is a loopback address).
	Insecure bool
	// TLS is the client TLS configuration (nil when Insecure): the cluster
	// CA as the only root, the user's certificate if any, and ServerName
	// when the cluster sets tls-server-name (else each server's own host is
	// verified).
	TLS *tls.Config
	// BearerToken and BearerTokenFile are the user's token, if any.
	BearerToken     string
	BearerTokenFile string
}

// Resolve returns the connection settings of the named context, or of the
// current context when name is empty. It reads the certificate files now;
// every error names the file and the field at fault.
func (c *Config) Resolve(name string) (*Resolved, error) {
	path := c.Path
	if path == "" {
		path = "client configuration"
	}
	fail := func(field, format string, args ...any) error {
		return fileErrors(path, []string{field + ": " + fmt.Sprintf(format, args...)})
	}
	if problems := c.validate(); len(problems) > 0 {
		return nil, fileErrors(path, problems)
	}
	ctxField := "current-context"
	if name == "" {
		name = c.CurrentContext
		if name == "" {
			return nil, fail(ctxField, "not set: name a context (keelctl --context) or set current-context")
		}
	} else {
		ctxField = "context"
	}
	ci := c.index(len(c.Contexts), func(i int) string { return c.Contexts[i].Name }, name)
	if ci < 0 {
		return nil, fail(ctxField, "no context named %q", name)
	}
	ctx := c.Contexts[ci].Context
	ctxPath := fmt.Sprintf("contexts[%d].context", ci)

	cli := c.index(len(c.Clusters), func(i int) string { return c.Clusters[i].Name }, ctx.Cluster)
	if cli < 0 {
		return nil, fail(ctxPath+".cluster", "no cluster named %q", ctx.Cluster)
	}
	cl := c.Clusters[cli].Cluster
	clPath := fmt.Sprintf("clusters[%d].cluster", cli)

	r := &Resolved{Context: name, Cluster: ctx.Cluster, User: ctx.User, Namespace: ctx.Namespace}
	if r.Namespace == "" {
		r.Namespace = DefaultNamespace
	}
	for _, s := range cl.Endpoints() {
		ep, err := ParseServer(s) // validated above
		if err != nil {
			return nil, fail(clPath+".server", "%v", err)
		}
		r.Servers = append(r.Servers, ep.Address)
		r.Insecure = ep.Plaintext || cl.Insecure
	}

	var u User
	uPath := ""
	if ctx.User != "" {
		ui := c.index(len(c.Users), func(i int) string { return c.Users[i].Name }, ctx.User)
		if ui < 0 {
			return nil, fail(ctxPath+".user", "no user named %q", ctx.User)
		}
		u = c.Users[ui].User
		uPath = fmt.Sprintf("users[%d].user", ui)
	}
	r.BearerToken, r.BearerTokenFile = u.Token, u.TokenFile

	if r.Insecure {
		// The loopback listener ignores client certificates.
		return r, nil
	}
	caPEM, caField, err := c.material(clPath, "certificate-authority", cl.CertificateAuthority, cl.CertificateAuthorityData)
	if err != nil {
		return nil, fileErrors(path, []string{err.Error()})
	}
	if caPEM == nil {
		return nil, fail(clPath+".certificate-authority", "a TLS cluster needs its CA (certificate-authority or certificate-authority-data), or plain-text loopback servers (http://)")
	}
	certPEM, _, err := c.material(uPath, "client-certificate", u.ClientCertificate, u.ClientCertificateData)
	if err != nil {
		return nil, fileErrors(path, []string{err.Error()})
	}
	keyPEM, _, err := c.material(uPath, "client-key", u.ClientKey, u.ClientKeyData)
	if err != nil {
		return nil, fileErrors(path, []string{err.Error()})
	}
	if _, err := pki.CertPoolFromPEM(caPEM); err != nil {
		return nil, fail(caField, "%v", err)
	}
	r.TLS, err = pki.ClientTLSConfigFromPEM(caPEM, certPEM, keyPEM, cl.TLSServerName)
	if err != nil {
		return nil, fail(uPath, "%v", err)
	}
	return r, nil
}

func (c *Config) index(n int, name func(int) string, want string) int {
	for i := 0; i < n; i++ {
		if name(i) == want {
			return i
		}
	}
	return -1
}

// material returns the PEM of a file-or-data pair (nil if neither is set)
// and the field it came from.
func (c *Config) material(base, field, file, data string) ([]byte, string, error) {
	switch {
	case data != "":
		f := base + "." + field + "-data"
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return nil, f, fmt.Errorf("%s: not valid base64: %v", f, err)
		}
		return b, f, nil
	case file != "":
		f := base + "." + field
		p := file
		if !filepath.IsAbs(p) && c.Path != "" {
			p = filepath.Join(filepath.Dir(c.Path), p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, f, fmt.Errorf("%s: %v", f, err)
		}
		return b, f, nil
	}
	return nil, base + "." + field, nil
}
