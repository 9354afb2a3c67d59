package rollout

import (
	"context"
	"errors"
	"fmt"
	"keel.dev/keel/pkg/registry"

	"github.com/spf13/cobra"

	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
)

// NewScaleCommand returns the "scale" command.
func NewScaleCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		replicas        int
		currentReplicas int
		resVersion      string
		selector        string
		all             bool
		files           cmdutil.FileFlags
		output          string
		dryRun          cmdutil.DryRun
	)
	cmd := &cobra.Command{
		Use:   "scale (TYPE NAME... | TYPE/NAME... | TYPE -l SELECTOR | TYPE --all | -f FILE) --replicas=COUNT",
		Short: "Set the replicas of deployments and replica sets, or the parallelism of jobs",
		Long: `Set the number of replicas of deployments and replica sets, or the
parallelism of jobs. --current-replicas and --resource-version make the change
conditional: nothing changes unless the object is as expected.`,
		Example: `  keelctl scale deployment/web --replicas=5
  keelctl scale rs frontend --replicas=0 --current-replicas=3
  keelctl scale job pi --replicas=2`,
		ValidArgsFunction: c.CompleteResourceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if !cmd.Flags().Changed("replicas") {
				return errors.New("the --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
			}
			if replicas < 0 {
				return errors.New("the --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
			}
			if err := dryRun.Check(); err != nil {
				return err
			}
			items, errs, err := c.SelectObjects(ctx, args, files, selector, all)
			if err != nil {
				return err
			}
			for _, it := range items {
				if err := scaleOne(c, ctx, it, int32(replicas), currentReplicas, resVersion, dryRun); err != nil {
					errs = append(errs, err)
					continue
				}
				if output == "name" {
					fmt.Fprintln(c.Out, cmdutil.ObjNameOf(it.Kind, it.Name))
				} else {
					fmt.Fprintf(c.Out, "%s scaled%s\n", cmdutil.ObjNameOf(it.Kind, it.Name), dryRun.Suffix())
				}
			}
			return errs.OrNil()
		},
	}
	f := cmd.Flags()
	f.IntVar(&replicas, "replicas", 0, "the new number of replicas (for a job, its parallelism)")
	f.IntVar(&currentReplicas, "current-replicas", -1, "change nothing unless the current count is this (-1: any)")
	f.StringVar(&resVersion, "resource-version", "", "change nothing unless the object has this resourceVersion")
	f.StringVarP(&selector, "selector", "l", "", "the objects this label selector picks")
	f.BoolVar(&all, "all", false, "every object of the type in the namespace")
	f.StringVarP(&output, "output", "o", "", `"name" prints only kind/name`)
	files.Add(cmd, "of the objects to scale")
	dryRun.Add(cmd)
	return cmd
}

// scaleOne sets the replica count of one object, re-reading it on
// conflicts (but never past the --current-replicas/--resource-version
// preconditions).
func scaleOne(c *cmdutil.CLI, ctx context.Context, it cmdutil.ObjectRef, replicas int32, current int, resVersion string, dryRun cmdutil.DryRun) error {
	r, err := c.Resource(it.Kind, it.Namespace)
	if err != nil {
		return err
	}
	return client.RetryOnConflict(client.DefaultRetry, func() error {
		obj, err := r.Get(ctx, it.Name)
		if err != nil {
			return err
		}
		sc := registry.For(it.Kind).Scale()
		if sc == nil {
			return fmt.Errorf("%s %q cannot be scaled (keelctl scales %s)", it.Kind.Resource, it.Name, scalable())
		}
		count := sc.Replicas(obj)
		sc.SetReplicas(obj, replicas)
		md := client.ObjectMeta(obj)
		if resVersion != "" && md.GetResourceVersion() != resVersion {
			return fmt.Errorf("%s %q: precondition failed: expected resourceVersion %s, got %s", it.Kind.Resource, it.Name, resVersion, md.GetResourceVersion())
		}
		if current >= 0 {
			have := int32(1)
			if count != nil {
				have = *count
			}
			if have != int32(current) {
				return fmt.Errorf("Expected replicas to be %d, was %d", current, have)
			}
		}
		if dryRun.Client() {
			return nil
		}
		_, err = r.Update(ctx, obj, client.UpdateOptions{DryRun: dryRun.Server()})
		return err
	})
}

// scalable lists the resources that have a scale subresource:
// "deployments, jobs and replicasets".
func scalable() string {
	var names []string
	for _, s := range registry.All() {
		if s.Scale() != nil {
			names = append(names, s.Info().Resource)
		}
	}
	return cmdutil.Enumerate(names)
}
