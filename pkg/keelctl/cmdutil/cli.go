// Package cmdutil holds what keelctl's commands share: the state of one
// invocation (CLI), reading manifests (-f), resource arguments
// ("TYPE NAME", "TYPE/NAME"), listing, --dry-run, and printing errors as
// kubectl does.
package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/spf13/cobra"

	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/config"
)

// UserAgent identifies keelctl to the apiserver.
const UserAgent = "keelctl"

// CLI is the state of one keelctl invocation: its streams, environment and
// global flags, and the client connection, opened on first use. Every
// command of the invocation shares it; nothing is global, so tests run many
// invocations in one process.
type CLI struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	Getenv func(string) string
	Now    func() time.Time

	// Global flags.
	configPath  string
	contextName string
	namespace   string
	servers     []string
	insecure    bool
	token       string
	as          client.Impersonation

	nsFlagSet bool // -n was given

	client   *client.Client
	resolved *config.Resolved

	// crdsLoaded: LoadCustomResources ran, with error crdsErr.
	crdsLoaded bool
	crdsErr    error
}

// AddGlobalFlags adds the flags every command takes (--config, --context,
// -n, --server, --insecure, --token, --as, --as-group, --as-uid) to root.
func (c *CLI) AddGlobalFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&c.configPath, "config", "", "client configuration file, a kubeconfig (default $KEELCONFIG, else the first file of $KUBECONFIG, else ~/.keel/config)")
	f.StringVar(&c.configPath, "kubeconfig", "", "the same as --config, as kubectl names it")
	f.StringVar(&c.contextName, "context", "", "the configuration context to use (default: its current-context)")
	f.StringVarP(&c.namespace, "namespace", "n", "", "the namespace of this request (default: the context's)")
	f.StringSliceVarP(&c.servers, "server", "s", nil, "apiserver address host:port, overriding the context's servers (repeatable)")
	f.BoolVar(&c.insecure, "insecure", false, "connect in plain text (loopback apiservers only), without TLS or configuration")
	f.StringVar(&c.token, "token", "", "bearer token to authenticate with (a ServiceAccount token), replacing the context's credentials (its client certificate and token)")
	f.StringVar(&c.as.UserName, "as", "", "username to impersonate for the operation (needs the impersonate verb); a service account is system:serviceaccount:NS:NAME")
	f.StringArrayVar(&c.as.Groups, "as-group", nil, "group to impersonate for the operation, with --as (repeatable)")
	f.StringVar(&c.as.UID, "as-uid", "", "UID to impersonate for the operation, with --as")
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		c.nsFlagSet = cmd.Flags().Changed("namespace")
	}
	_ = root.RegisterFlagCompletionFunc("namespace", func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return c.CompleteNames(cmd, "namespaces", toComplete), cobra.ShellCompDirectiveNoFileComp
	})
	_ = root.RegisterFlagCompletionFunc("context", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		cfg, err := config.LoadDefault(c.ConfigPath())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, x := range cfg.Contexts {
			names = append(names, x.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

// Resolve works out where and how to connect: the configuration context,
// with --server and --insecure applied on top. --server with --insecure
// needs no configuration file at all; without a configuration file, in a
// pod (KUBERNETES_SERVICE_HOST and _PORT set), the pod's service account
// is used (config.InCluster).
func (c *CLI) Resolve() (*config.Resolved, error) {
	if c.resolved != nil {
		return c.resolved, nil
	}
	var override []string
	plaintext := c.insecure
	for _, s := range c.servers {
		ep, err := config.ParseServer(s)
		if err != nil {
			return nil, fmt.Errorf("--server %v", err)
		}
		override = append(override, ep.Address)
		if ep.Plaintext {
			plaintext = true
		}
	}
	var r *config.Resolved
	cfg, err := config.LoadDefault(c.ConfigPath())
	switch {
	case err == nil:
		r, err = cfg.Resolve(c.ContextName())
		if err != nil && !(len(override) > 0 && plaintext) {
			return nil, err
		}
	case errors.Is(err, fs.ErrNotExist) && len(override) > 0 && plaintext:
		// --server ... --insecure: no configuration needed.
	case errors.Is(err, fs.ErrNotExist):
		// In a pod: its service account's token, CA and namespace.
		in, ierr := config.InCluster()
		if errors.Is(ierr, config.ErrNotInCluster) {
			return nil, fmt.Errorf("%w (write one with \"keelctl config set-cluster\", or pass --server HOST:PORT --insecure for a local apiserver)", err)
		}
		if ierr != nil {
			return nil, ierr
		}
		r = in
	default:
		return nil, err
	}
	if r == nil {
		r = &config.Resolved{Namespace: config.DefaultNamespace}
	}
	if len(override) > 0 {
		r.Servers = override
	}
	if plaintext {
		r.Insecure, r.TLS = true, nil
	}
	if c.token != "" {
		r.BearerToken, r.BearerTokenFile = c.token, ""
		if r.TLS != nil {
			r.TLS = r.TLS.Clone()
			r.TLS.Certificates, r.TLS.GetClientCertificate = nil, nil
		}
	}
	c.resolved = r
	return r, nil
}

// Clientset returns the connection to the cluster, opening it on first use.
func (c *CLI) Clientset() (*client.Client, error) {
	if c.client != nil {
		return c.client, nil
	}
	r, err := c.Resolve()
	if err != nil {
		return nil, err
	}
	if c.as.UserName == "" && (len(c.as.Groups) > 0 || c.as.UID != "") {
		return nil, errors.New("requesting uid or groups without impersonating a user: add --as")
	}
	opts := client.ResolvedOptions(r, UserAgent)
	opts.Impersonate = c.as
	cl, err := client.New(opts)
	if err != nil {
		return nil, err
	}
	c.client = cl
	return cl, nil
}

// Impersonation is --as, --as-group and --as-uid.
func (c *CLI) Impersonation() client.Impersonation { return c.as }

// NS is the namespace of the request: -n, else the context's, else
// "default".
func (c *CLI) NS() string {
	if c.namespace != "" {
		return c.namespace
	}
	if r, err := c.Resolve(); err == nil && r.Namespace != "" {
		return r.Namespace
	}
	return config.DefaultNamespace
}

// NamespaceFlagSet reports whether -n was given.
func (c *CLI) NamespaceFlagSet() bool { return c.nsFlagSet }

// ConfigPath is --config ("" for the default).
func (c *CLI) ConfigPath() string { return c.configPath }

// ContextName is --context ("" for the configuration's current-context).
func (c *CLI) ContextName() string { return c.contextName }

// Close closes the client connection, if one was opened.
func (c *CLI) Close() {
	if c.client != nil {
		c.client.Close()
		c.client = nil
	}
}
