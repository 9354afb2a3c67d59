package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	apiextv1 "keel.dev/keel/pkg/apis/apiextensions/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// sprocketsCRD has two versions whose schemas differ: v1 (the storage
// version) defaults spec.size; v2 requires spec.color and bounds
// spec.size.
const sprocketsCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: sprockets.versions.example.com}
spec:
  group: versions.example.com
  scope: Namespaced
  names: {plural: sprockets, singular: sprocket, kind: Sprocket}
  versions:
  - name: v1
    served: true
    storage: true
    selectableFields: [{jsonPath: .spec.color}]
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, default: 3}
              color: {type: string}
  - name: v2
    served: true
    storage: false
    selectableFields: [{jsonPath: .spec.color}, {jsonPath: .spec.size}]
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [color]
            properties:
              size: {type: integer, maximum: 5}
              color: {type: string}
`

// TestCustomResourceVersionsHaveTheirOwnSchemas: with conversion None,
// each served version prunes, defaults and validates with its own schema
// (creates and updates through v2 are checked by v2's, through v1 by
// v1's, and only v1 defaults), and a read through either version returns
// the object with that apiVersion and nothing else changed.
func TestCustomResourceVersionsHaveTheirOwnSchemas(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	c := newRESTClient(t, s)
	c.want(201, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/yaml", sprocketsCRD)
	const v1 = "/apis/versions.example.com/v1/namespaces/default/sprockets"
	const v2 = "/apis/versions.example.com/v2/namespaces/default/sprockets"
	testutil.Eventually(t, 30*time.Second, "the sprockets resource is served", served(c, v2, 200))

	sprocket := func(version, name, spec string) string {
		return `{"apiVersion":"versions.example.com/` + version + `","kind":"Sprocket","metadata":{"name":"` + name + `"},"spec":` + spec + `}`
	}
	// v2's schema: color required, size at most 5; every failing path.
	r := c.do("POST", v2, "application/json", sprocket("v2", "bad", `{"size":9}`))
	if r.code != 422 || !strings.Contains(string(r.body), "spec.color") || !strings.Contains(string(r.body), "spec.size") {
		t.Errorf("create through v2 without color, size 9: %d %s", r.code, r.body)
	}
	// v1's schema has neither rule.
	big := c.want(201, "POST", v1, "application/json", sprocket("v1", "big", `{"size":9}`))
	if big["apiVersion"] != "versions.example.com/v1" || dig(big, "spec", "size") != 9.0 {
		t.Errorf("created through v1: %v", big)
	}
	// Only v1 defaults size.
	red := c.want(201, "POST", v1, "application/json", sprocket("v1", "red", `{"color":"red"}`))
	if dig(red, "spec", "size") != 3.0 {
		t.Errorf("created through v1: spec %v, want size defaulted to 3", red["spec"])
	}
	blue := c.want(201, "POST", v2, "application/json", sprocket("v2", "blue", `{"color":"blue"}`))
	if blue["apiVersion"] != "versions.example.com/v2" || dig(blue, "spec", "size") != nil {
		t.Errorf("created through v2: %v, want apiVersion v2 and no size", blue)
	}

	// Reads through either version: that apiVersion, the same content.
	if got := c.want(200, "GET", v2+"/red", "", ""); got["apiVersion"] != "versions.example.com/v2" || dig(got, "spec", "size") != 3.0 || dig(got, "spec", "color") != "red" {
		t.Errorf("red through v2: %v", got)
	}
	if got := c.want(200, "GET", v1+"/blue", "", ""); got["apiVersion"] != "versions.example.com/v1" || dig(got, "spec", "size") != nil || dig(got, "spec", "color") != "blue" {
		t.Errorf("blue through v1: %v", got)
	}
	list := c.want(200, "GET", v2, "", "")
	for _, it := range list["items"].([]any) {
		if it.(map[string]any)["apiVersion"] != "versions.example.com/v2" {
			t.Errorf("listed through v2: %v", it)
		}
	}

	// Updates are checked by the version they go through: big, valid at
	// v1, is refused through v2 until it fits v2's schema.
	got := c.want(200, "GET", v2+"/big", "", "")
	if r := c.do("PUT", v2+"/big", "application/json", string(mustJSON(t, got))); r.code != 422 || !strings.Contains(string(r.body), "spec.color") || !strings.Contains(string(r.body), "spec.size") {
		t.Errorf("update through v2 of an object v2 refuses: %d %s", r.code, r.body)
	}
	got["spec"] = map[string]any{"size": 4, "color": "green"}
	if upd := c.want(200, "PUT", v2+"/big", "application/json", string(mustJSON(t, got))); upd["apiVersion"] != "versions.example.com/v2" || dig(upd, "spec", "size") != 4.0 {
		t.Errorf("update through v2: %v", upd)
	}
	// A merge patch through v2 is checked by v2's schema too.
	if r := c.do("PATCH", v2+"/big", "application/merge-patch+json", `{"spec":{"size":6}}`); r.code != 422 || !strings.Contains(string(r.body), "spec.size") {
		t.Errorf("patch through v2 beyond v2's maximum: %d %s", r.code, r.body)
	}
	c.want(200, "PATCH", v1+"/big", "application/merge-patch+json", `{"spec":{"size":6}}`)

	// The gRPC API: a v2 object is checked by v2's schema; answers are
	// at the storage version, their type URL and apiVersion agreeing,
	// also when an update through v2 changes nothing.
	api := s.Client(pki.AdminName).API()
	ctx := context.Background()
	const v1URL = "apis.keel.dev/versions.example.com/v1/Sprocket/keel.apiextensions.v1.CustomResource"
	const v2URL = "apis.keel.dev/versions.example.com/v2/Sprocket/keel.apiextensions.v1.CustomResource"
	pack := func(cr *apiextv1.CustomResource, url string) *anypb.Any {
		b, err := proto.Marshal(cr)
		if err != nil {
			t.Fatal(err)
		}
		return &anypb.Any{TypeUrl: url, Value: b}
	}
	bad := &apiextv1.CustomResource{Metadata: &metav1.ObjectMeta{Name: "grpc"}, ApiVersion: "versions.example.com/v2", Kind: "Sprocket",
		Spec: &metav1.RawExtension{Raw: []byte(`{"size":9}`)}}
	_, err := api.Create(ctx, &apiv1.CreateRequest{Resource: "sprockets.versions.example.com", Namespace: "default", Object: pack(bad, v2URL)})
	if err = apierrors.FromStatus(err); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.color") {
		t.Errorf("gRPC create through v2 without color: %v", err)
	}
	a, err := api.Get(ctx, &apiv1.GetRequest{Resource: "sprockets.versions.example.com", Namespace: "default", Name: "blue"})
	if err != nil {
		t.Fatal(err)
	}
	cr := &apiextv1.CustomResource{}
	if err := a.UnmarshalTo(cr); err != nil {
		t.Fatal(err)
	}
	cr.ApiVersion = "versions.example.com/v2"
	a, err = api.Update(ctx, &apiv1.UpdateRequest{Resource: "sprockets.versions.example.com", Object: pack(cr, v2URL)})
	if err != nil {
		t.Fatalf("gRPC update through v2 that changes nothing: %v", err)
	}
	got = c.want(200, "GET", v1+"/blue", "", "")
	if err := a.UnmarshalTo(cr); err != nil || a.GetTypeUrl() != v1URL || cr.GetApiVersion() != "versions.example.com/v1" ||
		dig(got, "metadata", "resourceVersion") != cr.GetMetadata().GetResourceVersion() {
		t.Errorf("gRPC update answer: %s %v (%v)", a.GetTypeUrl(), cr, err)
	}

	// selectableFields: field selectors on the version's declared paths,
	// list and watch, through REST and kubectl.
	names := func(l map[string]any) string {
		var out []string
		for _, it := range l["items"].([]any) {
			out = append(out, dig(it.(map[string]any), "metadata", "name").(string))
		}
		return strings.Join(out, ",")
	}
	if got := names(c.want(200, "GET", v1+"?fieldSelector=spec.color%3Dred", "", "")); got != "red" {
		t.Errorf("v1 spec.color=red: %q", got)
	}
	if got := names(c.want(200, "GET", v2+"?fieldSelector=spec.size%3D3", "", "")); got != "red" {
		t.Errorf("v2 spec.size=3: %q", got)
	}
	if got := names(c.want(200, "GET", v2+"?fieldSelector=spec.color!%3Dred,spec.size%3D", "", "")); got != "blue" {
		t.Errorf("v2 spec.color!=red,spec.size=: %q", got)
	}
	if r := c.do("GET", v1+"?fieldSelector=spec.size%3D3", "", ""); r.code != 400 || !strings.Contains(string(r.body), `field label not supported for sprockets: \"spec.size\"`) {
		t.Errorf("v1 (which does not declare spec.size) spec.size=3: %d %s", r.code, r.body)
	}
	// A definition that changes its selectable fields keeps its objects,
	// indexed anew: v1 declares none any more, v2 spec.color alone.
	c.want(200, "PATCH", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/sprockets.versions.example.com", "application/json-patch+json",
		`[{"op":"remove","path":"/spec/versions/0/selectableFields"},{"op":"remove","path":"/spec/versions/1/selectableFields/1"}]`)
	testutil.Eventually(t, 30*time.Second, "v2 no longer selects by spec.size", served(c, v2+"?fieldSelector=spec.size%3D3", 400))
	if got := names(c.want(200, "GET", v2+"?fieldSelector=spec.color%3Dred", "", "")); got != "red" {
		t.Errorf("v2 spec.color=red after the definition's change: %q", got)
	}
	if r := c.do("GET", v1+"?fieldSelector=spec.color%3Dred", "", ""); r.code != 400 {
		t.Errorf("v1 spec.color=red after the definition's change: %d %s", r.code, r.body)
	}
	if got := names(c.want(200, "GET", v1, "", "")); got != "big,blue,red" {
		t.Errorf("objects after the definition's change: %q", got)
	}
	kubectl := kubectlAgainst(t, s)
	out, err := kubectl("", "get", "sprockets.v2.versions.example.com", "--field-selector", "spec.color=green", "-o", "name")
	if err != nil || out != "sprocket.versions.example.com/big\n" {
		t.Errorf("kubectl get --field-selector spec.color=green: %v %q", err, out)
	}
	// A watch sees only the objects the selector picks: a change of red,
	// then of blue, shows blue's first.
	rv := dig(c.want(200, "GET", v2, "", ""), "metadata", "resourceVersion").(string)
	req, _ := http.NewRequest("GET", c.base+v2+"?watch=true&allowWatchBookmarks=true&fieldSelector=spec.color%3Dblue&resourceVersion="+rv, nil)
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	c.want(200, "PATCH", v1+"/red", "application/merge-patch+json", `{"spec":{"size":1}}`)
	c.want(200, "PATCH", v1+"/blue", "application/merge-patch+json", `{"spec":{"size":2}}`)
	var ev struct {
		Type   string
		Object map[string]any
	}
	dec := json.NewDecoder(resp.Body)
	for ev.Type == "" || ev.Type == "BOOKMARK" {
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
	}
	if ev.Type != "MODIFIED" || dig(ev.Object, "metadata", "name") != "blue" || ev.Object["apiVersion"] != "versions.example.com/v2" {
		t.Errorf("first event of a watch of spec.color=blue: %s %v", ev.Type, ev.Object)
	}
}
