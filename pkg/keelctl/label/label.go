// Package label holds keelctl label and keelctl annotate.
package label

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
)

// metaEdit is what label and annotate share: they change one map of the
// metadata (labels or annotations) of the objects named.
type metaEdit struct {
	what       string // "label" or "annotation"
	done       string // "labeled" / "annotated"
	overwrite  bool
	all        bool
	selector   string
	list       bool
	resVersion string
	output     string
	dryRun     cmdutil.DryRun
	files      cmdutil.FileFlags
}

// NewLabelCommand returns the "label" command.
func NewLabelCommand(c *cmdutil.CLI) *cobra.Command {
	e := &metaEdit{what: "label", done: "labeled"}
	cmd := &cobra.Command{
		Use:   "label (TYPE NAME... | TYPE/NAME... | TYPE -l SELECTOR | TYPE --all | -f FILE) KEY=VALUE... KEY-...",
		Short: "Set or remove labels of objects",
		Long: `Set (KEY=VALUE) or remove (KEY-) labels of objects.

Changing a label that already has another value needs --overwrite.`,
		Example: `  keelctl label pod web tier=frontend
  keelctl label pod web tier=backend --overwrite
  keelctl label pods --all tier-`,
		ValidArgsFunction: c.CompleteResourceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMetaEdit(c, cmd.Context(), args, e)
		},
	}
	e.addFlags(cmd)
	return cmd
}

// NewAnnotateCommand returns the "annotate" command.
func NewAnnotateCommand(c *cmdutil.CLI) *cobra.Command {
	e := &metaEdit{what: "annotation", done: "annotated"}
	cmd := &cobra.Command{
		Use:   "annotate (TYPE NAME... | TYPE/NAME... | TYPE -l SELECTOR | TYPE --all | -f FILE) KEY=VALUE... KEY-...",
		Short: "Set or remove annotations of objects",
		Long: `Set (KEY=VALUE) or remove (KEY-) annotations of objects.

Changing an annotation that already has another value needs --overwrite.`,
		Example: `  keelctl annotate deploy web description='the web front end'
  keelctl annotate deploy web description-`,
		ValidArgsFunction: c.CompleteResourceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMetaEdit(c, cmd.Context(), args, e)
		},
	}
	e.addFlags(cmd)
	return cmd
}

func (e *metaEdit) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&e.overwrite, "overwrite", false, "allow changing the value of an existing "+e.what)
	f.BoolVar(&e.all, "all", false, "every object of the type in the namespace")
	f.StringVarP(&e.selector, "selector", "l", "", "the objects this label selector picks")
	f.BoolVar(&e.list, "list", false, "print the "+e.what+"s of the objects instead of changing them")
	f.StringVar(&e.resVersion, "resource-version", "", "fail unless the object still has this resourceVersion")
	f.StringVarP(&e.output, "output", "o", "", `"name" prints only kind/name`)
	e.dryRun.Add(cmd)
	e.files.Add(cmd, "of the objects to change")
}

// parseMetaChanges splits KEY=VALUE and KEY- arguments from the resource
// arguments before them.
func parseMetaChanges(args []string, what string) (resArgs []string, set map[string]string, remove []string, err error) {
	set = map[string]string{}
	i := len(args)
	for i > 0 && (strings.Contains(args[i-1], "=") || strings.HasSuffix(args[i-1], "-")) {
		i--
	}
	resArgs = args[:i]
	for _, a := range args[i:] {
		if k, v, ok := strings.Cut(a, "="); ok {
			if err := validateMetaKey(k, what); err != nil {
				return nil, nil, nil, err
			}
			if what == "label" {
				if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
					return nil, nil, nil, fmt.Errorf("invalid label value: %q: %s", a, strings.Join(errs, "; "))
				}
			}
			set[k] = v
			continue
		}
		k := strings.TrimSuffix(a, "-")
		if err := validateMetaKey(k, what); err != nil {
			return nil, nil, nil, err
		}
		remove = append(remove, k)
	}
	for _, k := range remove {
		if _, ok := set[k]; ok {
			return nil, nil, nil, fmt.Errorf("can not both modify and remove the %s %q in the same command", what, k)
		}
	}
	return resArgs, set, remove, nil
}

func validateMetaKey(k, what string) error {
	if errs := validation.IsQualifiedName(k); len(errs) > 0 {
		return fmt.Errorf("invalid %s spec: %q: %s", what, k, strings.Join(errs, "; "))
	}
	return nil
}

func runMetaEdit(c *cmdutil.CLI, ctx context.Context, args []string, e *metaEdit) error {
	if err := e.dryRun.Check(); err != nil {
		return err
	}
	resArgs, set, remove, err := parseMetaChanges(args, e.what)
	if err != nil {
		return err
	}
	if !e.list && len(set) == 0 && len(remove) == 0 {
		return fmt.Errorf("at least one %s update is required", e.what)
	}
	items, errs, err := c.SelectObjects(ctx, resArgs, e.files, e.selector, e.all)
	if err != nil {
		return err
	}
	for _, it := range items {
		r, err := c.Resource(it.Kind, it.Namespace)
		if err != nil {
			return err
		}
		if e.list {
			obj, err := r.Get(ctx, it.Name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			m := e.mapOf(client.ObjectMeta(obj))
			for _, k := range sortedMapKeys(m) {
				if e.what == "label" {
					fmt.Fprintf(c.Out, "%s=%s\n", k, m[k])
				} else {
					fmt.Fprintf(c.Out, "%s: %s\n", k, m[k])
				}
			}
			continue
		}
		changed := false
		err = client.RetryOnConflict(client.DefaultRetry, func() error {
			obj, err := r.Get(ctx, it.Name)
			if err != nil {
				return err
			}
			md := client.ObjectMeta(obj)
			if e.resVersion != "" && md.GetResourceVersion() != e.resVersion {
				return fmt.Errorf("%s %q: the resourceVersion is %s, not %s", it.Kind.Resource, it.Name, md.GetResourceVersion(), e.resVersion)
			}
			before := cmdutil.CopyMap(e.mapOf(md))
			m := cmdutil.CopyMap(before)
			var problems []string
			for _, k := range sortedMapKeys(set) {
				if cur, ok := m[k]; ok && cur != set[k] && !e.overwrite {
					problems = append(problems, fmt.Sprintf("'%s' already has a value (%s), and --overwrite is false", k, cur))
				}
				m[k] = set[k]
			}
			if len(problems) > 0 {
				return errors.New(strings.Join(problems, "\n"))
			}
			for _, k := range remove {
				if _, ok := m[k]; !ok {
					fmt.Fprintf(c.ErrOut, "%s %q not found.\n", e.what, k)
				}
				delete(m, k)
			}
			changed = !reflect.DeepEqual(before, m)
			if !changed || e.dryRun.Client() {
				return nil
			}
			if len(m) == 0 {
				m = nil
			}
			e.setMap(md, m)
			_, err = r.Update(ctx, obj, client.UpdateOptions{DryRun: e.dryRun.Server()})
			return err
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		name := cmdutil.ObjNameOf(it.Kind, it.Name)
		switch {
		case e.output == "name":
			fmt.Fprintln(c.Out, name)
		case !changed && e.what == "label":
			fmt.Fprintf(c.Out, "%s not labeled\n", name)
		case e.what == "label" && len(set) == 0:
			fmt.Fprintf(c.Out, "%s unlabeled%s\n", name, e.dryRun.Suffix())
		default:
			fmt.Fprintf(c.Out, "%s %s%s\n", name, e.done, e.dryRun.Suffix())
		}
	}
	return errs.OrNil()
}

func (e *metaEdit) mapOf(md *metav1.ObjectMeta) map[string]string {
	if e.what == "label" {
		return md.GetLabels()
	}
	return md.GetAnnotations()
}

func (e *metaEdit) setMap(md *metav1.ObjectMeta, m map[string]string) {
	if e.what == "label" {
		md.Labels = m
	} else {
		md.Annotations = m
	}
}

func sortedMapKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
