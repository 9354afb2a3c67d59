package registry

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Check reports what a strategy lacks or gets wrong: identity, the hooks
// every kind must have (validation, table columns and row, describe;
// status validation for kinds with a status; both scale hooks or none),
// field selectors that do not name a singular string or bool field, and a
// row that does not fit the columns. Register panics on a strategy that
// fails it; the registry test runs it over every kind to list every
// problem at once.
func Check(s Strategy) error {
	var problems []string
	k := s.Info()
	if k.Kind == "" || k.Version == "" || k.Resource == "" {
		problems = append(problems, "identity needs Kind, Version and Resource")
	}
	if k.Resource != strings.ToLower(k.Resource) {
		problems = append(problems, fmt.Sprintf("resource %q is not lower case", k.Resource))
	}
	md := k.Message.ProtoReflect().Descriptor()
	if f := md.Fields().ByName("metadata"); f == nil || f.Number() != 1 {
		problems = append(problems, "the message lacks metadata as field 1")
	}
	for _, path := range s.SelectableFields() {
		if err := checkFieldPath(md, path); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if h, ok := s.(interface{ missingHooks() []string }); ok {
		for _, m := range h.missingHooks() {
			problems = append(problems, "no "+m)
		}
	}
	if cols := s.Columns(); len(cols) > 0 {
		if got := len(s.Row(k.New(), time.Time{})); got != len(cols) {
			problems = append(problems, fmt.Sprintf("a row has %d cells for %d columns", got, len(cols)))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("kind %s: %s", k.Kind, strings.Join(problems, "; "))
	}
	return nil
}

// checkFieldPath: path is a dotted path of JSON names through singular
// message fields, ending at a string or bool.
func checkFieldPath(md protoreflect.MessageDescriptor, path string) error {
	parts := strings.Split(path, ".")
	for i, part := range parts {
		fd := md.Fields().ByJSONName(part)
		if fd == nil || fd.Cardinality() == protoreflect.Repeated {
			return fmt.Errorf("field selector %s: no singular field %s", path, part)
		}
		if i < len(parts)-1 {
			if fd.Kind() != protoreflect.MessageKind {
				return fmt.Errorf("field selector %s: %s is not a message", path, part)
			}
			md = fd.Message()
		} else if fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.BoolKind {
			return fmt.Errorf("field selector %s is not a string or bool", path)
		}
	}
	return nil
}
