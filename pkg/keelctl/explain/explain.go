// Package explain holds keelctl explain: the fields of a kind, their types
// and their doc comments (from the .proto files, see pkg/apis/apidocs), in
// kubectl explain's layout.
package explain

import (
	"errors"
	"fmt"
	"io"
	"keel.dev/keel/pkg/manifest"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/reflect/protoreflect"

	"keel.dev/keel/pkg/apis/apidocs"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/scheme"
)

// NewExplainCommand returns the "explain" command.
func NewExplainCommand(c *cmdutil.CLI) *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "explain TYPE[.FIELD.PATH]",
		Short: "Describe the fields of a resource type",
		Long: `Describe a resource type, or one of its fields: its type, its documentation
and the fields under it. Field paths use the manifest (JSON) names.`,
		Example: `  keelctl explain pods
  keelctl explain deployment.spec.template.spec.containers
  keelctl explain pod.spec --recursive`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			typ, _, _ := strings.Cut(args[0], ".")
			if _, err := lookup(typ); err != nil && typ != "" {
				// Not a compiled-in kind: maybe a custom resource.
				if _, err := c.KindOf(cmd.Context(), typ); err != nil {
					return err
				}
			}
			return Explain(c.Out, args[0], recursive)
		},
	}
	cmd.Flags().BoolVar(&recursive, "recursive", false, "list every field under the one explained, without descriptions")
	return cmd
}

// Explain writes the explanation of path ("TYPE" or "TYPE.field.path").
func Explain(w io.Writer, path string, recursive bool) error {
	typ, rest, _ := strings.Cut(path, ".")
	k, err := lookup(typ)
	if err != nil {
		return err
	}
	if k.Dynamic {
		// A custom resource at its preferred version, as kubectl explains it.
		for _, p := range cmdutil.PreferredCustomKinds() {
			if p.StorageKind() == k.StorageKind() {
				k = p
			}
		}
		first, _, _ := strings.Cut(rest, ".")
		if st, ok := k.Behaviour.(schemaOf); ok && first != "metadata" && first != "apiVersion" && first != "kind" {
			return explainSchema(w, k, st.Schema(), rest, recursive)
		}
	}
	md := k.Message.ProtoReflect().Descriptor()
	var field protoreflect.FieldDescriptor
	if rest != "" {
		for _, name := range strings.Split(rest, ".") {
			if md == nil {
				return fmt.Errorf("field %q does not exist", name)
			}
			fd := md.Fields().ByJSONName(name)
			if fd == nil {
				return fmt.Errorf("field %q does not exist", name)
			}
			field, md = fd, fd.Message()
			if fd.IsMap() {
				md = nil
				if v := fd.MapValue(); v.Message() != nil {
					md = v.Message()
				}
			}
			if md != nil && isScalarMessage(md) {
				md = nil
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GROUP:      %s\n", k.Group)
	if k.Group == "" {
		b.Reset()
	}
	fmt.Fprintf(&b, "KIND:       %s\nVERSION:    %s\n\n", k.Kind, k.Version)
	var doc string
	if field != nil {
		fmt.Fprintf(&b, "FIELD: %s <%s>\n\n", field.JSONName(), typeName(field))
		doc = apidocs.Comment(field.FullName())
		if doc == "" && md != nil {
			doc = apidocs.Comment(md.FullName())
		}
	} else {
		doc = apidocs.Comment(md.FullName())
	}
	b.WriteString("DESCRIPTION:\n")
	if doc == "" {
		doc = "<empty>"
	}
	writeIndented(&b, doc, "    ")
	if md != nil && md.Fields().Len() > 0 {
		b.WriteString("\nFIELDS:\n")
		if recursive {
			writeTree(&b, md, "  ", map[protoreflect.FullName]bool{md.FullName(): true})
		} else {
			fields := md.Fields()
			for i := 0; i < fields.Len(); i++ {
				fd := fields.Get(i)
				fmt.Fprintf(&b, "  %s\t<%s>\n", fd.JSONName(), typeName(fd))
				if d := apidocs.Comment(fd.FullName()); d != "" {
					writeIndented(&b, d, "    ")
				}
				b.WriteString("\n")
			}
		}
	}
	_, err = io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

// lookup finds the kind of a resource or kind name, in any case.
func lookup(typ string) (*scheme.Kind, error) {
	if k, err := cmdutil.LookupKind(typ); err == nil {
		return k, nil
	}
	for _, k := range scheme.All() {
		if strings.EqualFold(k.Kind, typ) {
			return k, nil
		}
	}
	for _, k := range scheme.Dynamic() {
		if k.StorageKind() == k && strings.EqualFold(k.Kind, typ) {
			return k, nil
		}
	}
	if typ == "" {
		return nil, errors.New("you must specify the type of resource to explain. Use \"keelctl api-resources\" for a complete list of supported resources")
	}
	return nil, fmt.Errorf("the server doesn't have a resource type %q", typ)
}

// writeTree lists the fields under md, indented by depth; a message type
// already on the path is not expanded again.
func writeTree(b *strings.Builder, md protoreflect.MessageDescriptor, indent string, onPath map[protoreflect.FullName]bool) {
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		fmt.Fprintf(b, "%s%s\t<%s>\n", indent, fd.JSONName(), typeName(fd))
		sub := fd.Message()
		if fd.IsMap() {
			sub = fd.MapValue().Message()
		}
		if sub == nil || isScalarMessage(sub) || onPath[sub.FullName()] {
			continue
		}
		onPath[sub.FullName()] = true
		writeTree(b, sub, indent+"  ", onPath)
		delete(onPath, sub.FullName())
	}
}

func writeIndented(b *strings.Builder, text, indent string) {
	for _, l := range strings.Split(text, "\n") {
		if l == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString(indent + l + "\n")
	}
}

// isScalarMessage reports the message types a manifest writes as a scalar.
func isScalarMessage(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "keel.meta.v1.Time", "keel.meta.v1.IntOrString", "keel.meta.v1.Quantity":
		return true
	}
	return strings.HasPrefix(string(md.FullName()), "google.protobuf.")
}

// typeName is the field's type as kubectl explain writes it: string,
// integer, boolean, number, Object names, []T and map[string]T.
func typeName(fd protoreflect.FieldDescriptor) string {
	if fd.IsMap() {
		return "map[string]" + singleTypeName(fd.MapValue())
	}
	if fd.IsList() {
		return "[]" + singleTypeName(fd)
	}
	return singleTypeName(fd)
}

// singleTypeName names a message field's type by its message (times read
// as strings); scalars by their manifest type.
func singleTypeName(fd protoreflect.FieldDescriptor) string {
	if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
		return manifest.TypeName(fd)
	}
	switch md := fd.Message(); md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration":
		return "string"
	default:
		return string(md.Name())
	}
}
