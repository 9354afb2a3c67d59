package openapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	gproto "google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/kube-openapi/pkg/spec3"
	kproto "k8s.io/kube-openapi/pkg/util/proto"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"keel.dev/keel/pkg/apiserver/openapi"
	"keel.dev/keel/pkg/apiserver/rest"
	"keel.dev/keel/pkg/registry"
	_ "keel.dev/keel/pkg/registry/all"
)

// get serves path from h and returns the answer.
func get(t *testing.T, h http.Handler, path, accept string) *http.Response {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// subresources are subresources beyond status and scale, as the
// apiserver serves them.
var subresources = []rest.Subresource{
	{Resource: "pods", Name: "binding", Version: "v1", Kind: "Binding", Verbs: []string{"create"}},
	{Resource: "pods", Name: "eviction", Group: "policy", Version: "v1", Kind: "Eviction", Verbs: []string{"create"}},
	{Resource: "pods", Name: "log", Version: "v1", Kind: "Pod", Verbs: []string{"get"}},
	{Resource: "certificatesigningrequests", Name: "approval", Group: "certificates.k8s.io", Version: "v1", Kind: "CertificateSigningRequest", Verbs: []string{"get", "patch", "update"}},
}

func handlers(t *testing.T) *openapi.Handlers {
	t.Helper()
	h, err := openapi.New(subresources)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// v2 fetches /openapi/v2 and parses it with kube-openapi.
func v2(t *testing.T) *spec.Swagger {
	t.Helper()
	resp := get(t, handlers(t).V2, "/openapi/v2", "application/json")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /openapi/v2: %d %s", resp.StatusCode, body)
	}
	var sw spec.Swagger
	if err := json.Unmarshal(body, &sw); err != nil {
		t.Fatalf("parsing /openapi/v2: %v", err)
	}
	return &sw
}

func TestV2Definitions(t *testing.T) {
	sw := v2(t)
	pod, ok := sw.Definitions["io.k8s.api.core.v1.Pod"]
	if !ok {
		t.Fatal("no io.k8s.api.core.v1.Pod definition")
	}
	gvk, _ := json.Marshal(pod.Extensions["x-kubernetes-group-version-kind"])
	if string(gvk) != `[{"group":"","kind":"Pod","version":"v1"}]` {
		t.Errorf("Pod's x-kubernetes-group-version-kind = %s", gvk)
	}
	if ref := refOf(pod.Properties["metadata"]); ref != "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" {
		t.Errorf("Pod's metadata refers to %q", ref)
	}
	podSpec := sw.Definitions["io.k8s.api.core.v1.PodSpec"]
	containers := podSpec.Properties["containers"]
	for ext, want := range map[string]string{
		"x-kubernetes-patch-strategy":  "merge",
		"x-kubernetes-patch-merge-key": "name",
		"x-kubernetes-list-type":       "map",
	} {
		if got, _ := containers.Extensions.GetString(ext); got != want {
			t.Errorf("PodSpec.containers %s = %q, want %q", ext, got, want)
		}
	}
	if ref := containers.Items.Schema.Ref.String(); ref != "#/definitions/io.k8s.api.core.v1.Container" {
		t.Errorf("PodSpec.containers items refer to %q", ref)
	}
	if !contains(podSpec.Required, "containers") {
		t.Errorf("PodSpec.required = %v, want containers among them", podSpec.Required)
	}
	ports := sw.Definitions["io.k8s.api.core.v1.Container"].Properties["ports"]
	if got, _ := ports.Extensions.GetString("x-kubernetes-patch-merge-key"); got != "containerPort" {
		t.Errorf("Container.ports merge key = %q, want containerPort", got)
	}
	for name, want := range map[string][2]string{
		"io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"string", "int-or-string"},
		"io.k8s.apimachinery.pkg.api.resource.Quantity":   {"string", ""},
		"io.k8s.apimachinery.pkg.apis.meta.v1.Time":       {"string", "date-time"},
	} {
		d, ok := sw.Definitions[name]
		if !ok || !d.Type.Contains(want[0]) || d.Format != want[1] {
			t.Errorf("%s = type %v format %q, want %s %q", name, d.Type, d.Format, want[0], want[1])
		}
	}
	if ref := refOf(sw.Definitions["io.k8s.api.apps.v1.RollingUpdateDeployment"].Properties["maxSurge"]); !strings.HasSuffix(ref, "IntOrString") {
		t.Errorf("RollingUpdateDeployment.maxSurge refers to %q", ref)
	}
	if mt, _ := sw.Definitions["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"].Extensions.GetString("x-kubernetes-map-type"); mt != "atomic" {
		t.Errorf("LabelSelector's x-kubernetes-map-type = %q, want atomic", mt)
	}
}

func TestV2DeploymentPaths(t *testing.T) {
	sw := v2(t)
	for path, ops := range map[string]map[string]string{
		"/apis/apps/v1/namespaces/{namespace}/deployments": {
			"get": "listAppsV1NamespacedDeployment", "post": "createAppsV1NamespacedDeployment", "delete": "deleteAppsV1CollectionNamespacedDeployment",
		},
		"/apis/apps/v1/namespaces/{namespace}/deployments/{name}": {
			"get": "readAppsV1NamespacedDeployment", "put": "replaceAppsV1NamespacedDeployment",
			"patch": "patchAppsV1NamespacedDeployment", "delete": "deleteAppsV1NamespacedDeployment",
		},
		"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status": {
			"get": "readAppsV1NamespacedDeploymentStatus", "put": "replaceAppsV1NamespacedDeploymentStatus", "patch": "patchAppsV1NamespacedDeploymentStatus",
		},
		"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale": {
			"get": "readAppsV1NamespacedDeploymentScale", "put": "replaceAppsV1NamespacedDeploymentScale", "patch": "patchAppsV1NamespacedDeploymentScale",
		},
		"/apis/apps/v1/deployments": {"get": "listAppsV1DeploymentForAllNamespaces"},
	} {
		item, ok := sw.Paths.Paths[path]
		if !ok {
			t.Errorf("no path %s", path)
			continue
		}
		byMethod := map[string]*spec.Operation{"get": item.Get, "put": item.Put, "post": item.Post, "delete": item.Delete, "patch": item.Patch}
		for method, op := range byMethod {
			want, ok := ops[method]
			switch {
			case !ok && op != nil:
				t.Errorf("%s %s: unexpected operation %s", method, path, op.ID)
			case ok && op == nil:
				t.Errorf("%s %s: missing, want %s", method, path, want)
			case ok && op.ID != want:
				t.Errorf("%s %s: operationId %s, want %s", method, path, op.ID, want)
			}
		}
	}
	patch := sw.Paths.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"].Patch
	if !contains(patch.Consumes, "application/strategic-merge-patch+json") || !contains(patch.Consumes, "application/apply-patch+yaml") {
		t.Errorf("patch consumes %v", patch.Consumes)
	}
	if action, _ := patch.Extensions.GetString("x-kubernetes-action"); action != "patch" {
		t.Errorf("patch's x-kubernetes-action = %q", action)
	}
	list := sw.Paths.Paths["/apis/apps/v1/namespaces/{namespace}/deployments"].Get
	if ref := list.Responses.StatusCodeResponses[200].Schema.Ref.String(); ref != "#/definitions/io.k8s.api.apps.v1.DeploymentList" {
		t.Errorf("list answers %q", ref)
	}
	var names []string
	for _, p := range list.Parameters {
		names = append(names, p.Name)
	}
	for _, want := range []string{"labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"} {
		if !contains(names, want) {
			t.Errorf("list parameters %v lack %s", names, want)
		}
	}
}

func TestV2Subresources(t *testing.T) {
	sw := v2(t)
	eviction := sw.Paths.Paths["/api/v1/namespaces/{namespace}/pods/{name}/eviction"].Post
	if eviction == nil || eviction.ID != "createCoreV1NamespacedPodEviction" {
		t.Fatalf("pods/eviction: %+v", eviction)
	}
	if ref := eviction.Parameters[0].Schema.Ref.String(); eviction.Parameters[0].In != "body" || ref != "#/definitions/io.k8s.api.policy.v1.Eviction" {
		t.Errorf("pods/eviction takes %s in %s", ref, eviction.Parameters[0].In)
	}
	gvk, _ := json.Marshal(eviction.Extensions["x-kubernetes-group-version-kind"])
	if string(gvk) != `{"group":"policy","kind":"Eviction","version":"v1"}` {
		t.Errorf("pods/eviction's x-kubernetes-group-version-kind = %s", gvk)
	}
	log := sw.Paths.Paths["/api/v1/namespaces/{namespace}/pods/{name}/log"].Get
	if log == nil || log.ID != "readCoreV1NamespacedPodLog" || !contains(log.Produces, "text/plain") || !log.Responses.StatusCodeResponses[200].Schema.Type.Contains("string") {
		t.Errorf("pods/log: %+v", log)
	}
	if _, ok := sw.Definitions["io.k8s.api.core.v1.Binding"]; !ok {
		t.Error("no Binding definition for pods/binding")
	}
	approval := sw.Paths.Paths["/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/approval"]
	if approval.Get == nil || approval.Put == nil || approval.Patch == nil || approval.Put.ID != "replaceCertificatesV1CertificateSigningRequestApproval" {
		t.Errorf("certificatesigningrequests/approval: %+v", approval)
	}
}

// TestEveryKind: every registered kind has its definition, its list's
// and paths; every reference resolves.
func TestEveryKind(t *testing.T) {
	sw := v2(t)
	for _, s := range registry.All() {
		k := s.Info()
		def := openapi.DefinitionName(k.Message.ProtoReflect().Descriptor())
		if _, ok := sw.Definitions[def]; !ok {
			t.Errorf("%s: no definition %s", k.Kind, def)
		}
		root := "/api/" + k.Version
		if k.Group != "" {
			root = "/apis/" + k.Group + "/" + k.Version
		}
		coll := root + "/" + k.Resource
		if k.Namespaced {
			coll = root + "/namespaces/{namespace}/" + k.Resource
		}
		item, ok := sw.Paths.Paths[coll]
		if k.Computed { // get and list only
			obj, ok2 := sw.Paths.Paths[coll+"/{name}"]
			if !ok || item.Get == nil || item.Post != nil || !ok2 || obj.Get == nil || obj.Put != nil || obj.Delete != nil {
				t.Errorf("%s: want list at %s and get at %s/{name}, nothing else", k.Kind, coll, coll)
			}
			continue
		}
		if !ok || item.Post == nil {
			t.Errorf("%s: no create at %s", k.Kind, coll)
		}
		if k.CreateOnly {
			continue
		}
		if _, ok := sw.Definitions[def+"List"]; !ok {
			t.Errorf("%s: no definition %sList", k.Kind, def)
		}
		if item, ok := sw.Paths.Paths[coll+"/{name}"]; !ok || item.Get == nil || item.Put == nil || item.Patch == nil || item.Delete == nil {
			t.Errorf("%s: %s/{name} lacks an operation", k.Kind, coll)
		}
		if _, ok := sw.Paths.Paths[coll+"/{name}/status"]; ok != s.HasStatus() {
			t.Errorf("%s: status path present %v, kind has status %v", k.Kind, ok, s.HasStatus())
		}
	}
	raw, _ := json.Marshal(sw)
	for _, ref := range refs(string(raw), `"$ref":"#/definitions/`) {
		if _, ok := sw.Definitions[ref]; !ok {
			t.Errorf("dangling reference to %s", ref)
		}
	}
}

// refs returns the names following each occurrence of prefix in doc.
func refs(doc, prefix string) []string {
	var out []string
	for _, part := range strings.Split(doc, prefix)[1:] {
		out = append(out, part[:strings.IndexByte(part, '"')])
	}
	return out
}

func refOf(s spec.Schema) string { return s.Ref.String() }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestV2Protobuf(t *testing.T) {
	resp := get(t, handlers(t).V2, "/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/com.github.proto-openapi.spec.v2.v1.0+protobuf" {
		t.Fatalf("protobuf /openapi/v2: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	etag := resp.Header.Get("Etag")
	r := httptest.NewRequest("GET", "/openapi/v2", nil)
	r.Header.Set("If-None-Match", etag)
	w := httptest.NewRecorder()
	handlers(t).V2.ServeHTTP(w, r)
	if etag == "" || w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match %s: %d, want 304", etag, w.Code)
	}
}

func TestV3(t *testing.T) {
	h := handlers(t)
	resp := get(t, h.V3, "/openapi/v3", "")
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&index); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"api/v1", "apis/apps/v1", "apis/rbac.authorization.k8s.io/v1"} {
		url := index.Paths[key].ServerRelativeURL
		if !strings.HasPrefix(url, "/openapi/v3/"+key+"?hash=") {
			t.Errorf("index entry %s = %q", key, url)
		}
	}
	resp = get(t, h.V3, index.Paths["apis/apps/v1"].ServerRelativeURL, "application/json")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, immutable" {
		t.Fatalf("GET %s: %d, Cache-Control %q", index.Paths["apis/apps/v1"].ServerRelativeURL, resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	var doc spec3.OpenAPI
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	dep, ok := doc.Components.Schemas["io.k8s.api.apps.v1.Deployment"]
	if !ok {
		t.Fatal("apps/v1 has no Deployment schema")
	}
	if _, ok := dep.Extensions["x-kubernetes-group-version-kind"]; !ok {
		t.Error("Deployment has no x-kubernetes-group-version-kind")
	}
	if _, ok := doc.Components.Schemas["io.k8s.api.core.v1.Pod"]; ok {
		t.Error("apps/v1 holds Pod, which no apps/v1 path refers to")
	}
	if _, ok := doc.Components.Schemas["io.k8s.api.core.v1.Container"]; !ok {
		t.Error("apps/v1 lacks Container, which a Deployment's template holds")
	}
	if p := doc.Paths.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]; p == nil || p.Patch == nil || p.Patch.OperationId != "patchAppsV1NamespacedDeployment" {
		t.Error("apps/v1 lacks patchAppsV1NamespacedDeployment")
	}
	raw, _ := json.Marshal(&doc)
	for _, ref := range refs(string(raw), `"$ref":"#/components/schemas/`) {
		if _, ok := doc.Components.Schemas[ref]; !ok {
			t.Errorf("dangling reference to %s", ref)
		}
	}
	if resp := get(t, h.V3, "/openapi/v3/apis/apps/v1?hash=stale", "application/json"); resp.StatusCode != http.StatusMovedPermanently {
		t.Errorf("a stale hash: %d, want 301", resp.StatusCode)
	}
}

// TestV2StrategicMerge: the protobuf document parses into the models
// kubectl apply builds its strategic merge patches from, and a patch of a
// Deployment's containers merges them by name, as the document says.
func TestV2StrategicMerge(t *testing.T) {
	resp := get(t, handlers(t).V2, "/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
	body, _ := io.ReadAll(resp.Body)
	var doc openapiv2.Document
	if err := gproto.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	models, err := kproto.NewOpenAPIData(&doc)
	if err != nil {
		t.Fatalf("kubectl's models of /openapi/v2: %v", err)
	}
	schema := models.LookupModel("io.k8s.api.apps.v1.Deployment")
	if schema == nil {
		t.Fatal("no model of io.k8s.api.apps.v1.Deployment")
	}
	original := `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:1"},{"name":"log","image":"log:1"}]}}}}`
	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"log","image":"log:2"}]}}}}`
	got, err := strategicpatch.StrategicMergePatchUsingLookupPatchMeta([]byte(original), []byte(patch), strategicpatch.NewPatchMetaFromOpenAPI(schema))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"spec":{"template":{"spec":{"containers":[{"image":"app:1","name":"app"},{"image":"log:2","name":"log"}]}}}}`
	if string(got) != want {
		t.Errorf("patched:\n%s\nwant\n%s", got, want)
	}
}

// TestV3ServerSideApplyTypes: the type converter New makes of the OpenAPI
// 3 schemas for server-side apply (structured-merge-diff) keys typed
// Deployments' containers by name.
func TestV3ServerSideApplyTypes(t *testing.T) {
	h, err := openapi.New(subresources)
	if err != nil {
		t.Fatal(err)
	}
	tc := h.TypeConverter
	deployment := func(containers ...string) *unstructured.Unstructured {
		var cs []any
		for _, c := range containers {
			cs = append(cs, map[string]any{"name": c, "image": c + ":1"})
		}
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "web"},
			"spec":     map[string]any{"template": map[string]any{"spec": map[string]any{"containers": cs}}}}}
	}
	if _, err := tc.ObjectToTyped(deployment("app", "log")); err != nil {
		t.Errorf("a Deployment: %v", err)
	}
	if _, err := tc.ObjectToTyped(deployment("app", "app")); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("a Deployment with two containers named app: got %v, want a duplicate key error", err)
	}
}
