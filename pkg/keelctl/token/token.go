// Package token holds keelctl token: create, list and delete bootstrap
// tokens, with which a new node's kubelet joins the cluster (see
// pkg/auth/bootstraptoken).
package token

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/auth/bootstraptoken"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/pki"
)

// NewCommand returns the "token" command and its subcommands.
func NewCommand(c *cmdutil.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage bootstrap tokens, with which nodes join the cluster",
		Long: `Manage bootstrap tokens: Secrets of type bootstrap.kubernetes.io/token in
kube-system. A kubelet presenting a token ID.SECRET is user system:bootstrap:ID
in group system:bootstrappers (when the apiserver runs with
--enable-bootstrap-token-auth) until the token expires.`,
	}
	cmd.AddCommand(newCreate(c), newList(c), newDelete(c))
	return cmd
}

type createOptions struct {
	ttl         time.Duration
	description string
	groups      []string
	printJoin   bool
}

func newCreate(c *cmdutil.CLI) *cobra.Command {
	o := &createOptions{}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a bootstrap token and print it",
		Example: `  keelctl token create
  keelctl token create --ttl 2h --print-join-command`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runCreate(cmd.Context(), c, o) },
	}
	f := cmd.Flags()
	f.DurationVar(&o.ttl, "ttl", 24*time.Hour, "how long the token is valid; 0 never expires")
	f.StringVar(&o.description, "description", "", "a note saying what the token is for")
	f.StringSliceVar(&o.groups, "groups", nil, "further groups of the token's user, each starting with "+bootstraptoken.GroupPrefix)
	f.BoolVar(&o.printJoin, "print-join-command", false, "print the keel-kubelet command that joins a node with the token (needs a TLS connection: the CA that verified the apiserver is pinned by its hash)")
	return cmd
}

func runCreate(ctx context.Context, c *cmdutil.CLI, o *createOptions) error {
	if o.ttl < 0 {
		return fmt.Errorf("--ttl must not be negative, got %s", o.ttl)
	}
	probe := &corev1.Secret{Data: map[string][]byte{bootstraptoken.KeyExtraGroups: []byte(strings.Join(o.groups, ","))}}
	if _, err := bootstraptoken.ExtraGroups(probe); err != nil {
		return fmt.Errorf("--groups: %w", err)
	}
	// Learn the CA before writing anything: a join command that cannot be
	// printed leaves no token behind.
	var joinServer, caHash string
	if o.printJoin {
		r, err := c.Resolve()
		if err != nil {
			return err
		}
		if r.TLS == nil {
			return errors.New("--print-join-command needs a TLS connection to the apiserver (its CA is pinned in the command), not --insecure")
		}
		joinServer = r.Servers[0]
		if caHash, err = CAHash(ctx, joinServer, r.TLS); err != nil {
			return err
		}
	}
	cs, err := c.Clientset()
	if err != nil {
		return err
	}
	id, err := randomString(6)
	if err != nil {
		return err
	}
	secret, err := randomString(16)
	if err != nil {
		return err
	}
	data := map[string][]byte{
		bootstraptoken.KeyTokenID:             []byte(id),
		bootstraptoken.KeyTokenSecret:         []byte(secret),
		bootstraptoken.KeyUsageAuthentication: []byte("true"),
	}
	if o.ttl > 0 {
		data[bootstraptoken.KeyExpiration] = []byte(time.Now().Add(o.ttl).UTC().Format(time.RFC3339))
	}
	if o.description != "" {
		data[keyDescription] = []byte(o.description)
	}
	if len(o.groups) > 0 {
		data[bootstraptoken.KeyExtraGroups] = []byte(strings.Join(o.groups, ","))
	}
	if _, err := client.For[*corev1.Secret](cs, bootstraptoken.Namespace).Create(ctx, &corev1.Secret{
		Metadata: &metav1.ObjectMeta{Name: bootstraptoken.SecretName(id), Namespace: bootstraptoken.Namespace},
		Type:     bootstraptoken.SecretType,
		Data:     data,
	}, client.CreateOptions{}); err != nil {
		return err
	}
	token := id + "." + secret
	if o.printJoin {
		fmt.Fprintf(c.Out, "keel-kubelet --server %s --token %s --ca-cert-hash %s\n", joinServer, token, caHash)
		return nil
	}
	fmt.Fprintln(c.Out, token)
	return nil
}

// keyDescription is the Secret key of a token's human-readable note.
const keyDescription = "description"

// randomString returns n characters of [a-z0-9] from crypto/rand.
func randomString(n int) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, n)
	var b [1]byte
	for len(out) < n {
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		// Reject the bytes above the largest multiple of 36 so that every
		// character is equally likely.
		if int(b[0]) < 252 {
			out = append(out, alphabet[int(b[0])%len(alphabet)])
		}
	}
	return string(out), nil
}

// CAHash connects to server with cfg and returns "sha256:HEX", the hash of
// the SubjectPublicKeyInfo of the root CA that verified the server's
// certificate: what a joining kubelet's --ca-cert-hash pins.
func CAHash(ctx context.Context, server string, cfg *tls.Config) (string, error) {
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(server)
		if err != nil {
			return "", fmt.Errorf("server %q: %w", server, err)
		}
		cfg.ServerName = host
	}
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return "", fmt.Errorf("reading the cluster CA from %s: %w", server, err)
	}
	defer conn.Close()
	chains := conn.(*tls.Conn).ConnectionState().VerifiedChains
	if len(chains) == 0 || len(chains[0]) == 0 {
		return "", fmt.Errorf("reading the cluster CA from %s: no verified certificate chain", server)
	}
	return pki.SPKIHash(chains[0][len(chains[0])-1]), nil
}

func newList(c *cmdutil.CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the bootstrap tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := c.Clientset()
			if err != nil {
				return err
			}
			list, err := client.For[*corev1.Secret](cs, bootstraptoken.Namespace).List(cmd.Context(), client.ListOptions{})
			if err != nil {
				return err
			}
			var rows []string
			now := time.Now()
			for _, s := range list.Items {
				if s.GetType() != bootstraptoken.SecretType {
					continue
				}
				d := s.GetData()
				ttl, expires := "<forever>", "<never>"
				if v, ok := d[bootstraptoken.KeyExpiration]; ok {
					expires = string(v)
					if t, err := time.Parse(time.RFC3339, string(v)); err != nil {
						ttl = "<invalid>"
					} else if t.After(now) {
						ttl = t.Sub(now).Round(time.Second).String()
					} else {
						ttl = "<expired>"
					}
				}
				var usages []string
				if string(d[bootstraptoken.KeyUsageAuthentication]) == "true" {
					usages = append(usages, "authentication")
				}
				rows = append(rows, strings.Join([]string{
					string(d[bootstraptoken.KeyTokenID]) + "." + string(d[bootstraptoken.KeyTokenSecret]),
					ttl, expires, orNone(strings.Join(usages, ",")), orNone(string(d[keyDescription])), orNone(string(d[bootstraptoken.KeyExtraGroups])),
				}, "\t"))
			}
			sort.Strings(rows)
			w := tabwriter.NewWriter(c.Out, 0, 8, 3, ' ', 0)
			fmt.Fprintln(w, "TOKEN\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION\tEXTRA GROUPS")
			for _, r := range rows {
				fmt.Fprintln(w, r)
			}
			return w.Flush()
		},
	}
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func newDelete(c *cmdutil.CLI) *cobra.Command {
	return &cobra.Command{
		Use:     "delete (ID | ID.SECRET)...",
		Short:   "Delete bootstrap tokens",
		Example: `  keelctl token delete abcdef`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ids []string
			for _, a := range args {
				id, _, _ := strings.Cut(a, ".")
				if !bootstraptoken.ValidID(id) {
					return fmt.Errorf("%q is not a bootstrap token ID (6 characters of [a-z0-9]) or token ID.SECRET", a)
				}
				ids = append(ids, id)
			}
			cs, err := c.Clientset()
			if err != nil {
				return err
			}
			secrets := client.For[*corev1.Secret](cs, bootstraptoken.Namespace)
			var errs cmdutil.ErrorList
			for _, id := range ids {
				if _, _, err := secrets.Delete(cmd.Context(), bootstraptoken.SecretName(id), client.DeleteOptions{}); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(c.Out, "bootstrap token %q deleted\n", id)
			}
			return errs.OrNil()
		},
	}
}
