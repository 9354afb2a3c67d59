package validation_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/registry"
	_ "keel.dev/keel/pkg/registry/all"
)

// maxFuzzMessage bounds the encodings the fuzz target decodes: the
// apiserver refuses larger requests long before validation.
const maxFuzzMessage = 64 << 10

// FuzzValidate decodes two arbitrary encodings as objects of one registered
// kind (named by the first argument; any other string picks a kind by its
// length) and runs what the apiserver and keelctl run on objects of the
// kind, through its registry strategy: defaulting, validation as a create,
// an update and a status update, deletion's hooks, the table row and the
// describe text. Nothing may panic; defaulting twice must change nothing
// the first time did not; and an update to an identical object may fail
// only where the create does.
//
// The seeds (testdata/fuzz/FuzzValidate) are the examples under
// manifests/examples and the valid object of each kind in this package's
// fixtures, encoded, each with a changed copy as the old object.
func FuzzValidate(f *testing.F) {
	strategies := registry.All()
	for _, s := range strategies {
		f.Add(s.Info().Kind, []byte{}, []byte{})
	}
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, kind string, data, oldData []byte) {
		if len(data) > maxFuzzMessage || len(oldData) > maxFuzzMessage {
			t.Skip("messages over maxFuzzMessage are left out: validation is linear in its input, and large ones only slow the fuzzer")
		}
		s := strategies[len(kind)%len(strategies)]
		for _, c := range strategies {
			if c.Info().Kind == kind {
				s = c
			}
		}
		k := s.Info()
		obj, old := k.New(), k.New()
		if proto.Unmarshal(data, obj) != nil || proto.Unmarshal(oldData, old) != nil {
			return
		}
		s.Default(obj)
		s.Default(old)
		again := proto.Clone(obj)
		s.Default(again)
		if !proto.Equal(again, obj) {
			t.Fatalf("defaulting a defaulted %s changed it", k.Kind)
		}
		created := registry.ValidateCreate(obj)
		upd := proto.Clone(obj)
		s.PrepareForUpdate(upd, old)
		registry.ValidateUpdate(upd, old)
		registry.ValidateStatusUpdate(obj, old)
		// An update that changes nothing breaks no immutability rule: its
		// errors are the create's, and a missing resourceVersion.
		known := map[string]bool{"metadata.resourceVersion": true}
		for _, e := range created {
			known[e.Field] = true
		}
		same := proto.Clone(obj)
		s.PrepareForUpdate(same, obj)
		for _, e := range registry.ValidateUpdate(same, obj) {
			if !known[e.Field] {
				t.Fatalf("updating a %s to itself: %v", k.Kind, e)
			}
		}
		registry.ValidateStatusUpdate(obj, proto.Clone(obj))

		s.GracePeriod(obj, nil)
		s.HoldsDeletion(obj)
		s.PrepareForDelete(proto.Clone(obj))
		if k.CreateOnly {
			return // never stored, listed or described
		}
		if row := s.Row(obj, now); len(row) != len(s.Columns()) {
			t.Fatalf("%s row has %d cells for %d columns", k.Kind, len(row), len(s.Columns()))
		}
		s.Related(obj)
		s.Describe(registry.DescribeInput{Object: obj, Now: now, Location: time.UTC})
	})
}
