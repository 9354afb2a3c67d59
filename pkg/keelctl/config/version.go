package config

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/version"
)

// NewVersionCommand returns the "version" command.
func NewVersionCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		clientOnly bool
		timeout    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client version and whether each apiserver is reachable",
		Long: `Print keelctl's version, then for each apiserver of the context whether it
answers and is serving (its gRPC health status), and whether the API accepts
this client's credentials.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(c.Out, "Client Version: %s\n", version.Get())
			if clientOnly {
				return nil
			}
			r, err := c.Resolve()
			if err != nil {
				return err
			}
			reachable := 0
			for _, s := range r.Servers {
				status, err := checkServer(cmd.Context(), s, r.TLS, r.Insecure, timeout)
				if err != nil {
					fmt.Fprintf(c.Out, "Server %s: unreachable: %v\n", s, err)
					continue
				}
				reachable++
				fmt.Fprintf(c.Out, "Server %s: reachable, %s\n", s, status)
			}
			if reachable == 0 {
				return fmt.Errorf("no apiserver of the context answered")
			}
			cl, err := c.Clientset()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if _, err := cl.Namespaces().List(ctx, client.ListOptions{Limit: 1, ResourceVersion: "0"}); err != nil {
				return err
			}
			fmt.Fprintln(c.Out, "API: ok")
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print only the client version")
	cmd.Flags().DurationVar(&timeout, "request-timeout", 5*time.Second, "how long to wait for each apiserver")
	return cmd
}

// checkServer asks one apiserver for its gRPC health status.
func checkServer(ctx context.Context, addr string, tlsConf *tls.Config, insecure bool, timeout time.Duration) (string, error) {
	opts := client.Options{Servers: []string{addr}, Insecure: insecure, UserAgent: cmdutil.UserAgent}
	if !insecure {
		opts.TLS = tlsConf
	}
	cl, err := client.New(opts)
	if err != nil {
		return "", err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cl.Conn()).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil {
		return "", err
	}
	return resp.GetStatus().String(), nil
}
