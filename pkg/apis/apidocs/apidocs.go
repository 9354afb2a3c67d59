// Package apidocs holds the doc comments of the API's .proto files, for
// keelctl explain. The generated Go descriptors do not carry comments, so
// hack/update-codegen.sh also writes descriptors.binpb, a descriptor set
// with source info, which is embedded here (and checked by make verify
// like the rest of the generated code).
package apidocs

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

//go:embed descriptors.binpb
var descriptorSet []byte

var (
	once     sync.Once
	comments map[protoreflect.FullName]string
)

// Comment returns the doc comment (the leading comment, each line trimmed,
// lines joined with newlines) of the message, field, enum or enum value
// named name, or "" if it has none.
func Comment(name protoreflect.FullName) string {
	once.Do(load)
	return comments[name]
}

func load() {
	comments = map[protoreflect.FullName]string{}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(descriptorSet, &set); err != nil {
		panic("apidocs: embedded descriptor set: " + err.Error()) // generated; make verify checks it
	}
	for _, f := range set.GetFile() {
		names := map[string]protoreflect.FullName{} // path key → full name
		pkg := protoreflect.FullName(f.GetPackage())
		var walk func(prefix []int32, parent protoreflect.FullName, msgs []*descriptorpb.DescriptorProto)
		walk = func(prefix []int32, parent protoreflect.FullName, msgs []*descriptorpb.DescriptorProto) {
			for i, m := range msgs {
				mp := append(append([]int32(nil), prefix...), int32(i))
				full := parent.Append(protoreflect.Name(m.GetName()))
				names[pathKey(mp)] = full
				for j, fd := range m.GetField() {
					names[pathKey(append(append([]int32(nil), mp...), 2, int32(j)))] = full.Append(protoreflect.Name(fd.GetName()))
				}
				for j, e := range m.GetEnumType() {
					ep := append(append([]int32(nil), mp...), 4, int32(j))
					enumNames(names, ep, full.Append(protoreflect.Name(e.GetName())), full, e)
				}
				walk(append(append([]int32(nil), mp...), 3), full, m.GetNestedType())
			}
		}
		walk([]int32{4}, pkg, f.GetMessageType())
		for i, e := range f.GetEnumType() {
			enumNames(names, []int32{5, int32(i)}, pkg.Append(protoreflect.Name(e.GetName())), pkg, e)
		}
		for _, loc := range f.GetSourceCodeInfo().GetLocation() {
			if c := loc.GetLeadingComments(); c != "" {
				if full, ok := names[pathKey(loc.GetPath())]; ok {
					comments[full] = clean(c)
				}
			}
		}
	}
}

// enumNames records the paths of enum e (at path p) and its values; values
// are scoped by the enum's parent, as in protobuf.
func enumNames(names map[string]protoreflect.FullName, p []int32, full, parent protoreflect.FullName, e *descriptorpb.EnumDescriptorProto) {
	names[pathKey(p)] = full
	for k, v := range e.GetValue() {
		names[pathKey(append(append([]int32(nil), p...), 2, int32(k)))] = parent.Append(protoreflect.Name(v.GetName()))
	}
}

func pathKey(p []int32) string { return fmt.Sprint(p) }

// clean trims each line of a comment and drops blank leading and trailing
// lines.
func clean(c string) string {
	lines := strings.Split(strings.TrimSpace(c), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}
