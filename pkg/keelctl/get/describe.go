package get

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/fields"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// NewDescribeCommand returns the "describe" command.
func NewDescribeCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		selector      string
		allNamespaces bool
		showEvents    bool
	)
	cmd := &cobra.Command{
		Use:   "describe TYPE [NAME_PREFIX...] | TYPE/NAME",
		Short: "Show the details of objects, with their events",
		Long: `Show a readable, multi-section view of objects and the events about them.

Without a name, every object of the type (or those -l selects) is described.
A name that matches no object is taken as a prefix, as kubectl does.`,
		Example: `  keelctl describe pod web
  keelctl describe deploy/nginx
  keelctl describe nodes`,
		ValidArgsFunction: c.CompleteResourceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			targets, err := c.ParseTargets(ctx, args)
			if err != nil {
				return err
			}
			ns := c.NS()
			if allNamespaces {
				ns = ""
			}
			var errs cmdutil.ErrorList
			first := true
			show := func(k *scheme.Kind, obj proto.Message) {
				text, err := describe(c, ctx, k, obj, showEvents)
				if err != nil {
					errs = append(errs, err)
					return
				}
				if !first {
					fmt.Fprintln(c.Out)
					fmt.Fprintln(c.Out)
				}
				first = false
				fmt.Fprint(c.Out, text)
			}
			for _, t := range targets {
				r, err := c.Resource(t.Kind, ns)
				if err != nil {
					return err
				}
				if len(t.Names) == 0 {
					objs, _, err := cmdutil.ListAll(ctx, r, client.ListOptions{LabelSelector: selector})
					if err != nil {
						errs = append(errs, err)
						continue
					}
					if len(objs) == 0 && len(targets) == 1 {
						if allNamespaces || !t.Kind.Namespaced {
							fmt.Fprintln(c.ErrOut, "No resources found")
						} else {
							fmt.Fprintf(c.ErrOut, "No resources found in %s namespace.\n", ns)
						}
					}
					cmdutil.SortObjects(objs)
					for _, o := range objs {
						show(t.Kind, o)
					}
					continue
				}
				for _, name := range t.Names {
					obj, err := r.Get(ctx, name)
					if err == nil {
						show(t.Kind, obj)
						continue
					}
					if !apierrors.IsNotFound(err) {
						errs = append(errs, err)
						continue
					}
					// kubectl describe takes a name that matches nothing
					// as a prefix.
					objs, _, lerr := cmdutil.ListAll(ctx, r, client.ListOptions{LabelSelector: selector})
					matched := 0
					if lerr == nil {
						cmdutil.SortObjects(objs)
						for _, o := range objs {
							if strings.HasPrefix(client.ObjectMeta(o).GetName(), name) {
								show(t.Kind, o)
								matched++
							}
						}
					}
					if matched == 0 {
						errs = append(errs, err)
					}
				}
			}
			return errs.OrNil()
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "label selector")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "describe objects of every namespace")
	cmd.Flags().BoolVar(&showEvents, "show-events", true, "show the events about each object")
	return cmd
}

// describe fetches what the description of obj shows (events, related
// objects) and renders it.
func describe(c *cmdutil.CLI, ctx context.Context, k *scheme.Kind, obj proto.Message, withEvents bool) (string, error) {
	cl, err := c.Clientset()
	if err != nil {
		return "", err
	}
	in := registry.DescribeInput{Object: obj, Now: c.Now(), Related: map[string][]proto.Message{}}
	if withEvents {
		in.Events, err = objectEvents(ctx, cl, k, obj)
		if err != nil && !apierrors.IsForbidden(err) {
			return "", err
		}
	}
	for _, q := range registry.For(k).Related(obj) {
		objs, err := fetchRelated(ctx, cl, q)
		if err != nil {
			return "", err
		}
		in.Related[q.Key] = objs
	}
	return printers.Describe(in), nil
}

// fetchRelated runs one of a description's queries: the named object (none
// if it does not exist) or the objects its selectors pick.
func fetchRelated(ctx context.Context, cl *client.Client, q registry.Query) ([]proto.Message, error) {
	r, err := cl.Resource(q.Resource, q.Namespace)
	if err != nil {
		return nil, err
	}
	if q.Name != "" {
		o, err := r.Get(ctx, q.Name)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []proto.Message{o}, nil
	}
	l, err := r.List(ctx, client.ListOptions{LabelSelector: q.LabelSelector, FieldSelector: q.FieldSelector})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// objectEvents lists the events about obj: field selector on the involved
// object's name, namespace and uid, in the object's namespace (every
// namespace for cluster-scoped objects, whose events live in "default").
func objectEvents(ctx context.Context, cl *client.Client, k *scheme.Kind, obj proto.Message) ([]*corev1.Event, error) {
	md := client.ObjectMeta(obj)
	sel := fields.Set{
		"involvedObject.name":      md.GetName(),
		"involvedObject.namespace": md.GetNamespace(),
	}
	if md.GetUid() != "" {
		sel["involvedObject.uid"] = md.GetUid()
	}
	ns := md.GetNamespace()
	if !k.Namespaced {
		ns = ""
	}
	l, err := cl.Events(ns).List(ctx, client.ListOptions{FieldSelector: fields.SelectorFromSet(sel).String()})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}
