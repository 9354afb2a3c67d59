package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// lastAppliedAnnotation records the manifest apply last applied (JSON).
const lastAppliedAnnotation = api.LastAppliedConfigAnnotation

// dryRunFlag is --dry-run=none|client|server.
type dryRunFlag struct{ value string }

func (d *dryRunFlag) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&d.value, "dry-run", "none", `"none", "client" (only print what would be sent) or "server" (the apiserver validates without storing)`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
}

func (d *dryRunFlag) check() error {
	switch d.value {
	case "none", "client", "server":
		return nil
	}
	return fmt.Errorf(`invalid --dry-run value %q: must be "none", "server" or "client"`, d.value)
}

func (d *dryRunFlag) client() bool { return d.value == "client" }
func (d *dryRunFlag) server() bool { return d.value == "server" }

func (d *dryRunFlag) suffix() string {
	switch d.value {
	case "client":
		return " (dry run)"
	case "server":
		return " (server dry run)"
	}
	return ""
}

func newApplyCommand(c *cli) *cobra.Command {
	var (
		files  fileFlags
		dryRun dryRunFlag
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
			if err := dryRun.check(); err != nil {
				return err
			}
			if output != "" && output != "name" {
				return fmt.Errorf("unsupported output format %q (apply supports -o name)", output)
			}
			objs, errs := c.readObjects(files)
			if len(objs) == 0 && len(errs) == 0 {
				return errors.New("no objects passed to apply")
			}
			for _, o := range objs {
				res, err := c.applyObject(cmd.Context(), o, dryRun)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if output == "name" {
					fmt.Fprintln(c.out, objName(o.Kind, o.Message))
				} else {
					fmt.Fprintf(c.out, "%s %s%s\n", objName(o.Kind, o.Message), res, dryRun.suffix())
				}
			}
			return errs.orNil()
		},
	}
	files.add(cmd, "to apply")
	dryRun.add(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", `"name" prints only kind/name of each object`)
	return cmd
}

// prepareObject readies a decoded manifest for the server: it checks the
// name, fills in the namespace (the request's unless the manifest names
// one; a different one given with -n is an error), and removes what the
// server owns (uid, resourceVersion, generation, timestamps, status) and
// the last-applied annotation. It returns the object and its original
// status (kept for create, where a Node's status is accepted).
func (c *cli) prepareObject(o manifest.Object, needName bool) (proto.Message, proto.Message, error) {
	m := proto.Clone(o.Message)
	k := o.Kind
	md := scheme.Meta(m)
	if needName && md.Name == "" {
		return nil, nil, errors.New("resource name may not be empty (metadata.name is required; generateName works only with create)")
	}
	if k.Namespaced {
		switch {
		case md.Namespace == "":
			md.Namespace = c.ns()
		case c.nsFlagSet && md.Namespace != c.namespace:
			return nil, nil, fmt.Errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation.", md.Namespace, c.namespace, md.Namespace)
		}
	} else {
		md.Namespace = ""
	}
	md.Uid, md.ResourceVersion, md.Generation = "", "", 0
	md.CreationTimestamp, md.DeletionTimestamp, md.DeletionGracePeriodSeconds = nil, nil, nil
	delete(md.Annotations, lastAppliedAnnotation)
	if len(md.Annotations) == 0 {
		md.Annotations = nil
	}
	status := scheme.Field(m, "status")
	if status != nil {
		status = proto.Clone(status)
		clearField(m, "status")
	}
	return m, status, nil
}

// clearField clears a top-level field of m, if the kind has it.
func clearField(m proto.Message, name string) {
	r := m.ProtoReflect()
	if f := r.Descriptor().Fields().ByName(protoreflect.Name(name)); f != nil {
		r.Clear(f)
	}
}

// restoreStatus sets m's status to status (a status message or nil).
func restoreStatus(m, status proto.Message) {
	if status == nil {
		return
	}
	r := m.ProtoReflect()
	if f := r.Descriptor().Fields().ByName("status"); f != nil {
		r.Set(f, protoreflect.ValueOfMessage(status.ProtoReflect()))
	}
}

// applyObject applies one manifest object and says what happened:
// "created", "configured" or "unchanged".
func (c *cli) applyObject(ctx context.Context, o manifest.Object, dryRun dryRunFlag) (string, error) {
	fail := func(err error) (string, error) {
		return "", &sourceError{verb: "applying", source: o.Source, err: err}
	}
	m, status, err := c.prepareObject(o, true)
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
	r, err := c.resource(o.Kind, md.Namespace)
	if err != nil {
		return "", err
	}
	var result string
	err = client.RetryOnConflict(client.DefaultBackoff, func() error {
		live, err := r.Get(ctx, md.Name)
		if apierrors.IsNotFound(err) {
			obj := proto.Clone(m)
			restoreStatus(obj, status)
			setAnnotationOn(obj, lastAppliedAnnotation, string(applied))
			result = "created"
			if dryRun.client() {
				return nil
			}
			_, err := r.Create(ctx, obj, client.CreateOptions{DryRun: dryRun.server()})
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
			fmt.Fprintf(c.errOut, "Warning: resource %s/%s %s\n", o.Kind.Resource, md.Name, warn)
		}
		merged := threeWay(last, next, liveMap)
		merged = setAnnotation(merged, lastAppliedAnnotation, string(applied))
		if reflect.DeepEqual(merged, liveMap) {
			result = "unchanged"
			return nil
		}
		obj, err := fromMap(o.Kind, merged)
		if err != nil {
			return err
		}
		result = "configured"
		if dryRun.client() {
			return nil
		}
		out, err := r.Update(ctx, obj, client.UpdateOptions{DryRun: dryRun.server()})
		if err != nil {
			return err
		}
		if !dryRun.server() && client.ObjectMeta(out).GetResourceVersion() == client.ObjectMeta(live).GetResourceVersion() {
			result = "unchanged" // the server found nothing to change (defaults)
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return result, nil
}

// lastApplied decodes the live object's last-applied annotation into the
// generic form. Without it (or if it cannot be read) the merge has no
// memory: nothing is removed. warn then says why.
func lastApplied(k *scheme.Kind, live proto.Message) (map[string]any, string) {
	s, ok := client.ObjectMeta(live).GetAnnotations()[lastAppliedAnnotation]
	if !ok {
		return nil, "is missing the " + lastAppliedAnnotation + " annotation which is required by keelctl apply. keelctl apply should only be used on resources created declaratively by either keelctl create --save-config or keelctl apply. The missing annotation will be patched automatically."
	}
	m := k.New()
	if err := manifest.DecodeInto([]byte(s), m); err != nil {
		return nil, "has a " + lastAppliedAnnotation + " annotation that cannot be read (" + err.Error() + "); it will be replaced."
	}
	out, err := manifest.ToMap(m)
	if err != nil {
		return nil, "has an unusable " + lastAppliedAnnotation + " annotation; it will be replaced."
	}
	return out, ""
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

// setAnnotationOn sets an annotation on a message.
func setAnnotationOn(m proto.Message, key, value string) {
	md := scheme.Meta(m)
	if md.Annotations == nil {
		md.Annotations = map[string]string{}
	}
	md.Annotations[key] = value
}

func newCreateCommand(c *cli) *cobra.Command {
	var (
		files      fileFlags
		dryRun     dryRunFlag
		saveConfig bool
		output     string
	)
	cmd := &cobra.Command{
		Use:   "create -f FILENAME | create TYPE NAME [flags]",
		Short: "Create objects from manifests, or one object from flags",
		Long: `Create the objects of the manifests; an object that already exists is an
error (AlreadyExists). Every object is attempted; each failure is reported.

The subcommands (deployment, job, namespace, configmap, secret generic, service
clusterip|nodeport) build one object from their flags, as kubectl's do.`,
		Example: `  keelctl create -f job.yaml
  keelctl create deployment web --image=registry.keel.test/busybox:1.35`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := dryRun.check(); err != nil {
				return err
			}
			if output != "" && output != "name" {
				return fmt.Errorf("unsupported output format %q (create supports -o name)", output)
			}
			objs, errs := c.readObjects(files)
			if len(objs) == 0 && len(errs) == 0 {
				return errors.New("no objects passed to create")
			}
			for _, o := range objs {
				name, err := c.createObject(cmd.Context(), o, dryRun, saveConfig)
				if err != nil {
					errs = append(errs, &sourceError{verb: "creating", source: o.Source, err: err})
					continue
				}
				if output == "name" {
					fmt.Fprintln(c.out, name)
				} else {
					fmt.Fprintf(c.out, "%s created%s\n", name, dryRun.suffix())
				}
			}
			return errs.orNil()
		},
	}
	files.add(cmd, "to create")
	dryRun.add(cmd)
	cmd.Flags().BoolVar(&saveConfig, "save-config", false, "record the manifest in the last-applied annotation, so that apply can later update the object")
	cmd.Flags().StringVarP(&output, "output", "o", "", `"name" prints only kind/name of each object`)
	c.addGeneratorCommands(cmd)
	return cmd
}

// createObject creates one manifest object and returns its kind/name.
func (c *cli) createObject(ctx context.Context, o manifest.Object, dryRun dryRunFlag, saveConfig bool) (string, error) {
	m, status, err := c.prepareObject(o, false)
	if err != nil {
		return "", err
	}
	if saveConfig {
		next, err := manifest.ToMap(m)
		if err != nil {
			return "", err
		}
		applied, err := json.Marshal(next)
		if err != nil {
			return "", err
		}
		setAnnotationOn(m, lastAppliedAnnotation, string(applied))
	}
	restoreStatus(m, status)
	if dryRun.client() {
		return objName(o.Kind, m), nil
	}
	r, err := c.resource(o.Kind, scheme.Meta(m).Namespace)
	if err != nil {
		return "", err
	}
	out, err := r.Create(ctx, m, client.CreateOptions{DryRun: dryRun.server()})
	if err != nil {
		return "", err
	}
	return objName(o.Kind, out), nil
}
