package create

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	authenticationv1 "keel.dev/keel/pkg/apis/authentication/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/manifest"
)

// tokenFlags are the flags of create token.
type tokenFlags struct {
	duration             time.Duration
	audiences            []string
	boundKind, boundName string
	boundUID             string
	output               string
}

// request builds the TokenRequest the flags ask for, or says which flag
// is wrong, as kubectl does.
func (f *tokenFlags) request() (*authenticationv1.TokenRequest, error) {
	spec := &authenticationv1.TokenRequestSpec{}
	for _, a := range f.audiences {
		if a == "" {
			return nil, errors.New("--audience must not be an empty string")
		}
		spec.Audiences = append(spec.Audiences, a)
	}
	switch {
	case f.duration < 0:
		return nil, errors.New("--duration must be positive")
	case f.duration%time.Second != 0:
		return nil, errors.New("--duration must be an integer number of seconds")
	case f.duration > 0:
		secs := int64(f.duration / time.Second)
		spec.ExpirationSeconds = &secs
	}
	switch f.boundKind {
	case "":
		if f.boundName != "" {
			return nil, errors.New("--bound-object-name can only be set if --bound-object-kind is provided")
		}
		if f.boundUID != "" {
			return nil, errors.New("--bound-object-uid can only be set if --bound-object-kind is provided")
		}
	case "Pod", "Secret":
		if f.boundName == "" {
			return nil, errors.New("--bound-object-name is required if --bound-object-kind is provided")
		}
		spec.BoundObjectRef = &authenticationv1.BoundObjectReference{Kind: f.boundKind, ApiVersion: "v1", Name: f.boundName, Uid: f.boundUID}
	default:
		return nil, fmt.Errorf("supported --bound-object-kind values are Pod, Secret, not %q", f.boundKind)
	}
	return &authenticationv1.TokenRequest{Spec: spec}, nil
}

func newCreateTokenCommand(c *cmdutil.CLI) *cobra.Command {
	var f tokenFlags
	cmd := &cobra.Command{
		Use:   "token SERVICE_ACCOUNT_NAME",
		Short: "Request a service account token",
		Long: `Request a token of the service account (the TokenRequest API) and print it.
The token lives --duration (default: the apiserver's, one hour; it may cap
it), is for the given audiences (default: the apiserver's), and, with
--bound-object-kind, stops working once that Pod or Secret is gone.`,
		Example: `  keelctl create token builder
  keelctl create token builder -n team --duration 10m --audience vault
  keelctl create token builder --bound-object-kind Pod --bound-object-name web`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := f.request()
			if err != nil {
				return err
			}
			if f.output != "" && f.output != "yaml" && f.output != "json" {
				return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,yaml", f.output)
			}
			cl, err := c.Clientset()
			if err != nil {
				return err
			}
			sas, err := cl.Resource("serviceaccounts", c.NS())
			if err != nil {
				return err
			}
			out, err := sas.CreateSubresource(cmd.Context(), args[0], "token", req, client.CreateOptions{})
			if err != nil {
				return err
			}
			tr, ok := out.(*authenticationv1.TokenRequest)
			if !ok {
				return fmt.Errorf("the apiserver answered a token request with a %T", out)
			}
			switch f.output {
			case "yaml", "json":
				marshal := manifest.MarshalYAML
				if f.output == "json" {
					marshal = manifest.MarshalJSON
				}
				b, err := marshal(tr)
				if err != nil {
					return err
				}
				_, err = c.Out.Write(b)
				return err
			}
			_, err = fmt.Fprintln(c.Out, tr.GetStatus().GetToken())
			return err
		},
	}
	cmd.Flags().DurationVar(&f.duration, "duration", 0, "how long the token lives, in whole seconds (at least 10m; 0: the apiserver's default)")
	cmd.Flags().StringArrayVar(&f.audiences, "audience", nil, "an audience of the token (repeatable; default: the apiserver's)")
	cmd.Flags().StringVar(&f.boundKind, "bound-object-kind", "", "kind of the object the token is bound to: Pod or Secret")
	cmd.Flags().StringVar(&f.boundName, "bound-object-name", "", "name of the object the token is bound to (with --bound-object-kind)")
	cmd.Flags().StringVar(&f.boundUID, "bound-object-uid", "", "uid of the object the token is bound to (default: the object's current uid)")
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "output format: json or yaml, the whole TokenRequest (default: the token alone)")
	return cmd
}
