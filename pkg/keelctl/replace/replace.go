// Package replace holds keelctl replace: kubectl's replace -f, an update of
// each object to exactly what its manifest says.
package replace

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// NewCommand returns the "replace" command.
func NewCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		files  cmdutil.FileFlags
		dryRun cmdutil.DryRun
	)
	cmd := &cobra.Command{
		Use:   "replace -f FILENAME",
		Short: "Replace objects by the manifests' content",
		Long: `Replace each object of the manifests by the manifest's content: an update
of the whole object (its status is kept). An object that does not exist is an
error (NotFound). A manifest with metadata.resourceVersion replaces only that
version (Conflict if the object changed since); without one, the current
version is replaced.

The API server writes every replaced object again, even when nothing changed,
if it is stored with an encryption provider or key other than the one that now
writes: after rotating an encryption key, re-encrypt every Secret with
  keelctl get secrets --all-namespaces -o json | keelctl replace -f -
(see docs/encryption.md).`,
		Example: `  keelctl replace -f web.yaml
  keelctl get secrets -A -o json | keelctl replace -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := dryRun.Check(); err != nil {
				return err
			}
			objs, errs := c.ReadObjects(cmd.Context(), files)
			if len(objs) == 0 && len(errs) == 0 {
				return errors.New("no objects passed to replace")
			}
			for _, o := range objs {
				name, err := replaceObject(cmd.Context(), c, o, dryRun)
				if err != nil {
					errs = append(errs, &cmdutil.SourceError{Verb: "replacing", Source: o.Source, Err: err})
					continue
				}
				fmt.Fprintf(c.Out, "%s replaced%s\n", name, dryRun.Suffix())
			}
			return errs.OrNil()
		},
	}
	files.Add(cmd, "to replace with")
	dryRun.Add(cmd)
	return cmd
}

// replaceObject updates one object to its manifest and returns its
// kind/name.
func replaceObject(ctx context.Context, c *cmdutil.CLI, o manifest.Object, dryRun cmdutil.DryRun) (string, error) {
	if !o.Kind.Stored() {
		return "", fmt.Errorf("%s cannot be replaced: it is never stored", o.Kind.Kind)
	}
	m := proto.Clone(o.Message)
	md := scheme.Meta(m)
	if err := c.SetNamespace(o.Kind, md, true); err != nil {
		return "", err
	}
	if dryRun.Client() {
		return cmdutil.ObjName(o.Kind, m), nil
	}
	r, err := c.Resource(o.Kind, md.Namespace)
	if err != nil {
		return "", err
	}
	if md.ResourceVersion == "" {
		cur, err := r.Get(ctx, md.Name)
		if err != nil {
			return "", err
		}
		md.ResourceVersion = client.ObjectMeta(cur).GetResourceVersion()
	}
	out, err := r.Update(ctx, m, client.UpdateOptions{DryRun: dryRun.Server()})
	if err != nil {
		return "", err
	}
	return cmdutil.ObjName(o.Kind, out), nil
}
