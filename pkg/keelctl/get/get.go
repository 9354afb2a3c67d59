// Package get holds keelctl get and keelctl describe.
package get

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/scheme"
)

type getOptions struct {
	output        string
	selector      string
	fieldSelector string
	allNamespaces bool
	watch         bool
	watchOnly     bool
	showLabels    bool
	noHeaders     bool
	ignoreMissing bool
	// showManagedFields keeps metadata.managedFields in -o yaml and -o
	// json, which leave them out by default, as kubectl does.
	showManagedFields bool
}

// NewGetCommand returns the "get" command.
func NewGetCommand(c *cmdutil.CLI) *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get TYPE[,TYPE...] [NAME...] | TYPE/NAME...",
		Short: "List objects, or show some by name",
		Long: `List objects of one or more types, or show the named ones.

Types are plural, singular or short names, in any case ("pods", "pod", "po"),
or "all". The table has kubectl's columns for each kind; -o wide adds more,
-o yaml and -o json print manifests that apply can take back, -o name prints
kind/name. --watch prints a new row for each change after the list.`,
		Example: `  keelctl get pods
  keelctl get deploy,svc -o wide
  keelctl get pod/web -o yaml
  keelctl get pods -A -l app=web --show-labels
  keelctl get pods --watch`,
		ValidArgsFunction: c.CompleteResourceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGet(c, cmd.Context(), args, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "", "output format: wide, yaml, json or name")
	f.StringVarP(&o.selector, "selector", "l", "", "label selector (app=web, tier!=db, env in (a,b), …)")
	f.StringVar(&o.fieldSelector, "field-selector", "", "field selector (metadata.name=web, spec.nodeName=node-1, status.phase=Running, …)")
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list objects of every namespace")
	f.BoolVarP(&o.watch, "watch", "w", false, "after listing, print each change as it happens")
	f.BoolVar(&o.watchOnly, "watch-only", false, "print only the changes, without the list first")
	f.BoolVar(&o.showLabels, "show-labels", false, "add a LABELS column")
	f.BoolVar(&o.noHeaders, "no-headers", false, "leave out the table header")
	f.BoolVar(&o.ignoreMissing, "ignore-not-found", false, "do not report named objects that do not exist")
	f.BoolVar(&o.showManagedFields, "show-managed-fields", false, "keep metadata.managedFields in -o yaml and -o json")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"wide", "yaml", "json", "name"}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func runGet(c *cmdutil.CLI, ctx context.Context, args []string, o getOptions) error {
	switch o.output {
	case "", "wide", "yaml", "json", "name":
	default:
		return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: json,name,wide,yaml", o.output)
	}
	targets, err := c.ParseTargets(ctx, args)
	if err != nil {
		return err
	}
	byName, names := false, 0
	for _, t := range targets {
		if len(t.Names) > 0 {
			byName = true
		}
		names += len(t.Names)
	}
	if byName && o.selector != "" {
		return errors.New("name cannot be provided when a selector is specified")
	}
	if byName && o.allNamespaces {
		return errors.New("a resource cannot be retrieved by name across all namespaces")
	}
	if o.watchOnly {
		o.watch = true
	}
	if o.watch && len(targets) > 1 {
		return errors.New("you may only specify a single resource type when watching")
	}
	if o.watch && len(targets[0].Names) > 1 {
		return errors.New("watch is only supported on individual resources and resource collections, but multiple names were given")
	}
	ns := c.NS()
	if o.allNamespaces {
		ns = ""
	}

	var (
		results []cmdutil.Fetched
		errs    cmdutil.ErrorList
	)
	if !o.watchOnly {
		for _, t := range targets {
			f, es := c.Fetch(ctx, t, ns, cmdutil.FetchOptions{LabelSelector: o.selector, FieldSelector: o.fieldSelector, IgnoreMissing: o.ignoreMissing})
			errs = append(errs, es...)
			if f != nil {
				results = append(results, *f)
			}
		}
	}
	p := &objectPrinter{c: c, o: o, withNS: o.allNamespaces, single: names == 1}
	kinds := 0
	for _, f := range results {
		if len(f.Objs) > 0 {
			kinds++
		}
	}
	// As kubectl: names carry their kind when several types were asked
	// for ("get all", "get pods,services") or found.
	p.withKind = kinds > 1 || len(targets) > 1
	if err := p.printAll(results, byName); err != nil {
		return err
	}
	if p.printed == 0 && len(errs) == 0 && !byName && !o.watch {
		switch {
		case o.allNamespaces || !targets[0].Kind.Namespaced:
			fmt.Fprintln(c.ErrOut, "No resources found")
		default:
			fmt.Fprintf(c.ErrOut, "No resources found in %s namespace.\n", ns)
		}
	}
	if len(errs) > 0 || !o.watch {
		return errs.OrNil()
	}

	t := targets[0]
	rv := ""
	if len(results) > 0 {
		rv = results[0].ResourceVersion
	}
	return watch(c, ctx, t, ns, rv, o, p)
}

// objectPrinter prints objects in the format of get's -o.
type objectPrinter struct {
	c        *cmdutil.CLI
	o        getOptions
	withNS   bool
	withKind bool
	single   bool // exactly one object was asked for by name
	printed  int

	table     *printers.Writer
	tableKind *scheme.Kind
	docs      int // yaml documents or json values printed while watching
}

func (p *objectPrinter) tableOptions() printers.Options {
	return printers.Options{
		Wide:          p.o.output == "wide",
		WithNamespace: p.withNS,
		ShowLabels:    p.o.showLabels,
		WithKind:      p.withKind,
		Now:           p.c.Now(),
	}
}

// printAll prints the results of a get: one table per kind (blank lines
// between), or the names, or the manifests (one object as itself, else a
// v1 List).
func (p *objectPrinter) printAll(results []cmdutil.Fetched, byName bool) error {
	out := p.c.Out
	switch p.o.output {
	case "yaml", "json":
		var all []proto.Message
		for _, f := range results {
			for _, obj := range f.Objs {
				all = append(all, p.manifest(obj))
			}
		}
		p.printed = len(all)
		if p.o.watch {
			// While watching, every object is a document of its own.
			for _, f := range results {
				for _, obj := range f.Objs {
					if err := p.printEvent(f.Kind, obj); err != nil {
						return err
					}
				}
			}
			return nil
		}
		if len(all) == 0 && byName {
			return nil
		}
		var b []byte
		var err error
		switch {
		case p.single && len(all) == 1 && p.o.output == "yaml":
			b, err = manifest.MarshalYAML(all[0])
		case p.single && len(all) == 1:
			b, err = manifest.MarshalJSON(all[0])
		default:
			b, err = cmdutil.MarshalList(all, p.o.output)
		}
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	case "name":
		for _, f := range results {
			for _, obj := range f.Objs {
				fmt.Fprintln(out, cmdutil.ObjName(f.Kind, obj))
				p.printed++
			}
		}
		return nil
	}
	opts := p.tableOptions()
	for _, f := range results {
		if len(f.Objs) == 0 {
			continue
		}
		if p.printed > 0 {
			fmt.Fprintln(out)
		}
		p.table, p.tableKind = printers.NewWriter(out), f.Kind
		rows := printers.Table(f.Kind, f.Objs, opts)
		if p.o.noHeaders {
			rows = rows[1:]
		}
		if err := p.table.Write(rows); err != nil {
			return err
		}
		p.printed += len(f.Objs)
	}
	return nil
}

// manifest is obj as -o yaml and -o json print it: without its
// managedFields unless --show-managed-fields.
func (p *objectPrinter) manifest(obj proto.Message) proto.Message {
	if !p.o.showManagedFields {
		scheme.Meta(obj).ManagedFields = nil
	}
	return obj
}

// printEvent prints one watched object: a table row (with the header
// first if no table was printed yet), a manifest or a name.
func (p *objectPrinter) printEvent(k *scheme.Kind, obj proto.Message) error {
	out := p.c.Out
	switch p.o.output {
	case "yaml":
		b, err := manifest.MarshalYAML(p.manifest(obj))
		if err != nil {
			return err
		}
		if p.docs > 0 {
			fmt.Fprintln(out, "---")
		}
		p.docs++
		_, err = out.Write(b)
		return err
	case "json":
		b, err := manifest.MarshalJSON(p.manifest(obj))
		if err != nil {
			return err
		}
		p.docs++
		_, err = out.Write(b)
		return err
	case "name":
		_, err := fmt.Fprintln(out, cmdutil.ObjName(k, obj))
		return err
	}
	opts := p.tableOptions()
	var rows [][]string
	if p.table == nil || p.tableKind != k {
		p.table, p.tableKind = printers.NewWriter(out), k
		if !p.o.noHeaders {
			rows = append(rows, printers.Header(k, opts))
		}
	}
	rows = append(rows, printers.Row(k, obj, opts))
	return p.table.Write(rows)
}

// watch prints the changes to t's objects after resourceVersion rv (after
// now when rv is empty) until ctx ends. A watch the server closes is
// resumed from the last version seen; when that version is too old to
// resume from, the objects are listed again and all printed anew.
func watch(c *cmdutil.CLI, ctx context.Context, t cmdutil.Target, ns, rv string, o getOptions, p *objectPrinter) error {
	r, err := c.Resource(t.Kind, ns)
	if err != nil {
		return err
	}
	fieldSel := o.fieldSelector
	if len(t.Names) == 1 {
		sel := "metadata.name=" + t.Names[0]
		if fieldSel == "" {
			fieldSel = sel
		} else {
			fieldSel += "," + sel
		}
	}
	if rv == "" {
		l, err := r.List(ctx, client.ListOptions{LabelSelector: o.selector, FieldSelector: fieldSel, Limit: 1})
		if err != nil {
			return err
		}
		rv = l.ResourceVersion
	}
	relist := func() error {
		objs, newRV, err := cmdutil.ListAll(ctx, r, client.ListOptions{LabelSelector: o.selector, FieldSelector: fieldSel})
		if err != nil {
			return err
		}
		cmdutil.SortObjects(objs)
		for _, obj := range objs {
			if err := p.printEvent(t.Kind, obj); err != nil {
				return err
			}
		}
		rv = newRV
		return nil
	}
	for {
		w, err := r.Watch(ctx, client.WatchOptions{LabelSelector: o.selector, FieldSelector: fieldSel, ResourceVersion: rv, AllowBookmarks: true})
		if err == nil {
			err = forwardEvents(w, &rv, func(obj proto.Message) error { return p.printEvent(t.Kind, obj) })
			w.Stop()
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, io.EOF), apierrors.ReasonOf(err) == apierrors.ReasonTooManyRequests:
			// The server ended the watch, or this client fell behind:
			// resume from the last version seen.
		case apierrors.IsExpired(err):
			if err := relist(); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		default:
			return err
		}
	}
}

// forwardEvents passes the objects of a watch's events to print, keeping
// *rv at the last version seen, until the watch ends; it returns why.
func forwardEvents(w client.Watcher[proto.Message], rv *string, print func(proto.Message) error) error {
	for {
		ev, err := w.Next()
		if err != nil {
			return err
		}
		if v := client.ObjectMeta(ev.Object).GetResourceVersion(); v != "" {
			*rv = v
		}
		if ev.Type == client.Bookmark {
			continue
		}
		if err := print(ev.Object); err != nil {
			return err
		}
	}
}
