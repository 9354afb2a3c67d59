package apply

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// maxEditRounds bounds how often edit reopens the file after errors, in
// case the editor is a script that never fixes them.
const maxEditRounds = 20

const editHeader = `# Please edit the object below. Lines beginning with a '#' will be ignored,
# and an empty file will abort the edit. If an error occurs while saving this file will be
# reopened with the relevant failures.
#
`

// NewEditCommand returns the "edit" command.
func NewEditCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		output   string
		selector string
	)
	cmd := &cobra.Command{
		Use:   "edit TYPE NAME | TYPE/NAME",
		Short: "Edit objects in your editor",
		Long: `Open objects as YAML (or JSON with -o json) in an editor and save the changes.

The editor is $KUBE_EDITOR, else $EDITOR, else vi. When the changes cannot be
saved (a syntax error, a field the server rejects), the file is opened again
with the errors at the top; saving it unchanged gives up, keeping a copy of
the changes in a temporary file. The changes are merged into the object as
it is on the server when saved, so what others changed meanwhile is kept.`,
		Example: `  keelctl edit deployment web
  KUBE_EDITOR=nano keelctl edit svc/web`,
		ValidArgsFunction: c.CompleteResourceArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				output = "yaml"
			}
			if output != "yaml" && output != "json" {
				return fmt.Errorf("unsupported output format %q: edit opens yaml or json", output)
			}
			return runEdit(c, cmd.Context(), args, selector, output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "edit as yaml or json")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "edit the objects this label selector picks")
	return cmd
}

// editedObject is one object opened for editing.
type editedObject struct {
	kind     *scheme.Kind
	original map[string]any
	done     bool // saved already (an earlier round)
}

func runEdit(c *cmdutil.CLI, ctx context.Context, args []string, selector, format string) error {
	targets, err := c.ParseTargets(ctx, args)
	if err != nil {
		return err
	}
	var objs []proto.Message
	var kinds []*scheme.Kind
	for _, t := range targets {
		f, errs := c.Fetch(ctx, t, c.NS(), cmdutil.FetchOptions{LabelSelector: selector})
		if len(errs) > 0 {
			return errs
		}
		for _, o := range f.Objs {
			objs = append(objs, o)
			kinds = append(kinds, t.Kind)
		}
	}
	if len(objs) == 0 {
		return errors.New("no objects to edit")
	}

	var doc []byte
	switch {
	case len(objs) == 1 && format == "yaml":
		doc, err = manifest.MarshalYAML(objs[0])
	case len(objs) == 1:
		doc, err = manifest.MarshalJSON(objs[0])
	default:
		doc, err = cmdutil.MarshalList(objs, format)
	}
	if err != nil {
		return err
	}
	originals := map[string]*editedObject{}
	for i, o := range objs {
		m, err := manifest.ToMap(o)
		if err != nil {
			return err
		}
		originals[editKey(kinds[i], client.ObjectMeta(o))] = &editedObject{kind: kinds[i], original: m}
	}

	f, err := os.CreateTemp("", "keelctl-edit-*."+format)
	if err != nil {
		return err
	}
	path := f.Name()
	f.Close()
	header := editHeader
	if format == "json" {
		header = "" // JSON has no comments
	}
	presented := doc
	content := []byte(header + string(doc))
	var lastProblems cmdutil.ErrorList
	for round := 0; ; round++ {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			return err
		}
		if err := runEditor(c, path); err != nil {
			if now, rerr := os.ReadFile(path); rerr == nil && bytes.Equal(now, content) {
				os.Remove(path) // nothing of the user's to keep
				return err
			}
			return fmt.Errorf("%w (your changes are in %q)", err, path)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		edited := stripComments(raw)
		if len(bytes.TrimSpace(edited)) == 0 {
			os.Remove(path)
			fmt.Fprintln(c.Out, "Edit cancelled, no changes made.")
			return nil
		}
		if bytes.Equal(bytes.TrimSpace(edited), bytes.TrimSpace(presented)) {
			if round == 0 {
				os.Remove(path)
				fmt.Fprintln(c.Out, "Edit cancelled, no changes made.")
				return nil
			}
			// Reopened with errors and saved without a change: give up.
			cmdutil.PrintError(c.ErrOut, lastProblems)
			fmt.Fprintf(c.ErrOut, "A copy of your changes has been stored to %q\n", path)
			return errors.New("Edit cancelled, no valid changes were saved.")
		}
		problems := saveEdits(c, ctx, edited, originals)
		if len(problems) == 0 {
			os.Remove(path)
			return nil
		}
		if round+1 >= maxEditRounds {
			fmt.Fprintf(c.ErrOut, "A copy of your changes has been stored to %q\n", path)
			return append(problems, errors.New("Edit cancelled, no valid changes were saved."))
		}
		lastProblems = problems
		// Reopen with the errors on top.
		var b strings.Builder
		b.WriteString(header)
		if format == "yaml" {
			for _, p := range problems {
				var eb bytes.Buffer
				cmdutil.PrintError(&eb, p)
				for _, l := range strings.Split(strings.TrimRight(eb.String(), "\n"), "\n") {
					b.WriteString("# " + l + "\n")
				}
			}
			b.WriteString("#\n")
		} else {
			for _, p := range problems {
				cmdutil.PrintError(c.ErrOut, p)
			}
		}
		presented = edited
		content = []byte(b.String() + string(edited))
	}
}

// saveEdits decodes the edited document and saves each object that
// changed. It returns every problem; objects saved are marked done and
// reported "edited".
func saveEdits(c *cmdutil.CLI, ctx context.Context, edited []byte, originals map[string]*editedObject) cmdutil.ErrorList {
	objs, err := manifest.Decode("edited file", edited)
	if err != nil {
		return cmdutil.ErrorList{err}
	}
	var problems cmdutil.ErrorList
	changedAny := false
	for _, o := range objs {
		md := client.ObjectMeta(o.Message)
		key := editKey(o.Kind, md)
		orig, ok := originals[key]
		if !ok {
			problems = append(problems, fmt.Errorf("%s %q: the kind, name or namespace of an object cannot be changed in edit", o.Kind.Kind, md.GetName()))
			continue
		}
		if orig.done {
			continue
		}
		next, err := manifest.ToMap(o.Message)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		if reflect.DeepEqual(next, orig.original) {
			continue
		}
		changedAny = true
		r, err := c.Resource(o.Kind, md.GetNamespace())
		if err != nil {
			problems = append(problems, err)
			continue
		}
		err = client.RetryOnConflict(client.DefaultBackoff, func() error {
			live, err := r.Get(ctx, md.GetName())
			if err != nil {
				return err
			}
			liveMap, err := manifest.ToMap(live)
			if err != nil {
				return err
			}
			merged := threeWay(orig.original, next, liveMap)
			obj, err := fromMap(o.Kind, merged)
			if err != nil {
				return err
			}
			_, err = r.Update(ctx, obj, client.UpdateOptions{})
			return err
		})
		if err != nil {
			problems = append(problems, err)
			continue
		}
		orig.done = true
		fmt.Fprintf(c.Out, "%s edited\n", cmdutil.ObjNameOf(o.Kind, md.GetName()))
	}
	if !changedAny && len(problems) == 0 {
		fmt.Fprintln(c.Out, "Edit cancelled, no changes made.")
	}
	return problems
}

func editKey(k *scheme.Kind, md interface {
	GetNamespace() string
	GetName() string
}) string {
	return k.Kind + "/" + md.GetNamespace() + "/" + md.GetName()
}

// stripComments drops the lines that begin with '#' (the header and the
// error notes edit writes; YAML block scalars are indented, so their lines
// are never dropped).
func stripComments(data []byte) []byte {
	var out []string
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return []byte(strings.Join(out, ""))
}

// runEditor opens path in the user's editor and waits for it.
func runEditor(c *cmdutil.CLI, path string) error {
	editor := ""
	for _, v := range []string{"KUBE_EDITOR", "EDITOR"} {
		if e := strings.TrimSpace(c.Getenv(v)); e != "" {
			editor = e
			break
		}
	}
	if editor == "" {
		editor = "vi"
	}
	var cmd *exec.Cmd
	if strings.ContainsAny(editor, " \t'\"$;|&<>") {
		// An editor with arguments ("code --wait"): let the shell split it.
		cmd = exec.Command("sh", "-c", editor+` "$1"`, "sh", path)
	} else {
		cmd = exec.Command(editor, path)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.In, c.Out, c.ErrOut
	if f, ok := c.In.(*os.File); ok {
		cmd.Stdin = f
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("there was a problem with the editor %q: %w", editor, err)
	}
	return nil
}
