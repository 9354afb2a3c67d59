package apiserver

import (
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheme"
)

// TestWithVersionDecodesAsStampedObject: for every kind, the stored
// encoding followed by withVersion's suffix decodes to the object with its
// resourceVersion set, and nothing else changed.
func TestWithVersionDecodesAsStampedObject(t *testing.T) {
	if f := (&metav1.ObjectMeta{}).ProtoReflect().Descriptor().Fields().ByName("resource_version"); f.Number() != resourceVersionField {
		t.Fatalf("ObjectMeta.resource_version is field %d, withVersion writes %d", f.Number(), resourceVersionField)
	}
	for _, k := range scheme.All() {
		obj := k.New()
		m := scheme.Meta(obj)
		m.Name, m.Namespace, m.Uid = "x", "ns", "u-1"
		m.Labels = map[string]string{"app": "web"}
		if pod, ok := obj.(*corev1.Pod); ok {
			pod.Spec = &corev1.PodSpec{NodeName: "n1", Containers: []*corev1.Container{{Name: "c", Image: "i"}}}
		}
		stored, err := proto.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		for _, rev := range []int64{1, 42, 1 << 40} {
			got := k.New()
			if err := proto.Unmarshal(withVersion(stored, rev), got); err != nil {
				t.Fatalf("%s: %v", k.Kind, err)
			}
			want := proto.Clone(obj)
			scheme.Meta(want).ResourceVersion = strconv.FormatInt(rev, 10)
			if !proto.Equal(got, want) {
				t.Fatalf("%s at %d:\n got %v\nwant %v", k.Kind, rev, got, want)
			}
		}
		// A stale version in the stored bytes is overridden, not kept.
		m.ResourceVersion = "7"
		stale, _ := proto.Marshal(obj)
		got := k.New()
		if err := proto.Unmarshal(withVersion(stale, 9), got); err != nil || scheme.Meta(got).ResourceVersion != "9" {
			t.Fatalf("%s: stamped over a stored version: %v, %v", k.Kind, scheme.Meta(got).ResourceVersion, err)
		}
	}
}
