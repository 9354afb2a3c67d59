package manifest_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// maxFuzzInput bounds the inputs the fuzz targets decode. Deeply nested
// documents are bounded separately (a nesting-depth limit); this keeps the
// fuzzer from spending its time on inputs whose cost is only their size.
const maxFuzzInput = 64 << 10

// FuzzDecode feeds arbitrary files (YAML, JSON, several documents, Lists)
// to Decode. It must not panic; an error must say something; and whatever
// decodes must survive MarshalYAML and MarshalJSON and decode back to the
// same message. Seeds: testdata/fuzz/FuzzDecode (the examples under
// manifests/examples as YAML and JSON, multi-document files, Lists).
func FuzzDecode(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"dev"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			t.Skip("inputs over maxFuzzInput are left out: the depth and size limits have their own tests")
		}
		objs, err := manifest.Decode("fuzz.yaml", data)
		if err != nil {
			if objs != nil {
				t.Fatalf("Decode returned objects with error %v", err)
			}
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the source: %v", err)
			}
			return
		}
		for _, o := range objs {
			if o.Kind == nil || o.Message == nil {
				t.Fatalf("object without kind or message: %+v", o)
			}
			checkRoundTrip(t, o.Kind, o.Message)
		}
	})
}

// FuzzDecodeInto decodes arbitrary bytes into a message of one of the
// registered kinds, named by the first argument (any other string picks a
// kind by its length). It must not panic, and what decodes must round-trip.
func FuzzDecodeInto(f *testing.F) {
	f.Add("Namespace", []byte(`{"metadata":{"name":"a","labels":{"app":"x"}}}`))
	f.Add("Pod", []byte("kind: Pod\nspec:\n  containers:\n  - name: c\n    resources:\n      limits: {cpu: 250m}\n"))
	kinds := scheme.All()
	f.Fuzz(func(t *testing.T, kind string, data []byte) {
		if len(data) > maxFuzzInput {
			t.Skip("inputs over maxFuzzInput are left out: the depth and size limits have their own tests")
		}
		k := kinds[len(kind)%len(kinds)]
		for _, c := range kinds {
			if c.Kind == kind {
				k = c
			}
		}
		m := k.New()
		if err := manifest.DecodeInto(data, m); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		checkRoundTrip(t, k, m)
	})
}

// checkRoundTrip asserts that m, a decoded object, encodes as YAML and as
// JSON and decodes back to itself (timestamps compared at seconds
// precision, which is what the encoders render).
func checkRoundTrip(t *testing.T, k *scheme.Kind, m proto.Message) {
	t.Helper()
	want := proto.Clone(m)
	truncateTimestamps(want.ProtoReflect())
	y, err := manifest.MarshalYAML(m)
	if err != nil {
		t.Fatalf("MarshalYAML of a decoded %s: %v", k.Kind, err)
	}
	back, err := manifest.Decode("roundtrip.yaml", y)
	if err != nil {
		t.Fatalf("decoding MarshalYAML's output:\n%s\n%v", y, err)
	}
	if len(back) != 1 || !proto.Equal(back[0].Message, want) {
		t.Fatalf("YAML round trip of %s changed it:\n%s", k.Kind, y)
	}
	j, err := manifest.MarshalJSON(m)
	if err != nil {
		t.Fatalf("MarshalJSON of a decoded %s: %v", k.Kind, err)
	}
	got := k.New()
	if err := manifest.DecodeInto(j, got); err != nil {
		t.Fatalf("decoding MarshalJSON's output:\n%s\n%v", j, err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("JSON round trip of %s changed it:\n%s", k.Kind, j)
	}
}

// truncateTimestamps drops the fractional seconds of every timestamp in m.
func truncateTimestamps(m protoreflect.Message) {
	if ts, ok := m.Interface().(*timestamppb.Timestamp); ok {
		ts.Nanos = 0
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil {
			return true
		}
		switch {
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				truncateTimestamps(v.List().Get(i).Message())
			}
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, e protoreflect.Value) bool {
					truncateTimestamps(e.Message())
					return true
				})
			}
		default:
			truncateTimestamps(v.Message())
		}
		return true
	})
}
