package cmdutil

import (
	"context"
	"fmt"
	"keel.dev/keel/pkg/registry"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/scheme"
)

// LookupKind resolves a resource type argument: plural, singular or short
// name, any case, optionally with its group ("deployments.apps").
func LookupKind(name string) (*scheme.Kind, error) {
	if k, ok := scheme.ByResource(name); ok {
		return k, nil
	}
	if res, group, ok := strings.Cut(name, "."); ok {
		if k, ok := scheme.ByResource(res); ok && strings.EqualFold(k.Group, group) {
			return k, nil
		}
	}
	return nil, fmt.Errorf("the server doesn't have a resource type %q", name)
}

// Target is one resource type of a command line and the names given for
// it (none: every object, or those a selector picks).
type Target struct {
	Kind  *scheme.Kind
	Names []string
}

// ParseTargets is CLI.ParseTargets knowing only the kinds this process
// knows (compiled in): for commands that act on compiled-in kinds only.
func ParseTargets(args []string) ([]Target, error) {
	return (*CLI)(nil).ParseTargets(context.Background(), args)
}

// ParseTargets reads kubectl's resource arguments: "TYPE[,TYPE...]
// [NAME...]" or "TYPE/NAME [TYPE/NAME...]". A TYPE is a resource (see
// KindOf: a custom resource's too, unless c is nil) or a category: a compiled-in kind's
// category ("all") stands for those kinds and (unless c is nil, and if
// the user may list the definitions) the custom resources in it; a name
// that is neither a known resource nor such a category for the custom
// resources in it, if any.
func (c *CLI) ParseTargets(ctx context.Context, args []string) ([]Target, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("you must specify the type of resource to get. Use \"keelctl api-resources\" for a complete list of supported resources")
	}
	if strings.Contains(args[0], "/") {
		var out []Target
		for _, a := range args {
			typ, name, ok := strings.Cut(a, "/")
			if !ok {
				return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'keelctl get resource/<resource_name>' instead of 'keelctl get resource resource/<resource_name>')")
			}
			if name == "" {
				return nil, fmt.Errorf("arguments in resource/name form must have a single resource and name")
			}
			k, err := c.KindOf(ctx, typ)
			if err != nil {
				return nil, err
			}
			if n := len(out); n > 0 && out[n-1].Kind == k {
				out[n-1].Names = append(out[n-1].Names, name)
				continue
			}
			out = append(out, Target{Kind: k, Names: []string{name}})
		}
		return out, nil
	}
	for _, a := range args[1:] {
		if strings.Contains(a, "/") {
			return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'keelctl get resource/<resource_name>' instead of 'keelctl get resource resource/<resource_name>')")
		}
	}
	var types []string
	for _, t := range strings.Split(args[0], ",") {
		if _, isKind := scheme.ByResource(t); !isKind && t != "" {
			// A category ("all") stands for the kinds in it, in the
			// registry's order, as kubectl's categories do.
			if in := registry.InCategory(strings.ToLower(t)); len(in) > 0 {
				for _, s := range in {
					types = append(types, s.Info().Resource)
				}
				// Then the custom resources whose definitions list the
				// category, if the user may list the definitions.
				if c != nil {
					if err := c.LoadCustomResources(ctx); err != nil && !apierrors.IsForbidden(err) {
						return nil, err
					}
					for _, k := range customCategory(t) {
						types = append(types, k.QualifiedResource())
					}
				}
				continue
			}
			// Neither: maybe a custom resource, or a custom category.
			if c == nil {
				return nil, fmt.Errorf("the server doesn't have a resource type %q", t)
			}
			if err := c.LoadCustomResources(ctx); err != nil && !apierrors.IsForbidden(err) {
				return nil, err
			}
			if _, isKind := scheme.ByResource(t); !isKind {
				if in := customCategory(t); len(in) > 0 {
					for _, k := range in {
						types = append(types, k.QualifiedResource())
					}
					continue
				}
			}
		}
		if t != "" {
			types = append(types, t)
		}
	}
	var out []Target
	seen := map[*scheme.Kind]bool{}
	for _, t := range types {
		k, err := c.KindOf(ctx, t)
		if err != nil {
			return nil, err
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, Target{Kind: k, Names: args[1:]})
	}
	return out, nil
}

// Resource returns the dynamic client of k in namespace ns (ignored for
// cluster-scoped kinds; "" for all namespaces).
func (c *CLI) Resource(k *scheme.Kind, ns string) (*client.Resource[proto.Message], error) {
	cl, err := c.Clientset()
	if err != nil {
		return nil, err
	}
	return cl.ResourceOf(k, ns), nil
}

// ObjName is "kind.group/name" (get -o name, apply output).
func ObjName(k *scheme.Kind, obj proto.Message) string {
	return printers.QualifiedKind(k) + "/" + client.ObjectMeta(obj).GetName()
}

// SortObjects orders a listing by namespace, then name (the order etcd
// keys give, kept when merging several namespaces).
func SortObjects(objs []proto.Message) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := client.ObjectMeta(objs[i]), client.ObjectMeta(objs[j])
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
}

// CompleteNames lists object names of resource for shell completion (best
// effort: nothing when the cluster cannot be reached quickly).
func (c *CLI) CompleteNames(cmd *cobra.Command, resource, prefix string) []string {
	k, err := c.KindOf(cmd.Context(), resource)
	if err != nil {
		return nil
	}
	r, err := c.Resource(k, c.NS())
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
	defer cancel()
	l, err := r.List(ctx, client.ListOptions{}) // consistent: names just created complete too
	if err != nil {
		return nil
	}
	var out []string
	for _, o := range l.Items {
		if n := client.ObjectMeta(o).GetName(); strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// CompleteResourceArgs completes "TYPE NAME..." arguments: types first,
// then names of that type.
func (c *CLI) CompleteResourceArgs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		var out []string
		for _, k := range scheme.All() {
			if strings.HasPrefix(k.Resource, toComplete) {
				out = append(out, k.Resource)
			}
		}
		// And the custom resources, best effort.
		ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
		defer cancel()
		if c.LoadCustomResources(ctx) == nil {
			for _, k := range PreferredCustomKinds() {
				if strings.HasPrefix(k.Resource, toComplete) {
					out = append(out, k.Resource)
				}
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	if strings.Contains(args[0], "/") || strings.Contains(args[0], ",") {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return c.CompleteNames(cmd, args[0], toComplete), cobra.ShellCompDirectiveNoFileComp
}

// ObjNameOf is "kind.group/name".
func ObjNameOf(k *scheme.Kind, name string) string {
	return printers.QualifiedKind(k) + "/" + name
}
