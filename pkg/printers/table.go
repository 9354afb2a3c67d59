// Package printers renders Keel objects for people, as kubectl does: the
// tables of `get` (Table, Header, Row) from each kind's columns in
// pkg/registry, the aligned writer that prints them (Writer), the
// multi-section text of `describe` (Describe, and the per-kind Describe*
// functions the kinds' strategies use), the cells the kinds' rows share,
// and ages ("5s", "3m20s", "2d3h").
//
// Everything here is a pure function of the objects and a clock reading
// passed in Options.Now, so output is reproducible in tests. The functions
// never modify the objects they are given and are safe for concurrent use;
// a Writer is not (one per output stream).
package printers

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// Options select the columns of a table.
type Options struct {
	// Wide adds the kind's extra columns (get -o wide).
	Wide bool
	// WithNamespace prepends a NAMESPACE column (get -A).
	WithNamespace bool
	// ShowLabels appends a LABELS column (get --show-labels).
	ShowLabels bool
	// WithKind writes names as "kind.group/name" (several kinds in one
	// get).
	WithKind bool
	// Now is the time ages are computed against.
	Now time.Time
}

// columns returns kind k's table columns and row function; a kind without
// columns gets NAME AGE.
func columns(k *scheme.Kind) ([]registry.Column, func(proto.Message, time.Time) []string) {
	s := registry.For(k)
	if cols := s.Columns(); len(cols) > 0 {
		return cols, s.Row
	}
	return genericColumns, genericRow
}

var genericColumns = []registry.Column{{Name: "NAME"}, {Name: "AGE"}}

func genericRow(obj proto.Message, now time.Time) []string {
	m := meta(obj)
	return []string{m.GetName(), Age(m.GetCreationTimestamp(), now)}
}

// Header returns the column names of kind k's table.
func Header(k *scheme.Kind, opts Options) []string {
	var out []string
	if opts.WithNamespace && k.Namespaced {
		out = append(out, "NAMESPACE")
	}
	cols, _ := columns(k)
	for _, c := range cols {
		if c.Wide && !opts.Wide {
			continue
		}
		out = append(out, c.Name)
	}
	if opts.ShowLabels {
		out = append(out, "LABELS")
	}
	return out
}

// Row returns the cells of obj (of kind k) under Header(k, opts).
func Row(k *scheme.Kind, obj proto.Message, opts Options) []string {
	cols, row := columns(k)
	cells := row(obj, opts.Now)
	m := meta(obj)
	var out []string
	if opts.WithNamespace && k.Namespaced {
		out = append(out, m.GetNamespace())
	}
	for i, c := range cols {
		if c.Wide && !opts.Wide {
			continue
		}
		cell := cells[i]
		if c.Name == "NAME" && opts.WithKind {
			cell = QualifiedKind(k) + "/" + cell
		}
		out = append(out, cell)
	}
	if opts.ShowLabels {
		out = append(out, FormatLabels(m.GetLabels()))
	}
	return out
}

// Table returns the header and the rows of objs, all of kind k.
func Table(k *scheme.Kind, objs []proto.Message, opts Options) [][]string {
	rows := make([][]string, 0, len(objs)+1)
	rows = append(rows, Header(k, opts))
	for _, o := range objs {
		rows = append(rows, Row(k, o, opts))
	}
	return rows
}

// QualifiedKind is how kubectl names a kind in "kind/name" output: the
// lower-case kind, with the group for kinds outside the core group
// ("pod", "deployment.apps", "lease.coordination.k8s.io").
func QualifiedKind(k *scheme.Kind) string { return strings.ToLower(k.QualifiedKind()) }

// FormatLabels renders a label map as "k1=v1,k2=v2", keys sorted, or
// "<none>".
func FormatLabels(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// meta returns the object's metadata without creating it (nil-safe getters).
func meta(obj proto.Message) *metav1.ObjectMeta {
	if o, ok := obj.(scheme.Object); ok {
		return o.GetMetadata()
	}
	return nil
}

// Writer prints rows as aligned columns, like kubectl's tab writer: each
// column is as wide as its widest cell plus three spaces (at least six),
// the last column is not padded. A Writer remembers the widths of what it
// has printed, so rows written later (get --watch) line up with the first
// table as long as they fit. Not safe for concurrent use.
type Writer struct {
	out    io.Writer
	widths []int
}

// NewWriter returns a Writer printing to out.
func NewWriter(out io.Writer) *Writer { return &Writer{out: out} }

// Padding and minimum width of a column, as kubectl's tab writer.
const (
	cellPadding  = 3
	minCellWidth = 6
)

// Write prints rows, widening the remembered columns to fit them first.
func (w *Writer) Write(rows [][]string) error {
	for _, r := range rows {
		for i, c := range r {
			if i == len(r)-1 {
				break // the last cell is never padded
			}
			width := utf8.RuneCountInString(c) + cellPadding
			if width < minCellWidth {
				width = minCellWidth
			}
			for len(w.widths) <= i {
				w.widths = append(w.widths, 0)
			}
			if width > w.widths[i] {
				w.widths[i] = width
			}
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", w.widths[i]-utf8.RuneCountInString(c)))
			}
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w.out, b.String())
	return err
}

// Reset forgets the remembered widths (a new table follows).
func (w *Writer) Reset() { w.widths = nil }

// orNone returns s, or "<none>" when s is empty.
func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func itoa[T ~int32 | ~int64 | ~int](n T) string { return fmt.Sprint(n) }
