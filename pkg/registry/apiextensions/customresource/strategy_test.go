package customresource_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiextv1 "keel.dev/keel/pkg/apis/apiextensions/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/registry"
	_ "keel.dev/keel/pkg/registry/all"
	"keel.dev/keel/pkg/registry/apiextensions/customresource"
)

const widgetsCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color, priority: 1}
    schema:
      openAPIV3Schema:
        type: object
        required: [spec]
        properties:
          spec:
            type: object
            required: [color]
            x-kubernetes-validations:
            - {rule: "self.size % 2 == 0", message: "size must be even"}
            - {rule: "self.color == oldSelf.color", message: "color is immutable"}
            properties:
              color: {type: string, enum: [red, blue]}
              size: {type: integer, minimum: 2, maximum: 8, default: 4}
              name: {type: string, pattern: '^[a-z]+$', maxLength: 5}
              labels:
                type: object
                x-kubernetes-preserve-unknown-fields: true
          status:
            type: object
            properties:
              ready: {type: boolean}
  - name: v2
    served: true
    storage: false
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

func strategies(t *testing.T) []registry.Strategy {
	t.Helper()
	objs, err := manifest.Decode("crd.yaml", []byte(widgetsCRD))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := customresource.Strategies(objs[0].Message.(*apiextv1.CustomResourceDefinition))
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func gadget(spec string) *apiextv1.CustomResource {
	cr := &apiextv1.CustomResource{Metadata: &metav1.ObjectMeta{Name: "g", Namespace: "default"}, ApiVersion: "example.com/v1", Kind: "Gadget"}
	if spec != "" {
		cr.Spec = &metav1.RawExtension{Raw: []byte(spec)}
	}
	return cr
}

// TestStrategies: one kind per served version, the storage one first,
// each knowing its storage kind.
func TestStrategies(t *testing.T) {
	ss := strategies(t)
	if len(ss) != 2 {
		t.Fatalf("%d strategies, want 2", len(ss))
	}
	v1, v2 := ss[0].Info(), ss[1].Info()
	if v1.APIVersion() != "example.com/v1" || v2.APIVersion() != "example.com/v2" || v2.StorageKind() != v1 || v1.StorageKind() != v1 {
		t.Errorf("kinds %s (storage %s), %s (storage %s)", v1.APIVersion(), v1.StorageKind().APIVersion(), v2.APIVersion(), v2.StorageKind().APIVersion())
	}
	if !v1.Dynamic || !v1.Namespaced || v1.Resource != "gadgets" || !ss[0].HasStatus() || ss[1].HasStatus() {
		t.Errorf("v1 kind %+v", v1)
	}
	if got := v1.TypeURL(); got != "apis.keel.dev/example.com/v1/Gadget/keel.apiextensions.v1.CustomResource" {
		t.Errorf("type URL %s", got)
	}
	if cr := v2.New().(*apiextv1.CustomResource); cr.GetApiVersion() != "example.com/v2" || cr.GetKind() != "Gadget" {
		t.Errorf("New: %v", cr)
	}
}

// TestNormalizePrunesAndDefaults: unknown fields go (but under
// x-kubernetes-preserve-unknown-fields), defaults are set.
func TestNormalizePrunesAndDefaults(t *testing.T) {
	s := strategies(t)[0].(*customresource.Strategy)
	cr := gadget(`{"color":"red","extra":1,"labels":{"kept":true}}`)
	cr.Status = &metav1.RawExtension{Raw: []byte(`{"ready":true,"other":"x"}`)}
	s.Normalize(cr)
	if got, want := string(cr.GetSpec().GetRaw()), `{"color":"red","labels":{"kept":true},"size":4}`; got != want {
		t.Errorf("spec %s, want %s", got, want)
	}
	if got, want := string(cr.GetStatus().GetRaw()), `{"ready":true}`; got != want {
		t.Errorf("status %s, want %s", got, want)
	}
}

// TestEachVersionItsOwnSchema: whichever version's strategy is called,
// an object is pruned, defaulted and validated by its own version's
// schema (v2 preserves unknown fields, has no default, no rule).
func TestEachVersionItsOwnSchema(t *testing.T) {
	storage := strategies(t)[0].(*customresource.Strategy)
	cr := gadget(`{"extra":1}`)
	cr.ApiVersion = "example.com/v2"
	storage.Normalize(cr)
	if got, want := string(cr.GetSpec().GetRaw()), `{"extra":1}`; got != want {
		t.Errorf("v2 object normalized: spec %s, want %s", got, want)
	}
	if errs := storage.Validate(cr); len(errs) != 0 {
		t.Errorf("v2 object validated by v1's schema: %v", errs)
	}
	cr.ApiVersion = "example.com/v1"
	storage.Normalize(cr)
	if got, want := string(cr.GetSpec().GetRaw()), `{"size":4}`; got != want {
		t.Errorf("v1 object normalized: spec %s, want %s", got, want)
	}
	if errs := storage.Validate(cr); len(errs) == 0 {
		t.Errorf("v1 object without color accepted")
	}
}

// TestPrune: the fields the schema does not know go, and are listed by
// path; what it keeps stays; nothing goes for a version without a schema
// of fields.
func TestPrune(t *testing.T) {
	ss := strategies(t)
	cr := gadget(`{"color":"red","extra":1,"labels":{"kept":true}}`)
	cr.Status = &metav1.RawExtension{Raw: []byte(`{"ready":true,"other":"x"}`)}
	v2 := proto.Clone(cr).(*apiextv1.CustomResource)
	v2.ApiVersion = "example.com/v2"
	if got, want := strings.Join(ss[0].(*customresource.Strategy).Prune(cr), ","), "spec.extra,status.other"; got != want {
		t.Errorf("pruned %q, want %q", got, want)
	}
	if got, want := string(cr.GetSpec().GetRaw()), `{"color":"red","labels":{"kept":true}}`; got != want {
		t.Errorf("spec %s, want %s", got, want)
	}
	if got := ss[1].(*customresource.Strategy).Prune(v2); len(got) != 0 || !strings.Contains(string(v2.GetSpec().GetRaw()), "extra") {
		t.Errorf("v2 (preserves unknown fields): pruned %v, spec %s", got, v2.GetSpec().GetRaw())
	}
}

// TestValidate: every failing field is reported with its path; CEL rules
// run when the schema holds, transition rules against the old object.
func TestValidate(t *testing.T) {
	s := strategies(t)[0]
	for _, tc := range []struct {
		name string
		spec string
		old  string
		want []string
	}{
		{"valid", `{"color":"red","size":4}`, "", nil},
		{"schema", `{"color":"green","size":10,"name":"Abcdefg"}`, "", []string{
			`spec.color: Unsupported value: "green"`, "spec.size: Invalid value: 10", "spec.name: Too long"}},
		{"pattern", `{"color":"red","name":"Ab1"}`, "", []string{`spec.name: Invalid value: "Ab1"`}},
		{"required", `{"size":4}`, "", []string{"spec.color: Required value"}},
		{"no spec", "", "", []string{"spec: Required value"}},
		{"wrong type", `{"color":"red","size":"four"}`, "", []string{"spec.size: Invalid value: \"string\""}},
		{"cel", `{"color":"red","size":3}`, "", []string{"spec: Invalid value: size must be even"}},
		{"cel transition", `{"color":"blue","size":4}`, `{"color":"red","size":4}`, []string{"color is immutable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errs []string
			cr := gadget(tc.spec)
			var l []error
			if tc.old == "" {
				for _, e := range s.Validate(cr) {
					l = append(l, e)
				}
			} else {
				for _, e := range s.ValidateUpdate(cr, gadget(tc.old)) {
					l = append(l, e)
				}
			}
			for _, e := range l {
				errs = append(errs, e.Error())
			}
			all := strings.Join(errs, "\n")
			if len(tc.want) == 0 && len(errs) > 0 {
				t.Fatalf("errors:\n%s", all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("no %q in:\n%s", w, all)
				}
			}
		})
	}
	cr := gadget(`{"color":"red","size":4}`)
	cr.Kind = "Other"
	if errs := s.Validate(cr); len(errs) != 1 || errs[0].Field != "kind" {
		t.Errorf("wrong kind: %v", errs)
	}
}

// TestColumns: NAME then the printer columns, wide ones marked.
func TestColumns(t *testing.T) {
	s := strategies(t)[0]
	cols := s.Columns()
	if len(cols) != 3 || cols[0].Name != "NAME" || cols[1].Name != "SIZE" || cols[2].Name != "COLOR" || !cols[2].Wide {
		t.Fatalf("columns %v", cols)
	}
	cr := gadget(`{"color":"red","size":4}`)
	cr.Metadata.CreationTimestamp = timestamppb.New(time.Unix(0, 0))
	if row := s.Row(cr, time.Unix(60, 0)); strings.Join(row, ",") != "g,4,red" {
		t.Errorf("row %v", row)
	}
	if row := s.Row(gadget(""), time.Unix(60, 0)); strings.Join(row, ",") != "g,<none>,<none>" {
		t.Errorf("row of an empty gadget %v", row)
	}
}

// TestSingleVersion: a definition of one version, whose schema,
// subresources and columns the internal form keeps on the spec as
// shared by every version, gets them all.
func TestSingleVersion(t *testing.T) {
	objs, err := manifest.Decode("crd.yaml", []byte(widgetsCRD[:strings.Index(widgetsCRD, "  - name: v2")]))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := customresource.Strategies(objs[0].Message.(*apiextv1.CustomResourceDefinition))
	if err != nil || len(ss) != 1 {
		t.Fatalf("%d strategies, %v", len(ss), err)
	}
	s := ss[0]
	if !s.HasStatus() {
		t.Error("no status subresource")
	}
	if len(s.Columns()) < 3 {
		t.Errorf("columns %v, want NAME, Size, Color…", s.Columns())
	}
	if errs := s.Validate(gadget(`{"color":"green","size":4}`)); len(errs) == 0 {
		t.Error("a color outside the enum was accepted: no schema")
	}
}

const bindingsCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: bindings.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: bindings, kind: Binding}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Role, type: string, jsonPath: .roleRef.name}
    schema:
      openAPIV3Schema:
        type: object
        required: [roleRef]
        properties:
          roleRef:
            type: object
            required: [name]
            properties:
              name: {type: string}
              kind: {type: string, default: Role}
          data:
            type: object
            additionalProperties: {type: string}
`

// TestTopLevelFields: top-level fields beyond spec and status are pruned,
// defaulted, validated and printed as the schema declares them, and a
// change to them bumps metadata.generation.
func TestTopLevelFields(t *testing.T) {
	objs, err := manifest.Decode("crd.yaml", []byte(bindingsCRD))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := customresource.Strategies(objs[0].Message.(*apiextv1.CustomResourceDefinition))
	if err != nil {
		t.Fatal(err)
	}
	s := ss[0].(*customresource.Strategy)
	cr := &apiextv1.CustomResource{Metadata: &metav1.ObjectMeta{Name: "b", Namespace: "default"}, ApiVersion: "example.com/v1", Kind: "Binding",
		Inline: map[string]*metav1.RawExtension{
			"roleRef": {Raw: []byte(`{"name":"admin","extra":1}`)},
			"data":    {Raw: []byte(`{"a":"b"}`)},
			"junk":    {Raw: []byte(`true`)},
		}}
	if got := strings.Join(s.Prune(proto.Clone(cr)), ","); got != "junk,roleRef.extra" {
		t.Errorf("pruned %q", got)
	}
	s.Normalize(cr)
	if len(cr.Inline) != 2 || string(cr.Inline["roleRef"].GetRaw()) != `{"kind":"Role","name":"admin"}` || string(cr.Inline["data"].GetRaw()) != `{"a":"b"}` {
		t.Errorf("normalized: %v", cr.Inline)
	}
	if errs := s.Validate(cr); len(errs) != 0 {
		t.Errorf("valid binding: %v", errs)
	}
	if row := s.Row(cr, time.Now()); strings.Join(row, ",") != "b,admin" {
		t.Errorf("row %v", row)
	}
	bad := proto.Clone(cr).(*apiextv1.CustomResource)
	bad.Inline["roleRef"] = &metav1.RawExtension{Raw: []byte(`{"kind":"Role"}`)}
	bad.Inline["data"] = &metav1.RawExtension{Raw: []byte(`{"a":1}`)}
	var paths []string
	for _, e := range s.Validate(bad) {
		paths = append(paths, e.Field)
	}
	if got := strings.Join(paths, ","); !strings.Contains(got, "roleRef.name") || !strings.Contains(got, "data.a") {
		t.Errorf("invalid binding: fields %q, want roleRef.name and data.a", got)
	}
	delete(bad.Inline, "roleRef")
	if errs := s.Validate(bad); len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), "roleRef: Required value") {
		t.Errorf("no roleRef: %v", errs)
	}

	next := proto.Clone(cr).(*apiextv1.CustomResource)
	next.Metadata.Generation = 1
	next.Inline["data"] = &metav1.RawExtension{Raw: []byte(`{"a":"c"}`)}
	s.PrepareForUpdate(next, cr)
	if next.Metadata.Generation != 2 {
		t.Errorf("generation %d after a change of data, want 2", next.Metadata.Generation)
	}
}

const templatesCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: templates.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: templates, kind: Template}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              tags:
                type: array
                x-kubernetes-list-type: set
                items: {type: string}
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name, protocol]
                items:
                  type: object
                  required: [name, protocol]
                  properties:
                    name: {type: string}
                    protocol: {type: string}
              template:
                type: object
                x-kubernetes-embedded-resource: true
                x-kubernetes-preserve-unknown-fields: true
`

// TestListTypesAndEmbeddedResources: x-kubernetes-list-type set and map
// refuse duplicates (every failing path), ratcheted on update as in
// Kubernetes; an x-kubernetes-embedded-resource needs apiVersion and kind
// and valid metadata, and loses its metadata's unknown fields.
func TestListTypesAndEmbeddedResources(t *testing.T) {
	objs, err := manifest.Decode("crd.yaml", []byte(templatesCRD))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := customresource.Strategies(objs[0].Message.(*apiextv1.CustomResourceDefinition))
	if err != nil {
		t.Fatal(err)
	}
	s := ss[0].(*customresource.Strategy)
	tmpl := func(spec string) *apiextv1.CustomResource {
		return &apiextv1.CustomResource{Metadata: &metav1.ObjectMeta{Name: "t", Namespace: "default"}, ApiVersion: "example.com/v1", Kind: "Template",
			Spec: &metav1.RawExtension{Raw: []byte(spec)}}
	}
	fields := func(spec string, old string) string {
		var errs []string
		cr := tmpl(spec)
		s.Normalize(cr)
		l := s.Validate(cr)
		if old != "" {
			l = s.ValidateUpdate(cr, tmpl(old))
		}
		for _, e := range l {
			errs = append(errs, e.Type.String()+" "+e.Field)
		}
		return strings.Join(errs, ",")
	}
	good := `{"tags":["a","b"],"ports":[{"name":"http","protocol":"TCP"},{"name":"http","protocol":"UDP"}],` +
		`"template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"app":"x"}},"spec":{}}}`
	if got := fields(good, ""); got != "" {
		t.Errorf("valid template: %s", got)
	}
	bad := `{"tags":["a","b","a"],"ports":[{"name":"http","protocol":"TCP"},{"name":"http","protocol":"TCP"}],` +
		`"template":{"metadata":{"name":"a/b"}}}`
	got := fields(bad, "")
	for _, want := range []string{"Duplicate value spec.tags[2]", "Duplicate value spec.ports[1]",
		"Required value spec.template.apiVersion", "Required value spec.template.kind", "Invalid value spec.template.metadata.name"} {
		if !strings.Contains(got, want) {
			t.Errorf("invalid template: no %q in %s", want, got)
		}
	}
	// Ratcheting: an update of an object whose lists were already
	// duplicated is not refused for them.
	dup := `{"tags":["a","a"]}`
	if got := fields(dup, dup); got != "" {
		t.Errorf("update of an already duplicated set: %s", got)
	}
	if got := fields(dup, `{"tags":["a"]}`); !strings.Contains(got, "Duplicate value spec.tags[1]") {
		t.Errorf("update that duplicates a set item: %q", got)
	}

	// The embedded resource's metadata is pruned of unknown fields.
	cr := tmpl(`{"template":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","bogus":1},"spec":{"x":1}}}`)
	if got := strings.Join(s.Prune(proto.Clone(cr)), ","); got != "spec.template.metadata.bogus" {
		t.Errorf("pruned %q", got)
	}
	s.Normalize(cr)
	if got := string(cr.GetSpec().GetRaw()); strings.Contains(got, "bogus") || !strings.Contains(got, `"x":1`) {
		t.Errorf("normalized spec %s", got)
	}
}

// TestSelectableFields: each version declares its own selectableFields;
// FieldSet gives every version's paths' values, as Kubernetes prints
// them, "" when absent.
func TestSelectableFields(t *testing.T) {
	crd := strings.Replace(bindingsCRD, "    additionalPrinterColumns:", "    selectableFields: [{jsonPath: .roleRef.name}, {jsonPath: .spec.replicas}, {jsonPath: .spec.on}]\n    additionalPrinterColumns:", 1)
	crd = strings.Replace(crd, "          data:", "          spec:\n            type: object\n            properties:\n              replicas: {type: integer}\n              on: {type: boolean}\n          data:", 1)
	objs, err := manifest.Decode("crd.yaml", []byte(crd))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := customresource.Strategies(objs[0].Message.(*apiextv1.CustomResourceDefinition))
	if err != nil {
		t.Fatal(err)
	}
	s := ss[0].(*customresource.Strategy)
	if got := strings.Join(s.SelectableFields(), ","); got != "roleRef.name,spec.replicas,spec.on" {
		t.Errorf("SelectableFields %q", got)
	}
	if got := strings.Join(s.IndexedFields(), ","); got != "roleRef.name,spec.on,spec.replicas" {
		t.Errorf("IndexedFields %q", got)
	}
	cr := &apiextv1.CustomResource{Metadata: &metav1.ObjectMeta{Name: "b"}, ApiVersion: "example.com/v1", Kind: "Binding",
		Spec:   &metav1.RawExtension{Raw: []byte(`{"replicas":3,"on":true}`)},
		Inline: map[string]*metav1.RawExtension{"roleRef": {Raw: []byte(`{"name":"admin"}`)}}}
	if got := s.FieldSet(cr); got["roleRef.name"] != "admin" || got["spec.replicas"] != "3" || got["spec.on"] != "true" || len(got) != 3 {
		t.Errorf("FieldSet %v", got)
	}
	cr.Spec = nil
	if got := s.FieldSet(cr); got["spec.replicas"] != "" || got["spec.on"] != "" {
		t.Errorf("FieldSet without spec %v", got)
	}
}
