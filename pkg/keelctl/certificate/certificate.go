// Package certificate is `keelctl certificate approve|deny`: an operator's
// decision on CertificateSigningRequests, as kubectl's.
package certificate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
)

// NewCommand returns the "certificate" command and its subcommands.
func NewCommand(c *cmdutil.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certificate",
		Short: "Approve or deny certificate signing requests",
		Long: `Approve or deny CertificateSigningRequests (certificates.k8s.io/v1).

An approved request is signed by its signer (the controller-manager's
csrsigning for the kubernetes.io signers). Approving needs the verb "approve"
on the resource "signers" of certificates.k8s.io named by the request's
signerName (or its "domain/*").`,
	}
	cmd.AddCommand(newDecide(c, api.CertificateApproved), newDecide(c, api.CertificateDenied))
	return cmd
}

func newDecide(c *cmdutil.CLI, condition string) *cobra.Command {
	verb, reason, done := "approve", "KubectlApprove", "approved"
	if condition == api.CertificateDenied {
		verb, reason, done = "deny", "KubectlDeny", "denied"
	}
	var force bool
	cmd := &cobra.Command{
		Use:     verb + " NAME...",
		Short:   strings.ToUpper(verb[:1]) + verb[1:] + " certificate signing requests",
		Example: "  keelctl certificate " + verb + " node-csr-x8b2k",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			cs, err := c.Clientset()
			if err != nil {
				return err
			}
			failed := false
			for _, name := range names {
				changed, err := Decide(cmd.Context(), cs, name, condition, reason, "This CSR was "+done+" by keelctl certificate "+verb+".", force)
				if err != nil {
					fmt.Fprintf(c.ErrOut, "error: %v\n", err)
					failed = true
					continue
				}
				if changed || force {
					fmt.Fprintf(c.Out, "certificatesigningrequest.certificates.k8s.io/%s %s\n", name, done)
				} else {
					fmt.Fprintf(c.Out, "certificatesigningrequest.certificates.k8s.io/%s already %s\n", name, done)
				}
			}
			if failed {
				return cmdutil.ExitError{}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "update the request even if it already has the condition")
	return cmd
}

// Decide sets condition (Approved or Denied) on the request name through
// its approval subresource, retrying on conflicts. It reports whether it
// changed the request: one that already has the condition is left as it
// is unless force (which refreshes the condition). One that has the
// opposite condition is an error: a decision is final.
func Decide(ctx context.Context, cs *client.Client, name, condition, reason, message string, force bool) (bool, error) {
	csrs := client.For[*certificatesv1.CertificateSigningRequest](cs, "")
	changed := false
	err := client.RetryOnConflict(client.DefaultRetry, func() error {
		csr, err := csrs.Get(ctx, name)
		if err != nil {
			return err
		}
		opposite := api.CertificateDenied
		if condition == api.CertificateDenied {
			opposite = api.CertificateApproved
		}
		if api.CSRCondition(csr, opposite) != nil {
			return errors.New("certificatesigningrequest " + name + " is already " + strings.ToLower(opposite))
		}
		existing := api.CSRCondition(csr, condition)
		if existing != nil && !force {
			return nil
		}
		now := timestamppb.Now()
		cond := &certificatesv1.CertificateSigningRequestCondition{Type: condition, Status: "True", Reason: reason, Message: message,
			LastUpdateTime: now, LastTransitionTime: now}
		if csr.Status == nil {
			csr.Status = &certificatesv1.CertificateSigningRequestStatus{}
		}
		conds := []*certificatesv1.CertificateSigningRequestCondition{cond}
		for _, c := range csr.Status.Conditions {
			if c.GetType() == condition {
				cond.LastTransitionTime = c.GetLastTransitionTime()
			} else {
				conds = append(conds, c)
			}
		}
		csr.Status.Conditions = conds
		_, err = csrs.UpdateSubresource(ctx, csr, "approval", client.UpdateOptions{})
		changed = err == nil
		return err
	})
	return changed, err
}
