package validation_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// maxFuzzMessage bounds the encodings the fuzz target decodes: the
// apiserver refuses larger requests long before validation.
const maxFuzzMessage = 64 << 10

// FuzzValidate decodes two arbitrary encodings as objects of one registered
// kind (named by the first argument; any other string picks a kind by its
// length), defaults them as the apiserver does, and validates them as a
// create, an update and a status update. Nothing may panic; defaulting
// twice must change nothing the first time did not; and an update to an
// identical object may fail only where the create does.
//
// The seeds (testdata/fuzz/FuzzValidate) are the examples under
// manifests/examples, encoded, with a changed copy as the old object.
func FuzzValidate(f *testing.F) {
	kinds := scheme.All()
	for _, k := range kinds {
		f.Add(k.Kind, []byte{}, []byte{})
	}
	f.Fuzz(func(t *testing.T, kind string, data, oldData []byte) {
		if len(data) > maxFuzzMessage || len(oldData) > maxFuzzMessage {
			t.Skip()
		}
		k := kinds[len(kind)%len(kinds)]
		for _, c := range kinds {
			if c.Kind == kind {
				k = c
			}
		}
		obj, old := k.New(), k.New()
		if proto.Unmarshal(data, obj) != nil || proto.Unmarshal(oldData, old) != nil {
			return
		}
		defaults.Apply(obj)
		defaults.Apply(old)
		again := proto.Clone(obj)
		defaults.Apply(again)
		if !proto.Equal(again, obj) {
			t.Fatalf("defaulting a defaulted %s changed it", k.Kind)
		}
		created := validation.ValidateCreate(obj)
		validation.ValidateUpdate(obj, old)
		// An update that changes nothing breaks no immutability rule: its
		// errors are the create's, and a missing resourceVersion.
		known := map[string]bool{"metadata.resourceVersion": true}
		for _, e := range created {
			known[e.Field] = true
		}
		for _, e := range validation.ValidateUpdate(obj, proto.Clone(obj)) {
			if !known[e.Field] {
				t.Fatalf("updating a %s to itself: %v", k.Kind, e)
			}
		}
		validation.ValidateStatusUpdate(obj, old)
		validation.ValidateStatusUpdate(obj, proto.Clone(obj))
	})
}
