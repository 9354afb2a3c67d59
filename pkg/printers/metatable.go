package printers

import (
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// TableOptions select what ToTable puts in a Table, as the request's
// Accept header (as=Table;v=v1;g=meta.k8s.io) and its includeObject
// parameter do.
type TableOptions struct {
	// IncludeObject is what each row carries beside its cells: Metadata
	// (the default, also for ""), a PartialObjectMetadata; Object, the
	// whole object; None, nothing.
	IncludeObject k8smetav1.IncludeObjectPolicy
	// NoHeaders leaves the column definitions out (a watch's rows after
	// its first event).
	NoHeaders bool
	// Now is the time ages are computed against.
	Now time.Time
}

// columnDocs describe the columns every kind shares; the others are the
// kind's own and need no more than their name.
var columnDocs = map[string]string{
	"NAME": "The name of the object, unique among the objects of its kind in its namespace.",
	"AGE":  "How long ago the object was created.",
}

// TableColumns are the meta.k8s.io/v1 column definitions of kind k's
// table: the columns of `keelctl get`, the -o wide ones at priority 1.
func TableColumns(k *scheme.Kind) []k8smetav1.TableColumnDefinition {
	cols, _ := columns(k)
	out := make([]k8smetav1.TableColumnDefinition, len(cols))
	for i, c := range cols {
		out[i] = k8smetav1.TableColumnDefinition{Name: c.Name, Type: "string", Description: columnDocs[c.Name]}
		if c.Name == "NAME" {
			out[i].Format = "name"
		}
		if c.Wide {
			out[i].Priority = 1
		}
	}
	return out
}

// ToTable renders objs, all of kind k, as a meta.k8s.io/v1 Table, for
// kubectl get: the cells are those of keelctl get -o wide (kubectl shows
// the priority-0 columns unless asked for -o wide; it adds NAMESPACE and
// LABELS itself from each row's object metadata). The caller sets the
// Table's list metadata (resourceVersion, continue).
func ToTable(k *scheme.Kind, objs []proto.Message, opts TableOptions) (*k8smetav1.Table, error) {
	t := &k8smetav1.Table{TypeMeta: k8smetav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "Table"}}
	if !opts.NoHeaders {
		t.ColumnDefinitions = TableColumns(k)
	}
	_, row := columns(k)
	t.Rows = make([]k8smetav1.TableRow, 0, len(objs))
	for _, obj := range objs {
		cells := row(obj, opts.Now)
		r := k8smetav1.TableRow{Cells: make([]any, len(cells))}
		for i, c := range cells {
			r.Cells[i] = c
		}
		raw, err := rowObject(obj, opts.IncludeObject)
		if err != nil {
			return nil, err
		}
		r.Object = runtime.RawExtension{Raw: raw}
		t.Rows = append(t.Rows, r)
	}
	return t, nil
}

// rowObject is the JSON of what a row carries of obj under policy (nil
// for None).
func rowObject(obj proto.Message, policy k8smetav1.IncludeObjectPolicy) ([]byte, error) {
	var v any
	switch policy {
	case k8smetav1.IncludeNone:
		return nil, nil
	case k8smetav1.IncludeObject:
		m, err := manifest.ToMap(obj)
		if err != nil {
			return nil, err
		}
		v = m
	case k8smetav1.IncludeMetadata, "":
		m, err := manifest.ToMap(meta(obj))
		if err != nil {
			return nil, err
		}
		v = map[string]any{"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": m}
	default:
		return nil, fmt.Errorf("includeObject=%s: must be None, Metadata or Object", policy)
	}
	return json.Marshal(v)
}
