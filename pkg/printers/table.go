// Package printers renders Keel objects for people, as kubectl does: the
// columns of `get` for each kind (Table, Header, Row), the aligned writer
// that prints them (Writer), the multi-section text of `describe`
// (Describe), and ages ("5s", "3m20s", "2d3h").
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

// column is one column of a kind's table.
type column struct {
	name string
	wide bool // only with Options.Wide
}

// handler renders one kind: its columns and a function returning every
// cell (wide ones included) of an object's row, in column order.
type handler struct {
	columns []column
	cells   func(obj proto.Message, now time.Time) []string
}

var handlers = map[string]*handler{} // by scheme Kind.Kind

func register(kind string, columns []column, cells func(obj proto.Message, now time.Time) []string) {
	handlers[kind] = &handler{columns: columns, cells: cells}
}

// generic is the table of a kind without a handler: NAME AGE.
var generic = &handler{
	columns: []column{{name: "NAME"}, {name: "AGE"}},
	cells: func(obj proto.Message, now time.Time) []string {
		m := meta(obj)
		return []string{m.GetName(), Age(m.GetCreationTimestamp(), now)}
	},
}

func handlerFor(k *scheme.Kind) *handler {
	if h, ok := handlers[k.Kind]; ok {
		return h
	}
	return generic
}

// Header returns the column names of kind k's table.
func Header(k *scheme.Kind, opts Options) []string {
	var out []string
	if opts.WithNamespace && k.Namespaced {
		out = append(out, "NAMESPACE")
	}
	for _, c := range handlerFor(k).columns {
		if c.wide && !opts.Wide {
			continue
		}
		out = append(out, c.name)
	}
	if opts.ShowLabels {
		out = append(out, "LABELS")
	}
	return out
}

// Row returns the cells of obj (of kind k) under Header(k, opts).
func Row(k *scheme.Kind, obj proto.Message, opts Options) []string {
	h := handlerFor(k)
	cells := h.cells(obj, opts.Now)
	m := meta(obj)
	var out []string
	if opts.WithNamespace && k.Namespaced {
		out = append(out, m.GetNamespace())
	}
	for i, c := range h.columns {
		if c.wide && !opts.Wide {
			continue
		}
		cell := cells[i]
		if c.name == "NAME" && opts.WithKind {
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
