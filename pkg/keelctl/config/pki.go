package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"keel.dev/keel/pkg/pki"
)

// NewPKICommand returns the "pki" command.
func NewPKICommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pki",
		Short: "Create the cluster CA and certificates",
		Long: `Create the cluster CA and the certificates every component needs.

Identities follow Kubernetes: a client certificate's common name (CN) is the
user name and its organizations (O) are the groups.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newPKIInitCommand(), newPKIIssueCommand())
	return cmd
}

func newPKIInitCommand() *cobra.Command {
	var (
		dir      string
		sans     []string
		etcdSANs []string
		nodes    []string
		hostname string
		validity time.Duration
	)
	cmd := &cobra.Command{
		Use:   "init --dir DIR [--apiserver-san NAME_OR_IP ...] [--etcd-san NAME_OR_IP ...] [--node NAME[=IP,IP] ...]",
		Short: "Create the CA and every certificate a cluster needs (keeps existing files)",
		Long: `Create in DIR the cluster CA (ca.crt, ca.key) and certificates for the
apiserver, the admin user, the scheduler, the controller-manager, the proxy,
the apiserver's kubelet client, and each --node's kubelet (client and serving).

etcd gets a CA of its own, as with kubeadm: DIR/etcd/ca.crt signs the etcd
members' serving certificate (etcd/server.crt, for etcd's --cert-file and the
embedded member's --embedded-etcd-cert-file), their peer certificate
(etcd/peer.crt, for --peer-cert-file) and the apiserver's client certificate
for etcd (apiserver-etcd-client.crt, for --etcd-certfile). The server and
peer certificates are valid for localhost, 127.0.0.1, ::1, the host name and
each --etcd-san: name every etcd member's host and address.

Existing files are kept, so re-running is safe: it keeps the CA and adds what
is missing (for example, the certificates of a new --node). To re-issue a
certificate, delete its .crt and .key and run init again.`,
		Example: `  keelctl pki init --dir /etc/keel/pki --apiserver-san cp1.example.com --apiserver-san 10.0.0.10 \
      --etcd-san cp1,cp2,cp3,10.0.0.10,10.0.0.11,10.0.0.12 \
      --node worker1=10.0.0.21 --node worker2=10.0.0.22`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := pki.InitOptions{Dir: dir, APIServerSANs: sans, EtcdSANs: etcdSANs, Hostname: hostname, Validity: validity}
			for _, s := range nodes {
				n, err := pki.ParseNode(s)
				if err != nil {
					return fmt.Errorf("--node: %w", err)
				}
				opts.Nodes = append(opts.Nodes, n)
			}
			res, err := pki.Init(opts)
			if res != nil {
				out := cmd.OutOrStdout()
				for _, p := range res.Created {
					fmt.Fprintf(out, "created %s\n", p)
				}
				for _, p := range res.Kept {
					fmt.Fprintf(out, "kept    %s\n", p)
				}
				for _, w := range res.Warnings {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "directory for the certificates and keys (created if missing)")
	f.StringSliceVar(&sans, "apiserver-san", nil, "extra DNS name or IP address of the apiserver (repeatable, comma-separated)")
	f.StringSliceVar(&etcdSANs, "etcd-san", nil, "extra DNS name or IP address of the etcd members, for etcd/server.crt and etcd/peer.crt (repeatable, comma-separated)")
	f.StringArrayVar(&nodes, "node", nil, "node to create kubelet certificates for, as NAME or NAME=IP[,IP...] (repeatable)")
	f.StringVar(&hostname, "hostname", "", "host name added to the apiserver and etcd certificates (default: this machine's)")
	f.DurationVar(&validity, "validity", pki.DefaultValidity, "lifetime of the leaf certificates (the CA is valid 10 years)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func newPKIIssueCommand() *cobra.Command {
	var (
		dir, name, cn  string
		groups, sans   []string
		server, client bool
		validity       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "issue --dir DIR --name FILE_BASENAME --cn CN [--group G ...] [--san NAME_OR_IP ...] [--server] [--client]",
		Short: "Issue one certificate signed by the CA in DIR",
		Long: `Issue one certificate signed by DIR/ca.crt and DIR/ca.key, written to
DIR/NAME.crt and DIR/NAME.key. Existing files are never overwritten.

Without --server or --client the certificate is a client certificate: CN is
the user name and each --group an organization (O). --server certificates
need at least one --san.`,
		Example: `  keelctl pki issue --dir /etc/keel/pki --name alice --cn alice --group dev`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !server && !client {
				client = true
			}
			dnsNames, ips, err := pki.ParseSANs(sans)
			if err != nil {
				return fmt.Errorf("--san: %w", err)
			}
			if server && len(sans) == 0 {
				return errors.New("--server needs at least one --san")
			}
			_, err = pki.IssueInDir(dir, name, pki.CertSpec{
				CommonName:   cn,
				Organization: groups,
				DNSNames:     dnsNames,
				IPAddresses:  ips,
				Server:       server,
				Client:       client,
				Validity:     validity,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s\ncreated %s\n", pki.CertPath(dir, name), pki.KeyPath(dir, name))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "directory holding ca.crt and ca.key; receives NAME.crt and NAME.key")
	f.StringVar(&name, "name", "", "base name of the files to write")
	f.StringVar(&cn, "cn", "", "subject common name (the user name of a client certificate)")
	f.StringArrayVar(&groups, "group", nil, "subject organization (a group of the user; repeatable)")
	f.StringSliceVar(&sans, "san", nil, "DNS name or IP address the certificate is valid for (repeatable, comma-separated)")
	f.BoolVar(&server, "server", false, "allow use as a TLS server certificate")
	f.BoolVar(&client, "client", false, "allow use as a TLS client certificate (the default without --server)")
	f.DurationVar(&validity, "validity", pki.DefaultValidity, "lifetime of the certificate (capped at the CA's)")
	for _, fl := range []string{"dir", "name", "cn"} {
		_ = cmd.MarkFlagRequired(fl)
	}
	return cmd
}
