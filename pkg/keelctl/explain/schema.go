package explain

import (
	"fmt"
	"io"
	"sort"
	"strings"

	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"

	"keel.dev/keel/pkg/scheme"
)

// schemaOf is what a custom resource's strategy offers explain: its
// version's structural schema (nil without one).
type schemaOf interface {
	Schema() *structuralschema.Structural
}

// The fields every custom resource has besides its schema's, as the
// OpenAPI builder adds them.
var objectFields = []struct{ name, typ, doc string }{
	{"apiVersion", "string", "APIVersion defines the versioned schema of this representation of an object."},
	{"kind", "string", "Kind is a string value representing the REST resource this object represents."},
	{"metadata", "ObjectMeta", "Standard object's metadata."},
}

// explainSchema explains a custom resource, or a field under it, from its
// definition's schema (path "" for the kind itself).
func explainSchema(w io.Writer, k *scheme.Kind, root *structuralschema.Structural, path string, recursive bool) error {
	if root == nil {
		root = &structuralschema.Structural{Generic: structuralschema.Generic{Type: "object"}}
	}
	node, name := root, ""
	if path != "" {
		for _, seg := range strings.Split(path, ".") {
			next := fields(node)
			child, ok := next[seg]
			if !ok {
				return fmt.Errorf("field %q does not exist", seg)
			}
			node, name = child, seg
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GROUP:      %s\nKIND:       %s\nVERSION:    %s\n\n", k.Group, k.Kind, k.Version)
	if name != "" {
		fmt.Fprintf(&b, "FIELD: %s <%s>\n\n", name, schemaType(node))
	}
	doc := node.Description
	if doc == "" {
		doc = "<empty>"
	}
	b.WriteString("DESCRIPTION:\n")
	writeIndented(&b, doc, "    ")
	children := fields(node)
	top := path == ""
	if len(children) > 0 || top {
		b.WriteString("\nFIELDS:\n")
		if top {
			for _, f := range objectFields {
				if _, own := children[f.name]; own {
					continue
				}
				fmt.Fprintf(&b, "  %s\t<%s>\n", f.name, f.typ)
				if !recursive {
					writeIndented(&b, f.doc, "    ")
					b.WriteString("\n")
				}
			}
		}
		writeSchemaFields(&b, node, "  ", recursive)
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

// writeSchemaFields lists the fields of s in name order: with their
// descriptions, or (recursive) as a tree without them.
func writeSchemaFields(b *strings.Builder, s *structuralschema.Structural, indent string, recursive bool) {
	children := fields(s)
	names := make([]string, 0, len(children))
	for n := range children {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := children[n]
		req := ""
		if s.ValueValidation != nil && contains(s.ValueValidation.Required, n) {
			req = " -required-"
		}
		fmt.Fprintf(b, "%s%s\t<%s>%s\n", indent, n, schemaType(c), req)
		if recursive {
			writeSchemaFields(b, c, indent+"  ", true)
			continue
		}
		if c.Description != "" {
			writeIndented(b, c.Description, indent+"  ")
		}
		b.WriteString("\n")
	}
}

// fields are the named fields under s: an object's properties, those of
// an array's items, or of a map's values.
func fields(s *structuralschema.Structural) map[string]*structuralschema.Structural {
	for s != nil {
		switch {
		case len(s.Properties) > 0:
			out := make(map[string]*structuralschema.Structural, len(s.Properties))
			for n := range s.Properties {
				p := s.Properties[n]
				out[n] = &p
			}
			return out
		case s.Items != nil:
			s = s.Items
		case s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil:
			s = s.AdditionalProperties.Structural
		default:
			return nil
		}
	}
	return nil
}

// schemaType names a schema's type as kubectl explain does: string,
// integer, boolean, number, Object, []T, map[string]T.
func schemaType(s *structuralschema.Structural) string {
	switch {
	case s.XIntOrString:
		return "IntOrString"
	case s.Type == "array" && s.Items != nil:
		return "[]" + schemaType(s.Items)
	case s.Type == "object" && s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil:
		return "map[string]" + schemaType(s.AdditionalProperties.Structural)
	case s.Type == "object":
		return "Object"
	case s.Type == "":
		return "Object"
	}
	return s.Type
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
