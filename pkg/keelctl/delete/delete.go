// Package delete holds keelctl delete.
package delete

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/printers"
)

type deleteOptions struct {
	files         cmdutil.FileFlags
	selector      string
	fieldSelector string
	all           bool
	allNamespaces bool
	gracePeriod   int
	now           bool
	force         bool
	cascade       string
	wait          bool
	timeout       time.Duration
	ignoreMissing bool
	output        string
	dryRun        cmdutil.DryRun
}

// NewDeleteCommand returns the "delete" command.
func NewDeleteCommand(c *cmdutil.CLI) *cobra.Command {
	var o deleteOptions
	cmd := &cobra.Command{
		Use:   "delete (-f FILENAME | TYPE NAME... | TYPE/NAME... | TYPE -l SELECTOR | TYPE --all)",
		Short: "Delete objects by file, by name, by label or all of a type",
		Long: `Delete objects: those of the manifests given with -f, the named ones, those a
label selector picks, or with --all every object of the type in the namespace.

Pods on a node stop gracefully first (their terminationGracePeriodSeconds, or
--grace-period); --cascade chooses what happens to the objects an object owns
(background: the garbage collector deletes them afterwards; foreground: before
the owner goes; orphan: they are kept). By default keelctl waits until each
object is gone (--wait=false returns at once).`,
		Example: `  keelctl delete -f web.yaml
  keelctl delete pod web
  keelctl delete deploy/nginx --cascade=orphan
  keelctl delete pods -l app=web
  keelctl delete pods --all --grace-period=0 --force`,
		ValidArgsFunction: c.CompleteResourceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDelete(c, cmd, args, o)
		},
	}
	f := cmd.Flags()
	o.files.Add(cmd, "of the objects to delete")
	f.StringVarP(&o.selector, "selector", "l", "", "delete the objects this label selector picks")
	f.StringVar(&o.fieldSelector, "field-selector", "", "delete the objects this field selector picks")
	f.BoolVar(&o.all, "all", false, "delete every object of the type in the namespace")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "with --all or -l, in every namespace")
	f.IntVar(&o.gracePeriod, "grace-period", -1, "seconds a pod has to stop (-1: its own terminationGracePeriodSeconds; 0 needs --force)")
	f.BoolVar(&o.now, "now", false, "stop pods at once (--grace-period=1)")
	f.BoolVar(&o.force, "force", false, "with --grace-period=0, remove pods immediately without waiting for their containers to stop")
	f.StringVar(&o.cascade, "cascade", "background", `what happens to owned objects: "background", "foreground" or "orphan"`)
	f.Lookup("cascade").NoOptDefVal = "background"
	f.BoolVar(&o.wait, "wait", true, "wait until the objects are gone")
	f.DurationVar(&o.timeout, "timeout", 0, "give up waiting after this long (0: wait as long as it takes)")
	f.BoolVar(&o.ignoreMissing, "ignore-not-found", false, "objects that do not exist are not an error (the default with --all and -l)")
	f.StringVarP(&o.output, "output", "o", "", `"name" prints only kind/name of each deleted object`)
	o.dryRun.Add(cmd)
	return cmd
}

func runDelete(c *cmdutil.CLI, cmd *cobra.Command, args []string, o deleteOptions) error {
	ctx := cmd.Context()
	if err := o.dryRun.Check(); err != nil {
		return err
	}
	if o.output != "" && o.output != "name" {
		return fmt.Errorf("unsupported output format %q (delete supports -o name)", o.output)
	}
	policy, err := propagationPolicy(o.cascade, c.ErrOut)
	if err != nil {
		return err
	}
	var grace *int64
	switch {
	case o.now && cmd.Flags().Changed("grace-period"):
		return errors.New("--now and --grace-period cannot be specified together")
	case o.now:
		grace = proto.Int64(1)
	case o.gracePeriod == 0 && !o.force:
		// As kubectl: 0 without --force means "as fast as possible, but
		// let the kubelet confirm".
		grace = proto.Int64(1)
	case o.gracePeriod >= 0:
		grace = proto.Int64(int64(o.gracePeriod))
	case o.force:
		grace = proto.Int64(0)
	}
	if o.force && grace != nil && *grace == 0 {
		fmt.Fprintln(c.ErrOut, "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.")
	}

	var (
		items []cmdutil.ObjectRef
		errs  cmdutil.ErrorList
	)
	ignoreMissing := o.ignoreMissing
	switch {
	case o.files.Given():
		if len(args) > 0 {
			return errors.New("cannot give resource arguments together with -f")
		}
		objs, rerrs := c.ReadObjects(ctx, o.files)
		errs = append(errs, rerrs...)
		for _, obj := range objs {
			m, _, err := c.PrepareObject(obj, true)
			if err != nil {
				errs = append(errs, &cmdutil.SourceError{Verb: "deleting", Source: obj.Source, Err: err})
				continue
			}
			md := client.ObjectMeta(m)
			items = append(items, cmdutil.ObjectRef{Kind: obj.Kind, Namespace: md.GetNamespace(), Name: md.GetName(), Source: obj.Source})
		}
	case len(args) == 0:
		return errors.New("you must provide one or more resources by argument or filename (-f)")
	default:
		targets, err := c.ParseTargets(ctx, args)
		if err != nil {
			return err
		}
		byName := len(targets[0].Names) > 0
		selecting := o.all || o.selector != "" || o.fieldSelector != ""
		switch {
		case byName && selecting:
			return errors.New("name cannot be provided when a selector or --all is specified")
		case !byName && !selecting:
			return errors.New("resource(s) were provided, but no name was specified")
		case o.allNamespaces && !selecting:
			return errors.New("--all-namespaces needs --all or a selector")
		}
		ns := c.NS()
		if o.allNamespaces {
			ns = ""
		}
		if selecting {
			ignoreMissing = true
		}
		for _, t := range targets {
			if byName {
				for _, n := range t.Names {
					items = append(items, cmdutil.ObjectRef{Kind: t.Kind, Namespace: ns, Name: n})
				}
				continue
			}
			r, err := c.Resource(t.Kind, ns)
			if err != nil {
				return err
			}
			objs, _, err := cmdutil.ListAll(ctx, r, client.ListOptions{LabelSelector: o.selector, FieldSelector: o.fieldSelector})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			cmdutil.SortObjects(objs)
			for _, obj := range objs {
				md := client.ObjectMeta(obj)
				items = append(items, cmdutil.ObjectRef{Kind: t.Kind, Namespace: md.GetNamespace(), Name: md.GetName()})
			}
		}
		if len(items) == 0 && len(errs) == 0 {
			fmt.Fprintln(c.ErrOut, "No resources found")
			return nil
		}
	}

	type pending struct {
		d   cmdutil.ObjectRef
		r   *client.Resource[proto.Message]
		obj proto.Message
	}
	var waits []pending
	for _, d := range items {
		wrap := func(err error) error {
			if d.Source != "" {
				return &cmdutil.SourceError{Verb: "deleting", Source: d.Source, Err: err}
			}
			return err
		}
		r, err := c.Resource(d.Kind, d.Namespace)
		if err != nil {
			return err
		}
		var (
			obj  proto.Message
			gone = true
		)
		if !o.dryRun.Client() {
			obj, gone, err = r.Delete(ctx, d.Name, client.DeleteOptions{GracePeriodSeconds: grace, PropagationPolicy: policy, DryRun: o.dryRun.Server()})
		} else {
			_, err = r.Get(ctx, d.Name)
		}
		if err != nil {
			if apierrors.IsNotFound(err) && ignoreMissing {
				continue
			}
			errs = append(errs, wrap(err))
			continue
		}
		if o.output == "name" {
			fmt.Fprintf(c.Out, "%s/%s\n", printers.QualifiedKind(d.Kind), d.Name)
		} else {
			fmt.Fprintf(c.Out, "%s %q deleted%s\n", printers.QualifiedKind(d.Kind), d.Name, o.dryRun.Suffix())
		}
		if !gone && obj != nil && o.wait && !o.dryRun.Client() && !o.dryRun.Server() {
			waits = append(waits, pending{d: d, r: r, obj: obj})
		}
	}
	if len(waits) > 0 {
		wctx := ctx
		if o.timeout > 0 {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, o.timeout)
			defer cancel()
		}
		for _, p := range waits {
			if err := cmdutil.WaitGone(wctx, p.r, p.obj); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				// gRPC may end a call at its deadline a moment before the
				// context says so: a passed deadline is the timeout too.
				if dl, ok := wctx.Deadline(); wctx.Err() != nil || (ok && !time.Now().Before(dl)) || apierrors.ReasonOf(err) == apierrors.ReasonTimeout {
					errs = append(errs, fmt.Errorf("timed out waiting for the deletion of %s/%s", printers.QualifiedKind(p.d.Kind), p.d.Name))
					continue
				}
				errs = append(errs, err)
			}
		}
	}
	return errs.OrNil()
}

// propagationPolicy maps --cascade to the API's propagation policy
// (accepting kubectl's deprecated true and false).
func propagationPolicy(cascade string, warn io.Writer) (string, error) {
	switch strings.ToLower(cascade) {
	case "background", "":
		return api.DeletePropagationBackground, nil
	case "foreground":
		return api.DeletePropagationForeground, nil
	case "orphan":
		return api.DeletePropagationOrphan, nil
	case "true":
		fmt.Fprintln(warn, `warning: --cascade=true is deprecated (boolean value) and can be replaced with --cascade=background.`)
		return api.DeletePropagationBackground, nil
	case "false":
		fmt.Fprintln(warn, `warning: --cascade=false is deprecated (boolean value) and can be replaced with --cascade=orphan.`)
		return api.DeletePropagationOrphan, nil
	}
	return "", fmt.Errorf(`invalid cascade value (%s). Must be "background", "foreground", or "orphan"`, cascade)
}
