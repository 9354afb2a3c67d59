package manifest_test

import (
	"encoding/json"
	"reflect"
	"testing"

	apiextv1 "keel.dev/keel/pkg/apis/apiextensions/v1"
	"keel.dev/keel/pkg/manifest"
)

// TestInlineMembers: a custom resource's top-level members that no field
// names (data, rules, even one called "inline") decode into its inline
// map, none of them unknown, and encode back as members of the object
// itself, by ToMap, MarshalJSON and AppendJSON alike; null leaves one out.
func TestInlineMembers(t *testing.T) {
	in := `{"apiVersion":"example.com/v1","kind":"Thing","metadata":{"name":"a"},` +
		`"spec":{"x":1},"data":{"b":"c"},"rules":[1,2],"inline":"z","gone":null}`
	cr := &apiextv1.CustomResource{}
	if err := manifest.DecodeInto([]byte(in), cr); err != nil {
		t.Fatal(err)
	}
	if len(cr.GetInline()) != 3 || string(cr.GetInline()["data"].GetRaw()) != `{"b":"c"}` ||
		string(cr.GetInline()["rules"].GetRaw()) != `[1,2]` || string(cr.GetInline()["inline"].GetRaw()) != `"z"` {
		t.Fatalf("inline %v", cr.GetInline())
	}
	var want map[string]any
	if err := json.Unmarshal([]byte(in), &want); err != nil {
		t.Fatal(err)
	}
	delete(want, "gone")
	m, err := manifest.ToMap(cr)
	if err != nil {
		t.Fatal(err)
	}
	if got := roundJSON(t, m); !reflect.DeepEqual(got, want) {
		t.Errorf("ToMap: %v, want %v", got, want)
	}
	b, err := manifest.AppendJSON(nil, cr)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("AppendJSON wrote %s: %v", b, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AppendJSON: %s, want %v", b, want)
	}
	b, err = manifest.MarshalJSON(cr)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := json.Unmarshal(b, &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("MarshalJSON: %s (%v), want %v", b, err, want)
	}
	// A member a field has is the field's: an inline entry of that name
	// (only a gRPC client could send one) is not written.
	cr.Inline["spec"] = cr.Inline["data"]
	b, err = manifest.AppendJSON(nil, cr)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := json.Unmarshal(b, &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("AppendJSON with an inline spec: %s (%v), want %v", b, err, want)
	}
}

func roundJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
