package testutil

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protopath"
	"google.golang.org/protobuf/reflect/protorange"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// UnknownFieldNumber is the field number PlantUnknown uses; no Keel message
// has a field with it.
const UnknownFieldNumber = 9999

// PlantUnknown appends to each message a field its schema does not know, as
// a newer client would send.
func PlantUnknown(msgs ...proto.Message) {
	for _, m := range msgs {
		r := m.ProtoReflect()
		u := protowire.AppendTag(r.GetUnknown(), UnknownFieldNumber, protowire.BytesType)
		r.SetUnknown(protowire.AppendString(u, "from a newer client"))
	}
}

// UnknownFields lists the paths (".spec.containers[0]", "" for m itself) of
// the messages within m that carry unknown fields.
func UnknownFields(m proto.Message) []string {
	var paths []string
	_ = protorange.Range(m.ProtoReflect(), func(v protopath.Values) error {
		if msg, ok := v.Index(-1).Value.Interface().(protoreflect.Message); ok && len(msg.GetUnknown()) > 0 {
			paths = append(paths, v.Path[1:].String())
		}
		return nil
	})
	return paths
}
