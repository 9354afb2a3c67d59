// Package auth holds keelctl auth: can-i (a SelfSubjectAccessReview) and
// whoami (a SelfSubjectReview), as kubectl's.
package auth

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	authenticationv1 "keel.dev/keel/pkg/apis/authentication/v1"
	authorizationv1 "keel.dev/keel/pkg/apis/authorization/v1"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// NewAuthCommand returns the "auth" command.
func NewAuthCommand(c *cmdutil.CLI) *cobra.Command {
	cmd := &cobra.Command{Use: "auth", Short: "Inspect authorization"}
	cmd.AddCommand(newCanICommand(c), newWhoAmICommand(c))
	return cmd
}

// review creates a review of a create-only kind and returns the answer in
// obj.
func review(ctx context.Context, c *cmdutil.CLI, obj proto.Message) error {
	cl, err := c.Clientset()
	if err != nil {
		return err
	}
	k, _ := scheme.ByMessage(obj)
	a, err := anypb.New(obj)
	if err != nil {
		return err
	}
	out, err := cl.API().Create(ctx, &apiv1.CreateRequest{Resource: k.Resource, Object: a})
	if err != nil {
		return apierrors.FromStatus(err)
	}
	return out.UnmarshalTo(obj)
}

func newCanICommand(c *cmdutil.CLI) *cobra.Command {
	var allNamespaces, quiet, list bool
	cmd := &cobra.Command{
		Use:   "can-i VERB [TYPE | TYPE/NAME | NONRESOURCEURL]",
		Short: "Check whether an action is allowed",
		Long: `Check whether the current user (or the one --as names) may do an action: prints
yes or no and exits 0 or 1. TYPE is a resource ("pods", "deployments.apps", with an optional
/subresource given as --subresource); a NONRESOURCEURL starts with "/".`,
		Example: `  keelctl auth can-i create pods -n team
  keelctl auth can-i list secrets --all-namespaces
  keelctl auth can-i get /metrics
  keelctl auth can-i delete nodes --as system:node:n1
  keelctl auth can-i --list -n team`,
		Args: func(cmd *cobra.Command, args []string) error {
			if list {
				return cobra.NoArgs(cmd, args)
			}
			return cobra.RangeArgs(2, 3)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if list {
				return listRules(cmd.Context(), c)
			}
			spec := &authorizationv1.SelfSubjectAccessReviewSpec{}
			verb, what := args[0], args[1]
			sub, _ := cmd.Flags().GetString("subresource")
			if strings.HasPrefix(what, "/") {
				spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Verb: verb, Path: what}
			} else {
				typ, name, _ := strings.Cut(what, "/")
				if len(args) == 3 {
					name = args[2]
				}
				ra := &authorizationv1.ResourceAttributes{Verb: verb, Name: name, Subresource: sub}
				resource, group, _ := strings.Cut(typ, ".")
				if k, err := c.KindOf(cmd.Context(), typ); err == nil {
					ra.Resource, ra.Group = k.Resource, k.Group
					if k.Namespaced && !allNamespaces {
						ra.Namespace = c.NS()
					}
				} else {
					fmt.Fprintf(c.ErrOut, "Warning: the server doesn't have a resource type '%s'\n", typ)
					ra.Resource, ra.Group = resource, group
					if !allNamespaces {
						ra.Namespace = c.NS()
					}
				}
				spec.ResourceAttributes = ra
			}
			r := &authorizationv1.SelfSubjectAccessReview{Spec: spec}
			if err := review(cmd.Context(), c, r); err != nil {
				return err
			}
			if !quiet {
				if r.GetStatus().GetAllowed() {
					fmt.Fprintln(c.Out, "yes")
				} else {
					fmt.Fprintln(c.Out, "no")
				}
			}
			if !r.GetStatus().GetAllowed() {
				return cmdutil.ExitError{}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "check the action in every namespace")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print nothing; the exit status tells")
	cmd.Flags().String("subresource", "", "the subresource (\"log\", \"status\")")
	cmd.Flags().BoolVar(&list, "list", false, "list every action allowed in the namespace (a SelfSubjectRulesReview)")
	return cmd
}

// listRules prints the caller's rules in the namespace as kubectl's
// "auth can-i --list": resources, non-resource URLs, resource names, verbs.
func listRules(ctx context.Context, c *cmdutil.CLI) error {
	r := &authorizationv1.SelfSubjectRulesReview{Spec: &authorizationv1.SelfSubjectRulesReviewSpec{Namespace: c.NS()}}
	if err := review(ctx, c, r); err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.Out, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "Resources\tNon-Resource URLs\tResource Names\tVerbs")
	for _, rule := range r.GetStatus().GetResourceRules() {
		for _, res := range rule.GetResources() {
			for _, g := range rule.GetApiGroups() {
				name := res
				if g != "" {
					name += "." + g
				}
				fmt.Fprintf(w, "%s\t[]\t[%s]\t[%s]\n", name, strings.Join(rule.GetResourceNames(), " "), strings.Join(rule.GetVerbs(), " "))
			}
		}
	}
	for _, rule := range r.GetStatus().GetNonResourceRules() {
		fmt.Fprintf(w, "\t[%s]\t[]\t[%s]\n", strings.Join(rule.GetNonResourceUrls(), " "), strings.Join(rule.GetVerbs(), " "))
	}
	if r.GetStatus().GetIncomplete() {
		fmt.Fprintln(c.ErrOut, "Warning: the list may be incomplete: an authorizer cannot list what it allows")
	}
	return w.Flush()
}

func newWhoAmICommand(c *cmdutil.CLI) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show the user the apiserver takes you to be",
		Example: `  keelctl auth whoami
  keelctl auth whoami --as bob -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := &authenticationv1.SelfSubjectReview{}
			if err := review(cmd.Context(), c, r); err != nil {
				return err
			}
			switch output {
			case "":
				u := r.GetStatus().GetUserInfo()
				rows := [][]string{{"ATTRIBUTE", "VALUE"}, {"Username", u.GetUsername()}}
				if u.GetUid() != "" {
					rows = append(rows, []string{"UID", u.GetUid()})
				}
				if len(u.GetGroups()) > 0 {
					rows = append(rows, []string{"Groups", "[" + strings.Join(u.GetGroups(), " ") + "]"})
				}
				w := tabwriter.NewWriter(c.Out, 0, 8, 3, ' ', 0)
				for _, row := range rows {
					fmt.Fprintln(w, strings.Join(row, "\t"))
				}
				return w.Flush()
			case "yaml", "json":
				marshal := manifest.MarshalYAML
				if output == "json" {
					marshal = manifest.MarshalJSON
				}
				b, err := marshal(r)
				if err != nil {
					return err
				}
				_, err = c.Out.Write(b)
				return err
			default:
				return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,yaml", output)
			}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default: a table)")
	return cmd
}
