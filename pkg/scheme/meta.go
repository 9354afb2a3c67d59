package scheme

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// Object is what every kind's message implements: generated code gives each
// top-level message a GetMetadata method.
type Object interface {
	proto.Message
	GetMetadata() *metav1.ObjectMeta
}

// Meta returns the object's metadata, creating an empty one first if unset,
// so callers may write through the returned pointer. Every kind's message has
// field 1 "metadata" of type keel.meta.v1.ObjectMeta.
func Meta(m proto.Message) *metav1.ObjectMeta {
	if o, ok := m.(Object); ok && o.GetMetadata() != nil {
		return o.GetMetadata()
	}
	r := m.ProtoReflect()
	f := r.Descriptor().Fields().ByName("metadata")
	if f == nil {
		panic("scheme: message has no metadata field: " + string(r.Descriptor().FullName()))
	}
	return r.Mutable(f).Message().Interface().(*metav1.ObjectMeta)
}

// Field returns a top-level message field of the object ("spec", "status"),
// or nil if the kind has no such field or it is unset.
func Field(m proto.Message, name protoreflect.Name) proto.Message {
	r := m.ProtoReflect()
	f := r.Descriptor().Fields().ByName(name)
	if f == nil || f.Message() == nil || !r.Has(f) {
		return nil
	}
	return r.Get(f).Message().Interface()
}

// SetField sets (or, with v nil, clears) a top-level field of the object
// from another object of the same kind: SetField(newObj, "status", oldObj)
// copies old's status into newObj, sharing the value.
func SetField(dst proto.Message, name protoreflect.Name, src proto.Message) {
	r := dst.ProtoReflect()
	f := r.Descriptor().Fields().ByName(name)
	if f == nil {
		return
	}
	s := src.ProtoReflect()
	if s.Has(f) {
		r.Set(f, s.Get(f))
	} else {
		r.Clear(f)
	}
}
