package cmdutil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// ListChunk is the page size of lists, as kubectl's --chunk-size default.
const ListChunk = 500

// Fetched is what one target of a get returned.
type Fetched struct {
	Kind *scheme.Kind
	Objs []proto.Message
	// ResourceVersion is the list's (to watch from), "" for gets by name.
	ResourceVersion string
}

// FetchOptions select what Fetch lists; IgnoreMissing skips named objects
// that do not exist instead of reporting them.
type FetchOptions struct {
	LabelSelector string
	FieldSelector string
	IgnoreMissing bool
}

// Fetch lists the objects of t (or gets its named ones).
func (c *CLI) Fetch(ctx context.Context, t Target, ns string, o FetchOptions) (*Fetched, ErrorList) {
	r, err := c.Resource(t.Kind, ns)
	if err != nil {
		return nil, ErrorList{err}
	}
	f := &Fetched{Kind: t.Kind}
	if len(t.Names) == 0 {
		objs, rv, err := ListAll(ctx, r, client.ListOptions{LabelSelector: o.LabelSelector, FieldSelector: o.FieldSelector})
		if err != nil {
			return nil, ErrorList{err}
		}
		SortObjects(objs)
		f.Objs, f.ResourceVersion = objs, rv
		return f, nil
	}
	var errs ErrorList
	for _, name := range t.Names {
		obj, err := r.Get(ctx, name)
		if err != nil {
			if apierrors.IsNotFound(err) && o.IgnoreMissing {
				continue
			}
			errs = append(errs, err)
			continue
		}
		f.Objs = append(f.Objs, obj)
	}
	if len(t.Names) == 1 && len(f.Objs) == 1 {
		// Watching one object goes on from the version just printed.
		f.ResourceVersion = client.ObjectMeta(f.Objs[0]).GetResourceVersion()
	}
	return f, errs
}

// ListAll lists every page.
func ListAll(ctx context.Context, r *client.Resource[proto.Message], opts client.ListOptions) ([]proto.Message, string, error) {
	opts.Limit = ListChunk
	var out []proto.Message
	for {
		l, err := r.List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		out = append(out, l.Items...)
		if l.Continue == "" {
			return out, l.ResourceVersion, nil
		}
		opts.Continue = l.Continue
	}
}

// MarshalList renders objects as a v1 List, as kubectl does for several
// objects; manifest.Decode (and so apply) reads it back.
func MarshalList(objs []proto.Message, format string) ([]byte, error) {
	items := make([]any, 0, len(objs))
	for _, o := range objs {
		m, err := manifest.ToMap(o)
		if err != nil {
			return nil, err
		}
		items = append(items, m)
	}
	list := map[string]any{
		"apiVersion": "v1",
		"kind":       "List",
		"items":      items,
		"metadata":   map[string]any{"resourceVersion": ""},
	}
	if format == "yaml" {
		return yaml.Marshal(list)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(list); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ObjectRef names one object a command acts on.
type ObjectRef struct {
	Kind      *scheme.Kind
	Namespace string
	Name      string
	Source    string // manifest source, for errors
}

// SelectObjects resolves the objects of a command that takes "TYPE
// NAME...", "TYPE/NAME...", "TYPE -l SELECTOR", "TYPE --all" or -f.
func (c *CLI) SelectObjects(ctx context.Context, args []string, files FileFlags, selector string, all bool) ([]ObjectRef, ErrorList, error) {
	var errs ErrorList
	if len(files.filenames) > 0 {
		if len(args) > 0 {
			return nil, nil, errors.New("cannot give resource arguments together with -f")
		}
		objs, rerrs := c.ReadObjects(ctx, files)
		errs = append(errs, rerrs...)
		var items []ObjectRef
		for _, obj := range objs {
			m, _, err := c.PrepareObject(obj, true)
			if err != nil {
				errs = append(errs, &SourceError{Verb: "reading", Source: obj.Source, Err: err})
				continue
			}
			md := client.ObjectMeta(m)
			items = append(items, ObjectRef{Kind: obj.Kind, Namespace: md.GetNamespace(), Name: md.GetName(), Source: obj.Source})
		}
		return items, errs, nil
	}
	if len(args) == 0 {
		return nil, nil, errors.New("one or more resources must be specified as <resource> <name> or <resource>/<name>")
	}
	targets, err := c.ParseTargets(ctx, args)
	if err != nil {
		return nil, nil, err
	}
	byName := len(targets[0].Names) > 0
	selecting := all || selector != ""
	switch {
	case byName && selecting:
		return nil, nil, errors.New("name cannot be provided when a selector or --all is specified")
	case !byName && !selecting:
		return nil, nil, errors.New("resource(s) were provided, but no name was specified")
	}
	ns := c.NS()
	var items []ObjectRef
	for _, t := range targets {
		if byName {
			for _, n := range t.Names {
				items = append(items, ObjectRef{Kind: t.Kind, Namespace: ns, Name: n})
			}
			continue
		}
		r, err := c.Resource(t.Kind, ns)
		if err != nil {
			return nil, nil, err
		}
		objs, _, err := ListAll(ctx, r, client.ListOptions{LabelSelector: selector})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		SortObjects(objs)
		for _, obj := range objs {
			md := client.ObjectMeta(obj)
			items = append(items, ObjectRef{Kind: t.Kind, Namespace: md.GetNamespace(), Name: md.GetName()})
		}
	}
	return items, errs, nil
}
