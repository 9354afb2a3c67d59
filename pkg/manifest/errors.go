package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Error is one problem found in a manifest.
type Error struct {
	// Source names the file and, when the file holds several documents, the
	// document: "web.yaml" or "web.yaml (document 2)". Empty for DecodeInto.
	Source string
	// Path is the field path ("spec.template.spec.containers[0].image",
	// "metadata.labels[app]"), empty for problems with the whole document.
	Path string
	// Message says what is wrong ("unknown field", "expected integer, got
	// string \"eighty\"").
	Message string
	// UnknownKind marks a document whose apiVersion and kind no kind of
	// the scheme has (one a CustomResourceDefinition may add).
	UnknownKind bool
}

// HasUnknownKind reports whether err, an ErrorList, names a document of
// an unknown apiVersion and kind.
func HasUnknownKind(err error) bool {
	var l ErrorList
	if !errors.As(err, &l) {
		return false
	}
	for _, e := range l {
		if e.UnknownKind {
			return true
		}
	}
	return false
}

// Error renders "SOURCE: PATH: MESSAGE", leaving out empty parts.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is every problem found by Decode or DecodeInto, in a
// deterministic order: documents in file order, fields of one object in
// sorted key order, depth first. Decode and DecodeInto return an ErrorList
// (never an empty one) as their error; use errors.As to inspect it.
type ErrorList []*Error

// Error joins the problems one per line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// describe names a decoded JSON value for "expected X, got Y" messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 64 {
			x = x[:61] + "..."
		}
		return "string " + strconv.Quote(x)
	case json.Number:
		return "number " + string(x)
	case bool:
		return fmt.Sprintf("boolean %t", x)
	case []any:
		return "list"
	case map[string]any:
		return "object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// Path helpers. A path is built only when an error is reported or a child is
// visited; they are plain strings to keep the decoder simple.

func fieldPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func keyPath(parent, key string) string {
	return parent + "[" + key + "]"
}
