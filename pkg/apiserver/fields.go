package apiserver

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"k8s.io/apimachinery/pkg/fields"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// selectable is one field selector label and where its value sits in the
// kind's encoding: every step but the last a singular message field.
type selectable struct {
	label string
	path  []protoreflect.FieldDescriptor
}

// resolveFields finds each label's path in md; an unknown field or one
// that is not a singular string, bool or message is a programming error.
func resolveFields(md protoreflect.MessageDescriptor, labels []string) []selectable {
	var out []selectable
	for _, label := range labels {
		s := selectable{label: label}
		m := md
		for i, part := range strings.Split(label, ".") {
			fd := m.Fields().ByJSONName(part)
			if fd == nil || fd.Cardinality() == protoreflect.Repeated {
				panic(fmt.Sprintf("apiserver: %s has no singular field %s", md.FullName(), label))
			}
			s.path = append(s.path, fd)
			last := i == strings.Count(label, ".")
			switch {
			case !last && fd.Kind() == protoreflect.MessageKind:
				m = fd.Message()
			case last && (fd.Kind() == protoreflect.StringKind || fd.Kind() == protoreflect.BoolKind):
			default:
				panic(fmt.Sprintf("apiserver: field selector %s of %s is not a string or bool", label, md.FullName()))
			}
		}
		out = append(out, s)
	}
	return out
}

// scanObject reads what the watch cache indexes from a stored encoding
// without decoding the whole object: the metadata, and the value of each
// selectable field (its zero value when absent). Repeated occurrences of a
// field follow protobuf's rules: messages merge, the last scalar wins.
func scanObject(b []byte, sel []selectable) (*metav1.ObjectMeta, fields.Set, error) {
	meta := &metav1.ObjectMeta{}
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != metadataField {
			return nil
		}
		if typ != protowire.BytesType {
			return fmt.Errorf("metadata is not a message")
		}
		return proto.UnmarshalOptions{Merge: true}.Unmarshal(v, meta)
	})
	if err != nil {
		return nil, nil, err
	}
	set := fields.Set{"metadata.name": meta.GetName(), "metadata.namespace": meta.GetNamespace()}
	for _, s := range sel {
		v, found, err := scalarAt(b, s.path)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", s.label, err)
		}
		if !found && s.path[len(s.path)-1].Kind() == protoreflect.BoolKind {
			v = "false"
		}
		set[s.label] = v
	}
	return meta, set, nil
}

// scalarAt returns the value at path in the encoding b, and whether it is
// set.
func scalarAt(b []byte, path []protoreflect.FieldDescriptor) (string, bool, error) {
	fd := path[0]
	var out string
	var found bool
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != fd.Number() {
			return nil
		}
		switch {
		case len(path) > 1:
			if typ != protowire.BytesType {
				return fmt.Errorf("%s is not a message", fd.JSONName())
			}
			s, ok, err := scalarAt(v, path[1:])
			if err != nil {
				return err
			}
			if ok {
				out, found = s, true
			}
		case fd.Kind() == protoreflect.StringKind && typ == protowire.BytesType:
			out, found = string(v), true
		case fd.Kind() == protoreflect.BoolKind && typ == protowire.VarintType:
			x, _ := protowire.ConsumeVarint(v)
			out, found = strconv.FormatBool(protowire.DecodeBool(x)), true
		default:
			return fmt.Errorf("%s has wire type %d", fd.JSONName(), typ)
		}
		return nil
	})
	return out, found, err
}

// eachField calls f with every top-level field of the encoding b: for a
// length-delimited field v is its content, else its raw value.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		v := b[:n]
		if typ == protowire.BytesType {
			v, _ = protowire.ConsumeBytes(v)
		}
		if err := f(num, typ, v); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
