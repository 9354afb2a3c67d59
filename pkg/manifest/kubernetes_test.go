package manifest_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"
	k8sapiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8sscheme "k8s.io/client-go/kubernetes/scheme"
	k8smetricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// TestKubernetesJSON checks that the JSON Keel serves is the JSON
// Kubernetes clients expect: for every registered kind, objects (each
// example manifest of the kind, as written and as defaulted, and a bare
// one for kinds without an example) encode to JSON that decodes
// strictly — an unknown field fails — into the matching k8s.io/api type,
// whose JSON decodes strictly back into the same Keel object.
func TestKubernetesJSON(t *testing.T) {
	// k8s.io/api's types, apiextensions-apiserver's and k8s.io/metrics'
	// (metrics-server's).
	k8sTypes := runtime.NewScheme()
	if err := k8sscheme.AddToScheme(k8sTypes); err != nil {
		t.Fatal(err)
	}
	if err := k8sapiextv1.AddToScheme(k8sTypes); err != nil {
		t.Fatal(err)
	}
	if err := k8smetricsv1beta1.AddToScheme(k8sTypes); err != nil {
		t.Fatal(err)
	}
	objs := map[*scheme.Kind][]proto.Message{}
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := manifest.Decode(f, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range decoded {
			defaulted := proto.Clone(o.Message)
			registry.For(o.Kind).Default(defaulted)
			objs[o.Kind] = append(objs[o.Kind], o.Message, defaulted)
		}
	}
	for _, k := range scheme.All() {
		if len(objs[k]) == 0 {
			bare := k.New()
			scheme.Meta(bare).Name = "bare"
			registry.For(k).Default(bare)
			objs[k] = append(objs[k], bare)
		}
	}
	for _, k := range scheme.All() {
		t.Run(k.Kind, func(t *testing.T) {
			gvk := schema.FromAPIVersionAndKind(k.APIVersion(), k.Kind)
			for _, obj := range objs[k] {
				typed, err := k8sTypes.New(gvk)
				if err != nil {
					t.Fatalf("k8s.io/api has no %s: %v", gvk, err)
				}
				js, err := manifest.MarshalJSON(obj)
				if err != nil {
					t.Fatal(err)
				}
				dec := json.NewDecoder(bytes.NewReader(js))
				dec.DisallowUnknownFields()
				if err := dec.Decode(typed); err != nil {
					t.Fatalf("Keel's JSON does not decode strictly into %T: %v\n%s", typed, err, js)
				}
				back, err := json.Marshal(typed)
				if err != nil {
					t.Fatal(err)
				}
				if f := notModelled[k.Kind]; f != "" {
					back = dropEmptyField(t, back, f)
				}
				got := k.New()
				if err := manifest.DecodeInto(back, got); err != nil {
					t.Fatalf("Kubernetes' JSON of %T does not decode into Keel's %s: %v\n%s", typed, k.Kind, err, back)
				}
				dropAddedEmpty(obj.ProtoReflect(), got.ProtoReflect())
				if diff := cmp.Diff(obj, got, protocmp.Transform()); diff != "" {
					t.Errorf("round trip through %T changed the object (-want +got):\n%s", typed, diff)
				}
			}
		})
	}
}

// notModelled names, by kind, a top-level field of Kubernetes' type that
// Keel's does not have and that Kubernetes writes, empty, into every
// object: CSINode's status holds only storageHealth, an alpha field of
// Kubernetes 1.37 (feature gate CSIVolumeHealth) that Keel does not
// implement.
var notModelled = map[string]string{"CSINode": "status"}

// dropEmptyField removes field from a JSON object if it is {}.
func dropEmptyField(t *testing.T, js []byte, field string) []byte {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(js, &obj); err != nil {
		t.Fatal(err)
	}
	if string(obj[field]) == "{}" {
		delete(obj, field)
	}
	out, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dropAddedEmpty clears, in got, the message fields that want lacks and
// that hold nothing (recursively): Kubernetes' Go types hold such structs
// (status, resources, a template's metadata) by value and always write
// them, as {}; a client reading Keel's JSON sees the same empty value.
func dropAddedEmpty(want, got protoreflect.Message) {
	got.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() || fd.IsMap() || fd.Message() == nil:
		case !want.Has(fd):
			if empty(v.Message()) {
				got.Clear(fd)
			}
		default:
			dropAddedEmpty(want.Get(fd).Message(), v.Message())
		}
		if fd.IsList() && fd.Message() != nil && want.Has(fd) && want.Get(fd).List().Len() == v.List().Len() {
			for i := range v.List().Len() {
				dropAddedEmpty(want.Get(fd).List().Get(i).Message(), v.List().Get(i).Message())
			}
		}
		return true
	})
}

// empty: m holds no field, or only message fields that are empty.
func empty(m protoreflect.Message) bool {
	ok := true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		ok = !fd.IsList() && !fd.IsMap() && fd.Message() != nil && empty(v.Message())
		return ok
	})
	return ok
}
