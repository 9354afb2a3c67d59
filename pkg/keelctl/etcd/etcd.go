// Package etcd holds keelctl etcd snapshot save: a snapshot of the
// cluster's etcd, taken by an apiserver (which alone talks to etcd) and
// fetched over its secure port (see docs/backup.md). Restoring one is
// keel-apiserver etcd-snapshot restore, where etcd's code lives.
package etcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/client/config"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/snapshotfile"
)

// NewCommand returns "etcd" and its subcommands.
func NewCommand(c *cmdutil.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Back up the cluster's etcd",
	}
	snap := &cobra.Command{
		Use:   "snapshot",
		Short: "Save etcd snapshots (restore them with keel-apiserver etcd-snapshot restore)",
	}
	snap.AddCommand(&cobra.Command{
		Use:   "save FILE",
		Short: "Save a consistent snapshot of the cluster's etcd to FILE",
		Long: `Save a consistent snapshot of the cluster's etcd, embedded or external, to
FILE. An apiserver takes it and sends it over its secure port (GET
/etcd/snapshot, which of the bootstrap roles only cluster-admin may get).
The snapshot is written to FILE.part, synced, checked (size and sha256) and
then renamed to FILE.`,
		Example: `  keelctl etcd snapshot save /var/backups/keel-$(date +%F).db`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return save(cmd.Context(), c, args[0])
		},
	})
	cmd.AddCommand(snap)
	return cmd
}

// save fetches a snapshot from the first apiserver that answers and
// writes it to path.
func save(ctx context.Context, c *cmdutil.CLI, path string) error {
	r, err := c.Resolve()
	if err != nil {
		return err
	}
	if r.Insecure || r.TLS == nil {
		return errors.New("etcd snapshot save needs an apiserver's secure port (TLS): the plain-text listener serves gRPC only")
	}
	if im := c.Impersonation(); im.UserName == "" && (len(im.Groups) > 0 || im.UID != "") {
		return errors.New("requesting uid or groups without impersonating a user: add --as")
	}
	token := r.BearerToken
	if r.BearerTokenFile != "" {
		b, err := os.ReadFile(r.BearerTokenFile)
		if err != nil {
			return fmt.Errorf("token file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	var errs []error
	for _, server := range r.Servers {
		resp, err := get(ctx, r, server, token, c)
		if err != nil {
			// Unreachable: try the next apiserver.
			errs = append(errs, err)
			continue
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return apierrors.ReadHTTP(resp)
		}
		rev := resp.Header.Get(snapshotfile.RevisionHeader)
		size, err := snapshotfile.Write(resp.Body, path, func(part string) error {
			st, err := os.Stat(part)
			if err != nil {
				return err
			}
			if resp.ContentLength >= 0 && st.Size() != resp.ContentLength {
				return fmt.Errorf("%s: got %d bytes of a %d-byte snapshot", part, st.Size(), resp.ContentLength)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("saving the snapshot from %s: %w", server, err)
		}
		if _, err := strconv.ParseInt(rev, 10, 64); err != nil {
			rev = "unknown"
		}
		fmt.Fprintf(c.Out, "Snapshot saved at %s: %d bytes, revision %s\n", path, size, rev)
		return nil
	}
	return fmt.Errorf("no apiserver answered: %w", errors.Join(errs...))
}

// get asks server for a snapshot, with the context's credentials and
// --as impersonation.
func get(ctx context.Context, r *config.Resolved, server, token string, c *cmdutil.CLI) (*http.Response, error) {
	tc := r.TLS.Clone()
	if tc.ServerName == "" {
		host, _, err := net.SplitHostPort(server)
		if err != nil {
			return nil, fmt.Errorf("server %q: %w", server, err)
		}
		tc.ServerName = host
	}
	tc.NextProtos = []string{"http/1.1"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+server+snapshotfile.HTTPPath, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", cmdutil.UserAgent)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if im := c.Impersonation(); im.UserName != "" {
		req.Header.Set(auth.ImpersonateUserMetadata, im.UserName)
		for _, g := range im.Groups {
			req.Header.Add(auth.ImpersonateGroupMetadata, g)
		}
		if im.UID != "" {
			req.Header.Set(auth.ImpersonateUIDMetadata, im.UID)
		}
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, Proxy: nil, ForceAttemptHTTP2: false}}
	return hc.Do(req)
}
