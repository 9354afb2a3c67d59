package apiserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
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

// crontabCRD is Kubernetes' documentation example, with more of the
// schema's features: a pattern, bounds, a default, an enum, a CEL rule,
// the status and scale subresources and printer columns.
const crontabCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: "self.replicas <= self.maxReplicas"
              message: "replicas must not exceed maxReplicas"
            properties:
              cronSpec:
                type: string
                pattern: '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'
              image:
                type: string
              replicas:
                type: integer
                minimum: 1
                maximum: 10
                default: 1
              maxReplicas:
                type: integer
                default: 5
              mode:
                type: string
                enum: [fast, slow]
                description: How fast the job runs.
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    port: {type: integer}
          status:
            type: object
            properties:
              replicas:
                type: integer
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

const crontab = `apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: my-cron
spec:
  cronSpec: "* * * * */5"
  image: my-awesome-cron-image
  unknownField: dropped
`

// TestCustomResourcesWithKubectl: the installed kubectl, against an
// apiserver authorizing with Node,RBAC, creates a CustomResourceDefinition,
// waits until it is Established, then applies, gets (as a table with the
// printer columns, and as JSON, defaulted and pruned), server-side applies
// (typed by the schema: two managers own an entry each of a map-typed
// list) and deletes custom resources, and explains them from /openapi/v3;
// invalid ones are refused with every failing field path, and a CEL
// rule's message.
func TestCustomResourcesWithKubectl(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	kubectl := kubectlAgainst(t, s)
	run := func(stdin string, args ...string) string {
		t.Helper()
		out, err := kubectl(stdin, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	run(crontabCRD, "apply", "-f", "-")
	run("", "wait", "--for=condition=Established", "crd/crontabs.stable.example.com", "--timeout=30s")

	// Unknown fields: refused by kubectl's default --validate=strict
	// (fieldValidation=Strict), pruned with a warning under
	// --validate=warn, pruned silently under --validate=false (Ignore).
	if out, err := kubectl(crontab, "apply", "-f", "-"); err == nil || !strings.Contains(out, `strict decoding error: unknown field "spec.unknownField"`) {
		t.Errorf("apply --validate=strict of an unknown field: %v\n%s", err, out)
	}
	if out := run(crontab, "apply", "--validate=warn", "--dry-run=server", "-f", "-"); !strings.Contains(out, `unknown field "spec.unknownField"`) {
		t.Errorf("apply --validate=warn of an unknown field does not warn:\n%s", out)
	}
	if out := run(crontab, "apply", "--validate=false", "-f", "-"); strings.Contains(out, "unknown field") {
		t.Errorf("apply --validate=false warns:\n%s", out)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(run("", "get", "crontab", "my-cron", "-o", "json")), &got); err != nil {
		t.Fatal(err)
	}
	if got["apiVersion"] != "stable.example.com/v1" || got["kind"] != "CronTab" {
		t.Errorf("type %v %v", got["apiVersion"], got["kind"])
	}
	if dig(got, "spec", "replicas") != 1.0 || dig(got, "spec", "maxReplicas") != 5.0 {
		t.Errorf("defaults not set: spec %v", got["spec"])
	}
	if _, kept := got["spec"].(map[string]any)["unknownField"]; kept {
		t.Errorf("unknown field not pruned: spec %v", got["spec"])
	}
	if dig(got, "metadata", "generation") != 1.0 {
		t.Errorf("generation %v, want 1", dig(got, "metadata", "generation"))
	}

	table := tableLines(run("", "get", "ct"))
	if strings.Join(table[0], ",") != "NAME,SPEC,REPLICAS,AGE" || len(table) != 2 || table[1][0] != "my-cron" || table[1][1] != "* * * * */5" || table[1][2] != "1" {
		t.Errorf("kubectl get ct:\n%v", table)
	}

	// Served at v1beta1 too (conversion None: only apiVersion differs).
	if out := run("", "get", "crontabs.v1beta1.stable.example.com", "my-cron", "-o", "jsonpath={.apiVersion} {.spec.image}"); out != "stable.example.com/v1beta1 my-awesome-cron-image" {
		t.Errorf("at v1beta1: %q", out)
	}

	// Every failing field is named.
	bad := `apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: bad}
spec: {cronSpec: "every minute", replicas: 20, image: 5, mode: medium}
`
	out, err := kubectl(bad, "apply", "-f", "-")
	if err == nil {
		t.Fatalf("an invalid CronTab was accepted:\n%s", out)
	}
	for _, want := range []string{"spec.cronSpec", "spec.replicas", "spec.image", "spec.mode"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not name %s:\n%s", want, out)
		}
	}
	// A CEL rule.
	out, err = kubectl(`apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: too-many}
spec: {cronSpec: "* * * * *", replicas: 7, maxReplicas: 6}
`, "apply", "-f", "-")
	if err == nil || !strings.Contains(out, "replicas must not exceed maxReplicas") {
		t.Errorf("the CEL rule did not refuse: %v\n%s", err, out)
	}
	if out, err := kubectl("", "get", "crontab", "bad"); err == nil {
		t.Errorf("the invalid CronTab was stored:\n%s", out)
	}

	// Server-side apply: fields owned by the applier, typed by the schema.
	ssa := `apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: applied}
spec: {cronSpec: "0 * * * *", image: first, ports: [{name: http, port: 80}]}
`
	run(ssa, "apply", "--server-side", "-f", "-")
	run(strings.Replace(ssa, "first", "second", 1), "apply", "--server-side", "-f", "-")
	if out := run("", "get", "crontab", "applied", "-o", "jsonpath={.spec.image} {.metadata.managedFields[0].manager} {.metadata.managedFields[0].operation}"); out != "second kubectl Apply" {
		t.Errorf("after server-side applies: %q", out)
	}
	// Another manager's entry of the map-typed list merges beside the
	// first's (an untyped, atomic list would conflict).
	run(`apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: applied}
spec: {ports: [{name: metrics, port: 9090}]}
`, "apply", "--server-side", "--field-manager=sidecar", "-f", "-")
	if out := run("", "get", "crontab", "applied", "-o", "jsonpath={.spec.ports[*].name}"); out != "http metrics" {
		t.Errorf("ports after a second manager's apply: %q, want http metrics", out)
	}
	run("", "delete", "crontab", "applied")

	// kubectl explain reads the definition's schema from /openapi/v3.
	out = run("", "explain", "crontab.spec")
	for _, want := range []string{"GROUP:      stable.example.com", "KIND:       CronTab", "VERSION:    v1", "cronSpec\t<string>",
		"ports\t<[]Object>", "mode\t<string>", "How fast the job runs."} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain crontab.spec does not show %q:\n%s", want, out)
		}
	}

	// And from /openapi/v2 (kubectl's older explain).
	out = run("", "explain", "crontab.spec", "--output=plaintext-openapiv2")
	for _, want := range []string{"KIND:     CronTab", "cronSpec	<string>", "How fast the job runs."} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain crontab.spec --output=plaintext-openapiv2 does not show %q:\n%s", want, out)
		}
	}

	run("", "delete", "crontab", "my-cron")
	if out := run("", "get", "crontabs"); !strings.Contains(out, "No resources found") {
		t.Errorf("after delete: %s", out)
	}
}

// TestCustomResourceSubresourcesWatchAndRBAC: over REST, the status
// subresource changes only status (and the main resource never does), a
// watch sees custom resources change, a user without a role is denied and
// a Role on the custom resource lets them in, and the generic gRPC API
// serves custom resources too; deleting the definition deletes them.
func TestCustomResourceSubresourcesWatchAndRBAC(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	c := newRESTClient(t, s)
	c.want(201, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/yaml", crontabCRD)
	const cts = "/apis/stable.example.com/v1/namespaces/default/crontabs"
	testutil.Eventually(t, 30*time.Second, "the crontabs resource is served", served(c, cts, 200))

	// Discovery lists the kind.
	disc := c.want(200, "GET", "/apis/stable.example.com/v1", "", "")
	if !strings.Contains(string(mustJSON(t, disc)), `"name":"crontabs/status"`) {
		t.Errorf("discovery: %v", disc)
	}

	created := c.want(201, "POST", cts, "application/yaml", crontab)
	rv := dig(created, "metadata", "resourceVersion").(string)
	req, _ := http.NewRequest("GET", c.base+cts+"?watch=true&allowWatchBookmarks=true&resourceVersion="+rv, nil)
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	// The main resource ignores status; /status changes only status.
	created["status"] = map[string]any{"replicas": 3}
	upd := c.want(200, "PUT", cts+"/my-cron", "application/json", string(mustJSON(t, created)))
	if upd["status"] != nil {
		t.Errorf("the main resource changed status: %v", upd["status"])
	}
	upd["status"] = map[string]any{"replicas": 3}
	upd["spec"].(map[string]any)["image"] = "changed"
	st := c.want(200, "PUT", cts+"/my-cron/status", "application/json", string(mustJSON(t, upd)))
	if dig(st, "status", "replicas") != 3.0 || dig(st, "spec", "image") != "my-awesome-cron-image" {
		t.Errorf("status update: status %v spec %v", st["status"], st["spec"])
	}

	// The scale subresource reads and writes specReplicasPath and reports
	// statusReplicasPath.
	sc := c.want(200, "GET", cts+"/my-cron/scale", "", "")
	if sc["kind"] != "Scale" || dig(sc, "spec", "replicas") != 1.0 || dig(sc, "status", "replicas") != 3.0 {
		t.Errorf("scale = %v", sc)
	}
	c.want(200, "PATCH", cts+"/my-cron/scale", "application/merge-patch+json", `{"spec":{"replicas":2}}`)
	if got := c.want(200, "GET", cts+"/my-cron", "", ""); dig(got, "spec", "replicas") != 2.0 || dig(got, "metadata", "generation") != 2.0 {
		t.Errorf("after scaling: spec %v generation %v", got["spec"], dig(got, "metadata", "generation"))
	}

	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var ev struct {
			Type   string
			Object map[string]any
		}
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
			t.Fatalf("event %s: %v", lines.Bytes(), err)
		}
		if ev.Type == "MODIFIED" && dig(ev.Object, "status", "replicas") == 3.0 && ev.Object["kind"] == "CronTab" {
			break
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}

	// RBAC by group and resource.
	alice := *c
	alice.as = "alice"
	if r := alice.do("GET", cts, "", ""); r.code != 403 {
		t.Fatalf("alice without a role: %d %s", r.code, r.body)
	}
	c.want(201, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", "application/yaml", `
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: crontab-reader}
rules:
- apiGroups: [stable.example.com]
  resources: [crontabs]
  verbs: [get, list]
`)
	c.want(201, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", "application/yaml", `
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-reads-crontabs}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: crontab-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
`)
	testutil.Eventually(t, 10*time.Second, "alice may list crontabs", served(&alice, cts, 200))
	if r := alice.do("DELETE", cts+"/my-cron", "", ""); r.code != 403 {
		t.Errorf("alice deleting: %d %s", r.code, r.body)
	}

	// The generic gRPC API.
	api := s.Client(pki.AdminName).API()
	ctx := context.Background()
	obj := &apiextv1.CustomResource{Metadata: &metav1.ObjectMeta{Name: "from-grpc"}, ApiVersion: "stable.example.com/v1", Kind: "CronTab",
		Spec: &metav1.RawExtension{Raw: []byte(`{"cronSpec":"0 * * * *","image":"x"}`)}}
	b, err := proto.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	a := &anypb.Any{TypeUrl: "apis.keel.dev/stable.example.com/v1/CronTab/keel.apiextensions.v1.CustomResource", Value: b}
	if _, err := api.Create(ctx, &apiv1.CreateRequest{Resource: "crontabs.stable.example.com", Namespace: "default", Object: a}); err != nil {
		t.Fatalf("gRPC create: %v", err)
	}
	got, err := api.Get(ctx, &apiv1.GetRequest{Resource: "crontabs.stable.example.com", Namespace: "default", Name: "from-grpc"})
	if err != nil {
		t.Fatalf("gRPC get: %v", err)
	}
	cr := &apiextv1.CustomResource{}
	if err := got.UnmarshalTo(cr); err != nil {
		t.Fatal(err)
	}
	if cr.GetKind() != "CronTab" || !strings.Contains(string(cr.GetSpec().GetRaw()), `"replicas":1`) {
		t.Errorf("gRPC get: %v", cr)
	}
	list, err := api.List(ctx, &apiv1.ListRequest{Resource: "crontabs.stable.example.com", Namespace: "default"})
	if err != nil || len(list.GetItems()) != 2 {
		t.Errorf("gRPC list: %v, %d items", err, len(list.GetItems()))
	}
	bad := proto.Clone(obj).(*apiextv1.CustomResource)
	bad.Metadata.Name, bad.Spec.Raw = "bad", []byte(`{"replicas":0}`)
	b, _ = proto.Marshal(bad)
	_, err = api.Create(ctx, &apiv1.CreateRequest{Resource: "crontabs.stable.example.com", Namespace: "default", Object: &anypb.Any{TypeUrl: a.TypeUrl, Value: b}})
	if err = apierrors.FromStatus(err); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.replicas") {
		t.Errorf("gRPC create of an invalid CronTab: %v", err)
	}

	// Deleting the definition deletes its objects, each as a client's
	// delete would (a finalizer holds one), refusing creates meanwhile;
	// once they are gone, the definition goes, and with it its kind and
	// its OpenAPI document.
	if r := c.do("GET", "/openapi/v3", "", ""); !strings.Contains(string(r.body), `"apis/stable.example.com/v1"`) {
		t.Errorf("the OpenAPI v3 index does not list the custom resources: %d %s", r.code, r.body)
	}
	v2 := c.want(200, "GET", "/openapi/v2", "", "")
	if _, ok := dig(v2, "definitions").(map[string]any)["com.example.stable.v1.CronTab"]; !ok {
		t.Errorf("/openapi/v2 has no CronTab definition")
	}
	if _, ok := dig(v2, "paths").(map[string]any)["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]; !ok {
		t.Errorf("/openapi/v2 has no path of crontabs")
	}
	if _, ok := dig(v2, "definitions").(map[string]any)["io.k8s.api.core.v1.Pod"]; !ok {
		t.Errorf("/openapi/v2 lost the registered kinds")
	}
	crdPath := "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/crontabs.stable.example.com"
	if f := dig(c.want(200, "GET", crdPath, "", ""), "metadata", "finalizers"); fmt.Sprint(f) != "[customresourcecleanup.apiextensions.k8s.io]" {
		t.Errorf("the definition's finalizers: %v", f)
	}
	c.want(200, "PATCH", cts+"/my-cron", "application/merge-patch+json", `{"metadata":{"finalizers":["example.com/hold"]}}`)
	c.want(200, "DELETE", crdPath, "", "")
	testutil.Eventually(t, 30*time.Second, "the definition Terminating, its unheld object gone, the held one marked", func() error {
		crd := c.want(200, "GET", crdPath, "", "")
		terminating := false
		for _, cond := range dig(crd, "status", "conditions").([]any) {
			m := cond.(map[string]any)
			terminating = terminating || m["type"] == "Terminating" && m["status"] == "True" && m["reason"] == "InstanceDeletionInProgress"
		}
		if !terminating {
			return fmt.Errorf("conditions %v", dig(crd, "status", "conditions"))
		}
		if r := c.do("GET", cts+"/from-grpc", "", ""); r.code != 404 {
			return fmt.Errorf("from-grpc: %d", r.code)
		}
		if held := c.want(200, "GET", cts+"/my-cron", "", ""); dig(held, "metadata", "deletionTimestamp") == nil {
			return fmt.Errorf("my-cron not marked for deletion")
		}
		return nil
	})
	if r := c.do("POST", cts, "application/yaml", crontab); r.code != 405 || !strings.Contains(string(r.body), "create not allowed while custom resource definition is terminating") {
		t.Errorf("create during the definition's deletion: %d %s", r.code, r.body)
	}
	c.want(200, "PATCH", cts+"/my-cron", "application/merge-patch+json", `{"metadata":{"finalizers":null}}`)
	testutil.Eventually(t, 30*time.Second, "the definition gone", served(c, crdPath, 404))
	testutil.Eventually(t, 30*time.Second, "crontabs are no longer served", served(c, cts, 404))
	testutil.Eventually(t, 10*time.Second, "the OpenAPI v3 index and /openapi/v2 no longer list crontabs", func() error {
		if r := c.do("GET", "/openapi/v3", "", ""); r.code != 200 || strings.Contains(string(r.body), "stable.example.com") {
			return fmt.Errorf("%d %s", r.code, r.body)
		}
		if r := c.do("GET", "/openapi/v2", "", ""); r.code != 200 || strings.Contains(string(r.body), "com.example.stable.v1.CronTab") || !strings.Contains(string(r.body), "io.k8s.api.core.v1.Pod") {
			return fmt.Errorf("/openapi/v2: %d, still names com.example.stable.v1.CronTab or lost Pods", r.code)
		}
		return nil
	})
	c.want(201, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/yaml", crontabCRD)
	testutil.Eventually(t, 30*time.Second, "the crontabs resource is served again", served(c, cts, 200))
	if l := c.want(200, "GET", cts, "", ""); len(l["items"].([]any)) != 0 {
		t.Errorf("the objects of the deleted definition survived: %v", l["items"])
	}
}

// TestCustomResourceDefinitionValidation: a definition Kubernetes would
// refuse is refused with its field paths (a schema shared by every version
// is reported under spec.validation, as Kubernetes does), and nothing is
// stored.
func TestCustomResourceDefinitionValidation(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	c := newRESTClient(t, s)
	r := c.do("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/yaml", `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: wrong.example.com}
spec:
  group: example.com
  scope: Sometimes
  names: {plural: things, kind: Thing}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {properties: {x: {type: string}}}
`)
	if r.code != 422 {
		t.Fatalf("invalid definition: %d %s", r.code, r.body)
	}
	for _, want := range []string{"metadata.name", "spec.scope", "spec.validation.openAPIV3Schema.properties[spec].type"} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("the refusal does not name %s: %s", want, r.body)
		}
	}
	if r := c.do("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/wrong.example.com", "", ""); r.code != 404 {
		t.Errorf("the invalid definition was stored: %d", r.code)
	}
}

// served is a condition: a GET of path answers code.
func served(c *restClient, path string, code int) func() error {
	return func() error {
		if r := c.do("GET", path, "", ""); r.code != code {
			return fmt.Errorf("GET %s: %d %s", path, r.code, r.body)
		}
		return nil
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
