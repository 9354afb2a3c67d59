// Package create holds keelctl create (from manifests, and the generators
// deployment, job, namespace, configmap, secret, service) and keelctl expose.
package create

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// NewCreateCommand returns the "create" command.
func NewCreateCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		files      cmdutil.FileFlags
		dryRun     cmdutil.DryRun
		saveConfig bool
		output     string
	)
	cmd := &cobra.Command{
		Use:   "create -f FILENAME | create TYPE NAME [flags]",
		Short: "Create objects from manifests, or one object from flags",
		Long: `Create the objects of the manifests; an object that already exists is an
error (AlreadyExists). Every object is attempted; each failure is reported.

The subcommands (deployment, job, namespace, configmap, secret generic, service
clusterip|nodeport) build one object from their flags, as kubectl's do.`,
		Example: `  keelctl create -f job.yaml
  keelctl create deployment web --image=registry.keel.test/busybox:1.35`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := dryRun.Check(); err != nil {
				return err
			}
			if output != "" && output != "name" {
				return fmt.Errorf("unsupported output format %q (create supports -o name)", output)
			}
			objs, errs := c.ReadObjects(cmd.Context(), files)
			if len(objs) == 0 && len(errs) == 0 {
				return errors.New("no objects passed to create")
			}
			for _, o := range objs {
				name, err := createObject(c, cmd.Context(), o, dryRun, saveConfig)
				if err != nil {
					errs = append(errs, &cmdutil.SourceError{Verb: "creating", Source: o.Source, Err: err})
					continue
				}
				if output == "name" {
					fmt.Fprintln(c.Out, name)
				} else {
					fmt.Fprintf(c.Out, "%s created%s\n", name, dryRun.Suffix())
				}
			}
			return errs.OrNil()
		},
	}
	files.Add(cmd, "to create")
	dryRun.Add(cmd)
	cmd.Flags().BoolVar(&saveConfig, "save-config", false, "record the manifest in the last-applied annotation, so that apply can later update the object")
	cmd.Flags().StringVarP(&output, "output", "o", "", `"name" prints only kind/name of each object`)
	addGeneratorCommands(c, cmd)
	return cmd
}

// createObject creates one manifest object and returns its kind/name.
func createObject(c *cmdutil.CLI, ctx context.Context, o manifest.Object, dryRun cmdutil.DryRun, saveConfig bool) (string, error) {
	m, status, err := c.PrepareObject(o, false)
	if err != nil {
		return "", err
	}
	if saveConfig {
		next, err := manifest.ToMap(m)
		if err != nil {
			return "", err
		}
		applied, err := json.Marshal(next)
		if err != nil {
			return "", err
		}
		cmdutil.SetAnnotationOn(m, api.LastAppliedConfigAnnotation, string(applied))
	}
	cmdutil.RestoreStatus(m, status)
	if dryRun.Client() {
		return cmdutil.ObjName(o.Kind, m), nil
	}
	r, err := c.Resource(o.Kind, scheme.Meta(m).Namespace)
	if err != nil {
		return "", err
	}
	out, err := r.Create(ctx, m, client.CreateOptions{DryRun: dryRun.Server()})
	if err != nil {
		return "", err
	}
	return cmdutil.ObjName(o.Kind, out), nil
}
