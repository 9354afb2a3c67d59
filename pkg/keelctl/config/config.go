// Package config holds keelctl config (the client configuration file),
// keelctl version and keelctl pki.
package config

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"keel.dev/keel/pkg/client/config"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/printers"
)

// NewConfigCommand returns the "config" command.
func NewConfigCommand(c *cmdutil.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config SUBCOMMAND",
		Short: "Read and change the client configuration file",
		Long: `Read and change the client configuration: the file named by --config, else
$KEELCONFIG, else ~/.keel/config. It holds clusters (every apiserver address
and the cluster CA), users (client certificate and key) and contexts (a
cluster, a user and a default namespace), like a kubeconfig.`,
		Example: `  keelctl config set-cluster prod --server 10.0.0.1:6443 --server 10.0.0.2:6443 \
      --certificate-authority /etc/keel/pki/ca.crt --embed-certs
  keelctl config set-credentials admin --client-certificate admin.crt --client-key admin.key --embed-certs
  keelctl config set-context prod --cluster prod --user admin --namespace default
  keelctl config use-context prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newConfigViewCommand(c),
		newConfigCurrentContextCommand(c),
		newConfigUseContextCommand(c),
		newConfigGetContextsCommand(c),
		newConfigSetContextCommand(c),
		newConfigSetClusterCommand(c),
		newConfigSetCredentialsCommand(c),
		newConfigGetNamesCommand(c, "get-clusters", "NAME", func(cfg *config.Config) []string {
			var n []string
			for _, x := range cfg.Clusters {
				n = append(n, x.Name)
			}
			return n
		}),
		newConfigGetNamesCommand(c, "get-users", "NAME", func(cfg *config.Config) []string {
			var n []string
			for _, x := range cfg.Users {
				n = append(n, x.Name)
			}
			return n
		}),
		newConfigDeleteCommand(c, "delete-context", "context"),
		newConfigDeleteCommand(c, "delete-cluster", "cluster"),
		newConfigDeleteCommand(c, "delete-user", "user"),
		newConfigRenameContextCommand(c),
	)
	return cmd
}

// loadConfig reads the configuration file; a missing file reads as an
// empty configuration at that path (so the set-* commands create it).
func loadConfig(c *cmdutil.CLI) (*config.Config, error) {
	path, err := config.FindPath(c.ConfigPath())
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &config.Config{Path: path}, nil
	}
	return cfg, err
}

func newConfigViewCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		minify bool
		raw    bool
		output string
	)
	cmd := &cobra.Command{
		Use:   "view",
		Short: "Print the configuration (certificate and key data omitted unless --raw)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			view := *cfg
			if minify {
				name := c.ContextName()
				if name == "" {
					name = cfg.CurrentContext
				}
				ctx, ok := cfg.Context(name)
				if !ok {
					if name == "" {
						return errors.New("current-context must exist in order to minify")
					}
					return fmt.Errorf("no context exists with the name: %q", name)
				}
				view = config.Config{CurrentContext: name, Contexts: []config.NamedContext{{Name: name, Context: *ctx}}}
				if cl, ok := cfg.Cluster(ctx.Cluster); ok {
					view.Clusters = []config.NamedCluster{{Name: ctx.Cluster, Cluster: *cl}}
				}
				if u, ok := cfg.User(ctx.User); ok && ctx.User != "" {
					view.Users = []config.NamedUser{{Name: ctx.User, User: *u}}
				}
			} else {
				view.Clusters = append([]config.NamedCluster(nil), cfg.Clusters...)
				view.Users = append([]config.NamedUser(nil), cfg.Users...)
			}
			if !raw {
				for i := range view.Clusters {
					if view.Clusters[i].Cluster.CertificateAuthorityData != "" {
						view.Clusters[i].Cluster.CertificateAuthorityData = "DATA+OMITTED"
					}
				}
				for i := range view.Users {
					u := &view.Users[i].User
					if u.ClientCertificateData != "" {
						u.ClientCertificateData = "DATA+OMITTED"
					}
					if u.ClientKeyData != "" {
						u.ClientKeyData = "REDACTED"
					}
				}
			}
			view.APIVersion, view.Kind = "v1", "Config"
			var b []byte
			switch output {
			case "", "yaml":
				b, err = yaml.Marshal(&view)
			case "json":
				b, err = json.MarshalIndent(&view, "", "    ")
				b = append(b, '\n')
			default:
				return fmt.Errorf("unsupported output format %q (yaml or json)", output)
			}
			if err != nil {
				return err
			}
			_, err = c.Out.Write(b)
			return err
		},
	}
	cmd.Flags().BoolVar(&minify, "minify", false, "only the current context (or --context) and its cluster and user")
	cmd.Flags().BoolVar(&raw, "raw", false, "print certificate and key data as they are")
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "yaml or json")
	return cmd
}

func newConfigCurrentContextCommand(c *cmdutil.CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "current-context",
		Short: "Print the current context",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			if cfg.CurrentContext == "" {
				return errors.New("current-context is not set")
			}
			fmt.Fprintln(c.Out, cfg.CurrentContext)
			return nil
		},
	}
}

func newConfigUseContextCommand(c *cmdutil.CLI) *cobra.Command {
	return &cobra.Command{
		Use:     "use-context NAME",
		Aliases: []string{"use"},
		Short:   "Make a context the current one",
		Args:    cobra.ExactArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return contextNames(c), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			if _, ok := cfg.Context(args[0]); !ok {
				return fmt.Errorf("no context exists with the name: %q", args[0])
			}
			cfg.CurrentContext = args[0]
			if err := cfg.Save(""); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "Switched to context %q.\n", args[0])
			return nil
		},
	}
}

func contextNames(c *cmdutil.CLI) []string {
	cfg, err := loadConfig(c)
	if err != nil {
		return nil
	}
	var names []string
	for _, x := range cfg.Contexts {
		names = append(names, x.Name)
	}
	return names
}

func newConfigGetContextsCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		output    string
		noHeaders bool
	)
	cmd := &cobra.Command{
		Use:   "get-contexts [NAME...]",
		Short: "List the contexts",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			want := map[string]bool{}
			for _, a := range args {
				if _, ok := cfg.Context(a); !ok {
					return fmt.Errorf("context %s not found", a)
				}
				want[a] = true
			}
			rows := [][]string{}
			if !noHeaders && output != "name" {
				rows = append(rows, []string{"CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"})
			}
			for _, x := range cfg.Contexts {
				if len(want) > 0 && !want[x.Name] {
					continue
				}
				if output == "name" {
					fmt.Fprintln(c.Out, x.Name)
					continue
				}
				cur := ""
				if x.Name == cfg.CurrentContext {
					cur = "*"
				}
				rows = append(rows, []string{cur, x.Name, x.Context.Cluster, x.Context.User, x.Context.Namespace})
			}
			if output == "name" {
				return nil
			}
			if output != "" {
				return fmt.Errorf("unsupported output format %q (name)", output)
			}
			return printers.NewWriter(c.Out).Write(rows)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", `"name" prints only the names`)
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "leave out the header")
	return cmd
}

func newConfigGetNamesCommand(c *cmdutil.CLI, use, header string, names func(*config.Config) []string) *cobra.Command {
	what := map[string]string{"get-clusters": "clusters", "get-users": "users"}[use]
	return &cobra.Command{
		Use:   use,
		Short: "List the " + what,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, header)
			for _, n := range names(cfg) {
				fmt.Fprintln(c.Out, n)
			}
			return nil
		},
	}
}

func newConfigSetContextCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		current   bool
		cluster   string
		user      string
		namespace string
	)
	cmd := &cobra.Command{
		Use:   "set-context [NAME | --current] [--cluster=NAME] [--user=NAME] [--namespace=NAMESPACE]",
		Short: "Create a context or change its cluster, user or namespace",
		Long: `Create a context, or change the fields given of an existing one.

--namespace here is the context's default namespace (the global -n flag is
not used by this command).`,
		Example: `  keelctl config set-context prod --cluster prod --user admin
  keelctl config set-context --current --namespace web`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			var name string
			switch {
			case current && len(args) > 0:
				return errors.New("you cannot specify both a context name and --current")
			case current:
				if cfg.CurrentContext == "" {
					return errors.New("no current context is set")
				}
				name = cfg.CurrentContext
			case len(args) == 0:
				return errors.New("give a context name, or --current")
			default:
				name = args[0]
			}
			ctx, exists := cfg.Context(name)
			next := config.Context{}
			if exists {
				next = *ctx
			}
			f := cmd.Flags()
			if f.Changed("cluster") {
				next.Cluster = cluster
			}
			if f.Changed("user") {
				next.User = user
			}
			if f.Changed("namespace") {
				next.Namespace = namespace
			}
			if next.Cluster == "" {
				return fmt.Errorf("context %q needs a cluster (--cluster NAME)", name)
			}
			cfg.SetContext(name, next)
			if err := cfg.Save(""); err != nil {
				return err
			}
			if exists {
				fmt.Fprintf(c.Out, "Context %q modified.\n", name)
			} else {
				fmt.Fprintf(c.Out, "Context %q created.\n", name)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&current, "current", false, "change the current context")
	f.StringVar(&cluster, "cluster", "", "the cluster of the context")
	f.StringVar(&user, "user", "", "the user of the context")
	// A local --namespace shadows the global -n/--namespace for this
	// command; it has no shorthand, as in kubectl.
	f.StringVar(&namespace, "namespace", "", "the default namespace of the context")
	return cmd
}

func newConfigSetClusterCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		servers       []string
		caFile        string
		embed         bool
		tlsServerName string
	)
	cmd := &cobra.Command{
		Use:   "set-cluster NAME [--server=HOST:PORT ...] [--certificate-authority=FILE [--embed-certs]] [--tls-server-name=NAME]",
		Short: "Create a cluster entry or change its servers and CA",
		Long: `Create a cluster entry, or change the fields given of an existing one.

--server is repeated (or comma-separated) for every apiserver of the cluster:
host:port or https://host:port for TLS, http://host:port for an apiserver's
plain-text loopback listener. Giving --server replaces the list.
--certificate-authority names the CA file the apiservers' certificates are
checked against; it is stored as an absolute path, or with --embed-certs its
contents are stored in the file.`,
		Example: `  keelctl config set-cluster local --server 127.0.0.1:6443 --certificate-authority pki/ca.crt --embed-certs
  keelctl config set-cluster ha --server cp1:6443,cp2:6443,cp3:6443 --certificate-authority /etc/keel/pki/ca.crt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			name := args[0]
			cl := config.Cluster{}
			if cur, ok := cfg.Cluster(name); ok {
				cl = *cur
			}
			f := cmd.Flags()
			if f.Changed("server") {
				for _, s := range servers {
					if _, err := config.ParseServer(s); err != nil {
						return fmt.Errorf("--server %v", err)
					}
				}
				cl.SetServers(servers)
			}
			if f.Changed("certificate-authority") {
				data, err := os.ReadFile(caFile)
				if err != nil {
					return fmt.Errorf("--certificate-authority: %w", err)
				}
				if _, err := pki.CertPoolFromPEM(data); err != nil {
					return fmt.Errorf("--certificate-authority %s: %w", caFile, err)
				}
				if embed {
					cl.CertificateAuthority, cl.CertificateAuthorityData = "", base64.StdEncoding.EncodeToString(data)
				} else {
					abs, err := filepath.Abs(caFile)
					if err != nil {
						return err
					}
					cl.CertificateAuthority, cl.CertificateAuthorityData = abs, ""
				}
			} else if embed {
				return errors.New("--embed-certs needs --certificate-authority")
			}
			if f.Changed("tls-server-name") {
				cl.TLSServerName = tlsServerName
			}
			if len(cl.Endpoints()) == 0 {
				return fmt.Errorf("cluster %q needs at least one --server", name)
			}
			cfg.SetCluster(name, cl)
			if err := cfg.Save(""); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "Cluster %q set.\n", name)
			return nil
		},
	}
	f := cmd.Flags()
	// A local --server replaces the global one for this command.
	f.StringSliceVar(&servers, "server", nil, "apiserver address (repeatable, or comma-separated): host:port, https://host:port or http://host:port")
	f.StringVar(&caFile, "certificate-authority", "", "PEM file of the cluster CA")
	f.BoolVar(&embed, "embed-certs", false, "store the CA's contents in the configuration instead of its path")
	f.StringVar(&tlsServerName, "tls-server-name", "", "name to check the apiservers' certificates against instead of each server's host")
	_ = cmd.MarkFlagFilename("certificate-authority", "crt", "pem")
	return cmd
}

func newConfigSetCredentialsCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		certFile string
		keyFile  string
		embed    bool
	)
	cmd := &cobra.Command{
		Use:   "set-credentials NAME [--client-certificate=FILE --client-key=FILE [--embed-certs]]",
		Short: "Create a user entry or change its client certificate and key",
		Long: `Create a user entry, or change its client certificate and key. The files are
stored as absolute paths, or with --embed-certs their contents are stored in
the configuration.`,
		Example: `  keelctl config set-credentials admin --client-certificate pki/admin.crt --client-key pki/admin.key --embed-certs`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			name := args[0]
			u := config.User{}
			if cur, ok := cfg.User(name); ok {
				u = *cur
			}
			f := cmd.Flags()
			if f.Changed("client-certificate") != f.Changed("client-key") {
				if _, ok := cfg.User(name); !ok || embed {
					return errors.New("--client-certificate and --client-key go together")
				}
			}
			var certPEM, keyPEM []byte
			if f.Changed("client-certificate") {
				if certPEM, err = os.ReadFile(certFile); err != nil {
					return fmt.Errorf("--client-certificate: %w", err)
				}
				if embed {
					u.ClientCertificate, u.ClientCertificateData = "", base64.StdEncoding.EncodeToString(certPEM)
				} else {
					abs, err := filepath.Abs(certFile)
					if err != nil {
						return err
					}
					u.ClientCertificate, u.ClientCertificateData = abs, ""
				}
			}
			if f.Changed("client-key") {
				if keyPEM, err = os.ReadFile(keyFile); err != nil {
					return fmt.Errorf("--client-key: %w", err)
				}
				if embed {
					u.ClientKey, u.ClientKeyData = "", base64.StdEncoding.EncodeToString(keyPEM)
				} else {
					abs, err := filepath.Abs(keyFile)
					if err != nil {
						return err
					}
					u.ClientKey, u.ClientKeyData = abs, ""
				}
			}
			if certPEM != nil && keyPEM != nil {
				if _, err := pki.ParseKeyPair(certPEM, keyPEM); err != nil {
					return fmt.Errorf("--client-certificate %s and --client-key %s: %w", certFile, keyFile, err)
				}
			}
			if embed && certPEM == nil && keyPEM == nil {
				return errors.New("--embed-certs needs --client-certificate and --client-key")
			}
			cfg.SetUser(name, u)
			if err := cfg.Save(""); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "User %q set.\n", name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&certFile, "client-certificate", "", "PEM file of the client certificate")
	f.StringVar(&keyFile, "client-key", "", "PEM file of the client certificate's key")
	f.BoolVar(&embed, "embed-certs", false, "store the certificate and key in the configuration instead of their paths")
	_ = cmd.MarkFlagFilename("client-certificate", "crt", "pem")
	_ = cmd.MarkFlagFilename("client-key", "key", "pem")
	return cmd
}

func newConfigDeleteCommand(c *cmdutil.CLI, use, what string) *cobra.Command {
	return &cobra.Command{
		Use:   use + " NAME",
		Short: "Delete the " + what + " entry NAME",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			name := args[0]
			found := false
			switch what {
			case "context":
				for i, x := range cfg.Contexts {
					if x.Name == name {
						cfg.Contexts = append(cfg.Contexts[:i], cfg.Contexts[i+1:]...)
						found = true
						break
					}
				}
				if found && cfg.CurrentContext == name {
					fmt.Fprintf(c.ErrOut, "warning: this removed your active context, use \"keelctl config use-context\" to select a different one\n")
					cfg.CurrentContext = ""
				}
			case "cluster":
				for i, x := range cfg.Clusters {
					if x.Name == name {
						cfg.Clusters = append(cfg.Clusters[:i], cfg.Clusters[i+1:]...)
						found = true
						break
					}
				}
			case "user":
				for i, x := range cfg.Users {
					if x.Name == name {
						cfg.Users = append(cfg.Users[:i], cfg.Users[i+1:]...)
						found = true
						break
					}
				}
			}
			if !found {
				return fmt.Errorf("cannot delete %s %s, not in %s", what, name, cfg.Path)
			}
			if err := cfg.Save(""); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "deleted %s %s from %s\n", what, name, cfg.Path)
			return nil
		},
	}
}

func newConfigRenameContextCommand(c *cmdutil.CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "rename-context OLD NEW",
		Short: "Rename a context",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			oldName, newName := args[0], args[1]
			if _, ok := cfg.Context(newName); ok {
				return fmt.Errorf("cannot rename the context %q, the context %q already exists", oldName, newName)
			}
			found := false
			for i := range cfg.Contexts {
				if cfg.Contexts[i].Name == oldName {
					cfg.Contexts[i].Name = newName
					found = true
				}
			}
			if !found {
				return fmt.Errorf("cannot rename the context %q, it's not in %s", oldName, cfg.Path)
			}
			if cfg.CurrentContext == oldName {
				cfg.CurrentContext = newName
			}
			if err := cfg.Save(""); err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "Context %q renamed to %q.\n", oldName, newName)
			return nil
		},
	}
}
