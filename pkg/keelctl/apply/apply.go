// Package apply holds keelctl apply (the three-way merge against the
// last-applied configuration) and keelctl edit.
package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// NewApplyCommand returns the "apply" command.
func NewApplyCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		files  cmdutil.FileFlags
		dryRun cmdutil.DryRun
		output string
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILENAME",
		Short: "Create or update objects from manifests, keeping what others changed",
		Long: `Apply manifests: create the objects that do not exist, update those that do.

An update is a three-way merge, as kubectl apply does: fields in the file are
set, fields removed from the file since the last apply are removed, fields the
file never set (set by controllers, the apiserver or other commands) are kept.
The applied manifest is recorded in the kubectl.kubernetes.io/last-applied-
configuration annotation. Every object is attempted; each failure is reported
and the exit status is then 1.`,
		Example: `  keelctl apply -f web.yaml
  keelctl apply -f manifests/            # every *.yaml, *.yml, *.json, by name
  cat web.yaml | keelctl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := dryRun.Check(); err != nil {
				return err
			}
			if output != "" && output != "name" {
				return fmt.Errorf("unsupported output format %q (apply supports -o name)", output)
			}
			objs, errs := c.ReadObjects(cmd.Context(), files)
			if len(objs) == 0 && len(errs) == 0 {
				return errors.New("no objects passed to apply")
			}
			for _, o := range objs {
				res, err := applyObject(c, cmd.Context(), o, dryRun)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if output == "name" {
					fmt.Fprintln(c.Out, cmdutil.ObjName(o.Kind, o.Message))
				} else {
					fmt.Fprintf(c.Out, "%s %s%s\n", cmdutil.ObjName(o.Kind, o.Message), res, dryRun.Suffix())
				}
			}
			return errs.OrNil()
		},
	}
	files.Add(cmd, "to apply")
	dryRun.Add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", `"name" prints only kind/name of each object`)
	return cmd
}

// applyObject applies one manifest object and says what happened:
// "created", "configured" or "unchanged".
func applyObject(c *cmdutil.CLI, ctx context.Context, o manifest.Object, dryRun cmdutil.DryRun) (string, error) {
	fail := func(err error) (string, error) {
		return "", &cmdutil.SourceError{Verb: "applying", Source: o.Source, Err: err}
	}
	m, status, err := c.PrepareObject(o, true)
	if err != nil {
		return fail(err)
	}
	next, err := manifest.ToMap(m)
	if err != nil {
		return fail(err)
	}
	applied, err := json.Marshal(next)
	if err != nil {
		return fail(err)
	}
	md := scheme.Meta(m)
	r, err := c.Resource(o.Kind, md.Namespace)
	if err != nil {
		return "", err
	}
	// A manifest that carries a resourceVersion (one saved by get -o yaml)
	// is applied only over that version, as kubectl does: the apiserver
	// refuses it with a conflict if the object changed since.
	manifestRV := scheme.Meta(o.Message).GetResourceVersion()
	var result string
	attempt := func() error {
		live, err := r.Get(ctx, md.Name)
		if apierrors.IsNotFound(err) {
			obj := proto.Clone(m)
			cmdutil.RestoreStatus(obj, status)
			cmdutil.SetAnnotationOn(obj, api.LastAppliedConfigAnnotation, string(applied))
			if err := checkAnnotationsSize(o.Kind, md.Name, obj); err != nil {
				return err
			}
			result = "created"
			if dryRun.Client() {
				return nil
			}
			_, err := r.Create(ctx, obj, client.CreateOptions{DryRun: dryRun.Server()})
			if apierrors.IsAlreadyExists(err) {
				// Created meanwhile by someone else: update it instead.
				return apierrors.ConflictModified(o.Kind.Resource, md.Name)
			}
			return err
		}
		if err != nil {
			return err
		}
		liveMap, err := manifest.ToMap(live)
		if err != nil {
			return err
		}
		last, warn := lastApplied(o.Kind, live)
		if warn != "" {
			fmt.Fprintf(c.ErrOut, "Warning: resource %s/%s %s\n", o.Kind.Resource, md.Name, warn)
		}
		merged := threeWay(last, next, liveMap)
		merged = setAnnotation(merged, api.LastAppliedConfigAnnotation, string(applied))
		if manifestRV != "" {
			merged = setResourceVersion(merged, manifestRV)
		}
		if reflect.DeepEqual(merged, liveMap) {
			result = "unchanged"
			return nil
		}
		obj, err := fromMap(o.Kind, merged)
		if err != nil {
			return err
		}
		if err := checkAnnotationsSize(o.Kind, md.Name, obj); err != nil {
			return err
		}
		result = "configured"
		if dryRun.Client() {
			return nil
		}
		out, err := r.Update(ctx, obj, client.UpdateOptions{DryRun: dryRun.Server()})
		if err != nil {
			return err
		}
		if !dryRun.Server() && client.ObjectMeta(out).GetResourceVersion() == client.ObjectMeta(live).GetResourceVersion() {
			result = "unchanged" // the server found nothing to change (defaults)
		}
		return nil
	}
	if manifestRV != "" {
		// Retrying would read the object again and lose the point of the
		// resourceVersion: the conflict is the answer.
		err = attempt()
	} else {
		err = client.RetryOnConflict(client.DefaultBackoff, attempt)
	}
	if err != nil {
		return fail(err)
	}
	return result, nil
}

// checkAnnotationsSize fails when obj's annotations, the last-applied
// configuration included, exceed what the apiserver stores (256 KiB in
// total, keys and values), before anything is sent.
func checkAnnotationsSize(k *scheme.Kind, name string, obj proto.Message) error {
	ann := scheme.Meta(obj).GetAnnotations()
	total := 0
	for key, v := range ann {
		total += len(key) + len(v)
	}
	if total <= apivalidation.TotalAnnotationSizeLimitB {
		return nil
	}
	last := len(api.LastAppliedConfigAnnotation) + len(ann[api.LastAppliedConfigAnnotation])
	return fmt.Errorf("%s %q: metadata.annotations: Too long: apply records the manifest in the %s annotation (%d bytes), "+
		"which would make the annotations %d bytes, over the limit of %d bytes; "+
		"use \"keelctl create\" (without --save-config), which does not record it, or (once Keel has it) server-side apply",
		k.Resource, name, api.LastAppliedConfigAnnotation, last, total, apivalidation.TotalAnnotationSizeLimitB)
}

// lastApplied decodes the live object's last-applied annotation into the
// generic form. Without it (or if it cannot be read) the merge has no
// memory: nothing is removed. warn then says why.
func lastApplied(k *scheme.Kind, live proto.Message) (map[string]any, string) {
	s, ok := client.ObjectMeta(live).GetAnnotations()[api.LastAppliedConfigAnnotation]
	if !ok {
		return nil, "is missing the " + api.LastAppliedConfigAnnotation + " annotation which is required by keelctl apply. keelctl apply should only be used on resources created declaratively by either keelctl create --save-config or keelctl apply. The missing annotation will be patched automatically."
	}
	if nestedDeeperThan(s, maxLastAppliedDepth) {
		return nil, fmt.Sprintf("has a %s annotation nested deeper than %d levels, more than any object has; it will be replaced.", api.LastAppliedConfigAnnotation, maxLastAppliedDepth)
	}
	m := k.New()
	if err := manifest.DecodeInto([]byte(s), m); err != nil {
		return nil, "has a " + api.LastAppliedConfigAnnotation + " annotation that cannot be read (" + err.Error() + "); it will be replaced."
	}
	out, err := manifest.ToMap(m)
	if err != nil {
		return nil, "has an unusable " + api.LastAppliedConfigAnnotation + " annotation; it will be replaced."
	}
	return out, ""
}

// maxLastAppliedDepth bounds the nesting of a last-applied annotation that
// apply decodes. No object of the API nests nearly this deep; a planted
// annotation nested tens of thousands of levels deep would otherwise cost
// the decoder memory quadratic in its depth (the field path of every
// level is built from its parent's: 650 MB for 40 KB of brackets).
const maxLastAppliedDepth = 100

// nestedDeeperThan reports whether the JSON text s opens more than max
// arrays or objects inside each other (brackets within strings do not
// count). It reads s once and allocates nothing.
func nestedDeeperThan(s string, max int) bool {
	depth, inString, escaped := 0, false, false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case ch == '\\':
				escaped = true
			case ch == '"':
				inString = false
			}
		case ch == '"':
			inString = true
		case ch == '[' || ch == '{':
			if depth++; depth > max {
				return true
			}
		case ch == ']' || ch == '}':
			depth--
		}
	}
	return false
}

// fromMap converts the generic form back into a message of kind k.
func fromMap(k *scheme.Kind, obj map[string]any) (proto.Message, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	m := k.New()
	if err := manifest.DecodeInto(data, m); err != nil {
		return nil, fmt.Errorf("building the updated %s: %w", k.Kind, err)
	}
	return m, nil
}
