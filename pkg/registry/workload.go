package registry

import (
	"google.golang.org/protobuf/reflect/protoreflect"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheme"
)

// Replicated fills in k, and returns it, what the kinds that keep
// spec.replicas copies of a pod template share (ReplicaSet,
// ReplicationController, Deployment, StatefulSet): metadata.generation
// tracking, the "all" category, watchers for the garbage collector, the
// scale subresource over spec.replicas, and `keelctl expose` by the
// object's selector and its template's container ports. selector and
// template read them from an object; T's message must have a "spec" with
// an optional int32 "replicas".
func Replicated[T scheme.Object](k *Kind[T], selector func(T) *metav1.LabelSelector, template func(T) *corev1.PodTemplateSpec) *Kind[T] {
	k.GenerationTracked = true
	k.CategoryNames = []string{"all"}
	k.Watchers.GarbageCollected = true
	k.ScaleReplicas = func(obj T) *int32 {
		spec, f := specReplicas(obj.ProtoReflect(), false)
		if !spec.IsValid() || !spec.Has(f) {
			return nil
		}
		n := int32(spec.Get(f).Int())
		return &n
	}
	k.SetReplicas = func(obj T, n int32) {
		spec, f := specReplicas(obj.ProtoReflect(), true)
		spec.Set(f, protoreflect.ValueOfInt32(n))
	}
	k.ExposeFunc = func(obj T) *Exposure {
		return PodTemplateExposure(selector(obj), template(obj).GetSpec())
	}
	return k
}

// specReplicas returns m's spec (made when mutable and unset; invalid when
// unset otherwise) and the replicas field of its message.
func specReplicas(m protoreflect.Message, mutable bool) (protoreflect.Message, protoreflect.FieldDescriptor) {
	sf := m.Descriptor().Fields().ByName("spec")
	rf := sf.Message().Fields().ByName("replicas")
	if mutable {
		return m.Mutable(sf).Message(), rf
	}
	return m.Get(sf).Message(), rf
}
