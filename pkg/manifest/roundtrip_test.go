package manifest_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// filler sets every field of a message, recursively to a bounded depth, with
// values chosen to stress the rendering: extreme integers, int64 beyond
// float64's exact range, strings YAML would otherwise read as other types,
// explicit zeros of optional fields, empty messages.
type filler struct {
	r        *rand.Rand
	maxDepth int
	fields   map[protoreflect.FullName]bool // every field set at least once
}

var trickyStrings = []string{
	"", "nginx:1.14.2", "yes", "no", "on", "true", "null", "~", "123", "0x1F", "1e3", "-", "- a",
	"a: b", "#c", "@x", "*y", "&z", "!t", "'q'", `"d"`, "multi\nline\n", " lead", "trail ", "ünï", "{a}", "[b]",
	"25%", "key=value", "---", "...", "tab\there", "\\", "0.5",
}

var quantities = []string{"250m", "64Mi", "1", "0.5", "1Gi", "100", "1e3", "2k"}

func (f *filler) str() string {
	if f.r.Intn(3) == 0 {
		return fmt.Sprintf("s-%d", f.r.Intn(1000))
	}
	return trickyStrings[f.r.Intn(len(trickyStrings))]
}

func (f *filler) scalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	r := f.r
	pick := func(vals ...int64) int64 { return vals[r.Intn(len(vals))] }
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(f.str())
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.Intn(4) != 0)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(pick(0, 1, -1, 80, math.MaxInt32, math.MinInt32, int64(r.Int31()))))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(pick(0, 1, -30, 1<<53+1, math.MaxInt64, math.MinInt64, r.Int63()))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(pick(0, 1, math.MaxUint32)))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64([]uint64{0, 1, math.MaxUint64, 1<<53 + 1}[r.Intn(4)])
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32([]float32{0, 1.5, -2.25, 3.4e38}[r.Intn(4)])
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64([]float64{0, 1.5, -1e300, 0.1}[r.Intn(4)])
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(r.Intn(vals.Len())).Number())
	case protoreflect.BytesKind:
		b := make([]byte, r.Intn(20))
		r.Read(b)
		return protoreflect.ValueOfBytes(b)
	}
	panic("unsupported kind " + fd.Kind().String())
}

// message fills m. Value types get values in their manifest spelling's
// domain (whole-second timestamps: manifests carry seconds precision).
func (f *filler) message(m protoreflect.Message, depth int) {
	desc := m.Descriptor()
	fields := desc.Fields()
	switch desc.FullName() {
	case "keel.meta.v1.Quantity":
		m.Set(fields.ByName("string"), protoreflect.ValueOfString(quantities[f.r.Intn(len(quantities))]))
		return
	case "keel.meta.v1.IntOrString":
		if f.r.Intn(2) == 0 {
			m.Set(fields.ByName("int_val"), f.scalar(fields.ByName("int_val")))
		} else {
			m.Set(fields.ByName("type"), protoreflect.ValueOfInt32(1))
			m.Set(fields.ByName("str_val"), protoreflect.ValueOfString(f.str()))
		}
		return
	case "google.protobuf.Timestamp":
		m.Set(fields.ByName("seconds"), protoreflect.ValueOfInt64(f.r.Int63n(253402300799))) // up to 9999-12-31
		return
	case "keel.meta.v1.RawExtension":
		// Canonical JSON (compact, keys sorted), as decoding writes it.
		raw, _ := json.Marshal(map[string]any{"spec": map[string]any{"n": f.r.Intn(1000), "s": f.str()}})
		m.Set(fields.ByName("raw"), protoreflect.ValueOfBytes(raw))
		f.fields[fields.ByName("raw").FullName()] = true
		return
	case "google.protobuf.Duration":
		m.Set(fields.ByName("seconds"), protoreflect.ValueOfInt64(f.r.Int63n(1e6)))
		m.Set(fields.ByName("nanos"), protoreflect.ValueOfInt32(f.r.Int31n(1e9)))
		return
	}
	if depth >= f.maxDepth {
		return // an empty (but set) message
	}
	// One member of each (real) oneof, chosen at random.
	chosen := map[protoreflect.FieldDescriptor]bool{}
	for i := 0; i < desc.Oneofs().Len(); i++ {
		if od := desc.Oneofs().Get(i); !od.IsSynthetic() {
			chosen[od.Fields().Get(f.r.Intn(od.Fields().Len()))] = true
		}
	}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && !chosen[fd] {
			continue
		}
		if f.r.Intn(8) == 0 {
			continue // leave some fields unset
		}
		f.fields[fd.FullName()] = true
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for n := 1 + f.r.Intn(2); n > 0; n-- {
				l.Append(f.element(fd, l.NewElement, depth))
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for n := 1 + f.r.Intn(2); n > 0; n-- {
				key := f.scalar(fd.MapKey()).MapKey()
				mp.Set(key, f.element(fd.MapValue(), mp.NewValue, depth))
			}
		case fd.Message() != nil:
			f.message(m.Mutable(fd).Message(), depth+1)
		case fd.HasPresence() && f.r.Intn(3) == 0:
			m.Set(fd, fd.Default()) // explicit zero of an optional field
		default:
			m.Set(fd, f.scalar(fd))
		}
	}
}

func (f *filler) element(fd protoreflect.FieldDescriptor, newValue func() protoreflect.Value, depth int) protoreflect.Value {
	if fd.Message() == nil {
		return f.scalar(fd)
	}
	v := newValue()
	f.message(v.Message(), depth+1)
	return v
}

// TestRoundTripAllKinds: for every registered kind, messages with every
// field set survive MarshalYAML→Decode and MarshalJSON→Decode unchanged.
func TestRoundTripAllKinds(t *testing.T) {
	kinds := scheme.All()
	if len(kinds) == 0 {
		t.Fatal("no kinds registered")
	}
	for _, k := range kinds {
		t.Run(k.Kind, func(t *testing.T) {
			f := &filler{r: rand.New(rand.NewSource(int64(len(k.Kind)))), maxDepth: 12, fields: map[protoreflect.FullName]bool{}}
			for i := 0; i < 25; i++ {
				m := k.New()
				f.message(m.ProtoReflect(), 0)
				roundTrip(t, m)
			}
			// Every field reachable from the kind was exercised.
			var missed []protoreflect.FullName
			walkFields(k.New().ProtoReflect().Descriptor(), map[protoreflect.FullName]bool{}, func(fd protoreflect.FieldDescriptor) {
				if !f.fields[fd.FullName()] {
					missed = append(missed, fd.FullName())
				}
			})
			if len(missed) > 0 {
				t.Errorf("fields never set: %v", missed)
			}
		})
	}
}

// walkFields calls fn for every field reachable from md, except inside the
// value types whose manifest form is a scalar.
func walkFields(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool, fn func(protoreflect.FieldDescriptor)) {
	switch md.FullName() {
	case "keel.meta.v1.Quantity", "keel.meta.v1.IntOrString", "google.protobuf.Timestamp", "google.protobuf.Duration":
		return
	}
	if seen[md.FullName()] {
		return
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		fn(fd)
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if fd.Message() != nil {
			walkFields(fd.Message(), seen, fn)
		}
	}
}

// TestTimestampPrecision: manifests carry timestamps with seconds precision
// in UTC, as Kubernetes renders metav1.Time.
func TestTimestampPrecision(t *testing.T) {
	k, _ := scheme.ByGVK("v1", "Namespace")
	m := k.New()
	if err := manifest.DecodeInto([]byte(`{"metadata": {"name": "a", "creationTimestamp": "2024-05-01T12:30:45.999+02:00"}}`), m); err != nil {
		t.Fatal(err)
	}
	md := scheme.Meta(m)
	eq(t, "nanos decoded", md.GetCreationTimestamp().GetNanos(), int32(999000000))
	obj, err := manifest.ToMap(m)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "rendered", obj["metadata"].(map[string]any)["creationTimestamp"], any("2024-05-01T10:30:45Z"))
	eq(t, "apiVersion", obj["apiVersion"], any("v1"))
	eq(t, "kind", obj["kind"], any("Namespace"))
	if _, ok := obj["spec"]; ok {
		t.Errorf("unset spec rendered: %v", obj)
	}
}
