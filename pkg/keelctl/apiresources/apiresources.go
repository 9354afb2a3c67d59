// Package apiresources holds keelctl api-resources.
package apiresources

import (
	"fmt"
	"keel.dev/keel/pkg/registry"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/scheme"
)

// verbs are what the generic API serves for every stored kind.
var verbs = "create,delete,get,list,update,watch"

// verbsOf are the verbs the API serves for k: only create for a
// create-only kind.
func verbsOf(k *scheme.Kind) string {
	if k.CreateOnly {
		return "create"
	}
	if k.Computed {
		return "get,list"
	}
	return verbs
}

// NewAPIResourcesCommand returns the "api-resources" command.
func NewAPIResourcesCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		output     string
		namespaced bool
		group      string
		sortBy     string
		noHeaders  bool
	)
	cmd := &cobra.Command{
		Use:   "api-resources",
		Short: "List the resource types the API serves",
		Long: `List the resource types: name, short names, apiVersion, whether they are
namespaced, and kind; the core group first, then the others by group (--sort-by name or kind
sorts by that column instead).`,
		Example: `  keelctl api-resources
  keelctl api-resources --namespaced=false
  keelctl api-resources --api-group=apps -o wide
  keelctl api-resources --sort-by=kind`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kinds := append([]*scheme.Kind(nil), scheme.All()...)
			// The custom resources too: the definitions' preferred versions.
			if err := c.LoadCustomResources(cmd.Context()); err != nil {
				fmt.Fprintf(c.ErrOut, "Warning: custom resources are not listed: %v\n", err)
			}
			kinds = append(kinds, cmdutil.PreferredCustomKinds()...)
			sort.SliceStable(kinds, func(i, j int) bool {
				a, b := kinds[i], kinds[j]
				if (a.Group == "") != (b.Group == "") {
					return a.Group == ""
				}
				if a.Group != b.Group {
					return a.Group < b.Group
				}
				return a.Resource < b.Resource
			})
			switch sortBy {
			case "":
			case "name":
				sort.SliceStable(kinds, func(i, j int) bool { return kinds[i].Resource < kinds[j].Resource })
			case "kind":
				sort.SliceStable(kinds, func(i, j int) bool { return kinds[i].Kind < kinds[j].Kind })
			default:
				return fmt.Errorf("--sort-by accepts only name or kind")
			}
			var filter *bool
			if cmd.Flags().Changed("namespaced") {
				filter = &namespaced
			}
			groupSet := cmd.Flags().Changed("api-group")
			var rows [][]string
			switch output {
			case "", "wide":
				if !noHeaders {
					h := []string{"NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"}
					if output == "wide" {
						h = append(h, "VERBS", "CATEGORIES")
					}
					rows = append(rows, h)
				}
			case "name":
			default:
				return fmt.Errorf("unsupported output format %q (wide or name)", output)
			}
			for _, k := range kinds {
				if filter != nil && k.Namespaced != *filter {
					continue
				}
				if groupSet && k.Group != group && !(group == "core" && k.Group == "") {
					continue
				}
				if output == "name" {
					fmt.Fprintln(c.Out, k.QualifiedResource())
					continue
				}
				row := []string{k.Resource, strings.Join(k.ShortNames, ","), k.APIVersion(), strconv.FormatBool(k.Namespaced), k.Kind}
				if output == "wide" {
					row = append(row, "["+strings.ReplaceAll(verbsOf(k), ",", " ")+"]", strings.Join(registry.For(k).Categories(), ","))
				}
				rows = append(rows, row)
			}
			if output == "name" {
				return nil
			}
			return printers.NewWriter(c.Out).Write(rows)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "wide (adds VERBS and CATEGORIES) or name")
	cmd.Flags().BoolVar(&namespaced, "namespaced", true, "only namespaced (true) or cluster-scoped (false) types; all when not given")
	cmd.Flags().StringVar(&group, "api-group", "", "only the types of this API group (\"\" or core for the core group)")
	cmd.Flags().StringVar(&sortBy, "sort-by", "", "sort by name or kind")
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "leave out the header")
	return cmd
}
