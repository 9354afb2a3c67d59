package main

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

// userAgent identifies keelctl to the apiserver.
const userAgent = "keelctl"

// cli is the state of one keelctl invocation: its streams, environment and
// global flags, and the client connection, opened on first use.
type cli struct {
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	getenv func(string) string
	now    func() time.Time

	// Global flags.
	configPath  string
	contextName string
	namespace   string
	servers     []string
	insecure    bool

	nsFlagSet bool // -n was given

	client   *client.Client
	resolved *config.Resolved
}

func (c *cli) addGlobalFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&c.configPath, "config", "", "client configuration file (default $KEELCONFIG, else ~/.keel/config)")
	f.StringVar(&c.contextName, "context", "", "the configuration context to use (default: its current-context)")
	f.StringVarP(&c.namespace, "namespace", "n", "", "the namespace of this request (default: the context's)")
	f.StringSliceVarP(&c.servers, "server", "s", nil, "apiserver address host:port, overriding the context's servers (repeatable)")
	f.BoolVar(&c.insecure, "insecure", false, "connect in plain text (loopback apiservers only), without TLS or configuration")
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		c.nsFlagSet = cmd.Flags().Changed("namespace")
	}
	_ = root.RegisterFlagCompletionFunc("namespace", func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return c.completeNames(cmd, "namespaces", toComplete), cobra.ShellCompDirectiveNoFileComp
	})
	_ = root.RegisterFlagCompletionFunc("context", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		cfg, err := config.LoadDefault(c.configPath)
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

// resolve works out where and how to connect: the configuration context,
// with --server and --insecure applied on top. --server with --insecure
// needs no configuration file at all.
func (c *cli) resolve() (*config.Resolved, error) {
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
	cfg, err := config.LoadDefault(c.configPath)
	switch {
	case err == nil:
		r, err = cfg.Resolve(c.contextName)
		if err != nil && !(len(override) > 0 && plaintext) {
			return nil, err
		}
	case errors.Is(err, fs.ErrNotExist) && len(override) > 0 && plaintext:
		// --server ... --insecure: no configuration needed.
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w (write one with \"keelctl config set-cluster\", or pass --server HOST:PORT --insecure for a local apiserver)", err)
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
	c.resolved = r
	return r, nil
}

// clientset returns the connection to the cluster, opening it on first use.
func (c *cli) clientset() (*client.Client, error) {
	if c.client != nil {
		return c.client, nil
	}
	r, err := c.resolve()
	if err != nil {
		return nil, err
	}
	cl, err := client.NewFromResolved(r, userAgent)
	if err != nil {
		return nil, err
	}
	c.client = cl
	return cl, nil
}

// ns is the namespace of the request: -n, else the context's, else
// "default".
func (c *cli) ns() string {
	if c.namespace != "" {
		return c.namespace
	}
	if r, err := c.resolve(); err == nil && r.Namespace != "" {
		return r.Namespace
	}
	return config.DefaultNamespace
}

func (c *cli) close() {
	if c.client != nil {
		c.client.Close()
		c.client = nil
	}
}
