package cmd_test

import (
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
	"keel.dev/keel/pkg/pki"
)

// TestMain lets keelctltest.RunProcess run keelctl in processes of its own.
func TestMain(m *testing.M) { keelctltest.Main(m) }

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
    categories: [schedules, all]
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
    - name: Image
      type: string
      jsonPath: .spec.image
      priority: 1
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the cron job runs, and when.
            required: [cronSpec]
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
              mode:
                type: string
                enum: [fast, slow]
                description: How fast the job runs.
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

// TestCustomResources: keelctl, run as its own process (so it knows only
// the compiled-in kinds) against an apiserver authorizing with Node,RBAC,
// creates a CustomResourceDefinition, sees it Established, and then
// handles its kind as a compiled-in one, learnt from the definition:
// apply from YAML, get (the printer columns, short name, category, -o
// wide/yaml/json/name), describe, explain (from the schema),
// api-resources, refusals with the schema's field paths, delete; "get
// all" includes it (its definition lists the category). An
// unknown resource keeps its error, and so does a custom resource for a
// user who may not list the definitions; one who may, and has a role on
// the custom resource, gets what the role allows.
func TestCustomResources(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	kc := s.Kubeconfig(pki.AdminName)
	dir := t.TempDir()
	run := func(args ...string) keelctltest.Result {
		t.Helper()
		return keelctltest.RunProcess(t, keelctltest.RunOpts{}, append([]string{"--config", kc}, args...)...)
	}

	if out := run("apply", "-f", keelctltest.Write(t, dir, "crd.yaml", crontabCRD)).OK(t); out != "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created\n" {
		t.Errorf("apply of the definition: %q", out)
	}
	keelctltest.Eventually(t, 30*time.Second, func() bool {
		r := run("get", "crd", "crontabs.stable.example.com", "-o", "json")
		var crd struct {
			Status struct {
				Conditions []struct{ Type, Status string }
			}
		}
		if r.Code != 0 || keelctltest.JSONUnmarshal(r.Out, &crd) != nil {
			return false
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == "Established" && c.Status == "True" {
				return true
			}
		}
		return false
	}, "the definition is Established")

	file := keelctltest.Write(t, dir, "crontab.yaml", crontab)
	keelctltest.Eventually(t, 30*time.Second, func() bool { return run("apply", "-f", file).Code == 0 }, "the custom resource applies")
	if out := run("apply", "-f", file).OK(t); out != "crontab.stable.example.com/my-cron unchanged\n" {
		t.Errorf("apply again: %q", out)
	}

	// The table has the definition's printer columns (wide: priority > 0
	// too), under every name of the kind.
	for _, typ := range []string{"crontabs", "crontab", "ct", "CronTab", "crontabs.stable.example.com"} {
		out := run("get", typ).OK(t)
		if l := keelctltest.Lines(out); len(l) != 2 || l[0] != "NAME SPEC REPLICAS" || l[1] != "my-cron * * * * */5 1" {
			t.Errorf("get %s:\n%s", typ, out)
		}
	}
	out := run("get", "ct", "-o", "wide").OK(t)
	keelctltest.MustHaveLines(t, out, "NAME SPEC REPLICAS IMAGE", "my-cron * * * * */5 1 my-awesome-cron-image")
	if out := run("get", "schedules", "-o", "name").OK(t); out != "crontab.stable.example.com/my-cron\n" {
		t.Errorf("get by the definition's category: %q", out)
	}
	// A compiled-in category ("all") includes the custom resources whose
	// definitions list it, after its compiled-in kinds.
	if out := run("get", "all", "-o", "name").OK(t); !strings.HasSuffix(out, "crontab.stable.example.com/my-cron\n") {
		t.Errorf("get all: %q", out)
	}
	if out := run("get", "crontab/my-cron", "-o", "name").OK(t); out != "crontab.stable.example.com/my-cron\n" {
		t.Errorf("get TYPE/NAME: %q", out)
	}
	out = run("get", "ct", "my-cron", "-o", "yaml").OK(t)
	for _, want := range []string{"apiVersion: stable.example.com/v1\n", "kind: CronTab\n", "  name: my-cron\n", "  namespace: default\n", "  replicas: 1\n", "  image: my-awesome-cron-image\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("get -o yaml lacks %q:\n%s", want, out)
		}
	}
	if _, spec, _ := strings.Cut(out, "\nspec:"); strings.Contains(spec, "unknownField") {
		t.Errorf("the unknown field was not pruned:\n%s", out)
	}
	var obj map[string]any
	if err := keelctltest.JSONUnmarshal(run("get", "crontab", "my-cron", "-o", "json").OK(t), &obj); err != nil {
		t.Fatal(err)
	}
	if obj["kind"] != "CronTab" || obj["spec"].(map[string]any)["replicas"] != 1.0 {
		t.Errorf("get -o json: %v", obj)
	}

	out = run("describe", "ct", "my-cron").OK(t)
	keelctltest.MustHaveLines(t, out, "Name: my-cron", "Namespace: default")
	if !strings.Contains(out, "my-awesome-cron-image") {
		t.Errorf("describe lacks the spec:\n%s", out)
	}

	// Shell completion offers the type and its objects' names.
	if out := run("__complete", "get", "cront").OK(t); !strings.HasPrefix(out, "crontabs\n") {
		t.Errorf("completion of the type: %q", out)
	}
	if out := run("__complete", "describe", "ct", "my").OK(t); !strings.HasPrefix(out, "my-cron\n") {
		t.Errorf("completion of a name: %q", out)
	}

	if r := run("auth", "can-i", "delete", "ct"); r.Code != 0 || r.Out != "yes\n" || r.Err != "" {
		t.Errorf("auth can-i delete ct: %+v", r)
	}

	// label and scale (the definition's scale subresource) too.
	if out := run("label", "ct", "my-cron", "tier=batch").OK(t); out != "crontab.stable.example.com/my-cron labeled\n" {
		t.Errorf("label: %q", out)
	}
	if out := run("scale", "crontab/my-cron", "--replicas=3").OK(t); out != "crontab.stable.example.com/my-cron scaled\n" {
		t.Errorf("scale: %q", out)
	}
	if out := run("get", "ct", "-l", "tier=batch").OK(t); keelctltest.Lines(out)[1] != "my-cron * * * * */5 3" {
		t.Errorf("get after label and scale:\n%s", out)
	}
	run("scale", "crontab/my-cron", "--replicas=1").OK(t)

	out = run("explain", "crontab.spec.mode").OK(t)
	keelctltest.MustHaveLines(t, out, "GROUP: stable.example.com", "KIND: CronTab", "VERSION: v1", "FIELD: mode <string>", "How fast the job runs.")
	out = run("explain", "crontabs.spec").OK(t)
	keelctltest.MustHaveLines(t, out, "What the cron job runs, and when.", "cronSpec <string> -required-", "replicas <integer>")
	out = run("explain", "ct").OK(t)
	keelctltest.MustHaveLines(t, out, "apiVersion <string>", "metadata <ObjectMeta>", "spec <Object>", "status <Object>")
	run("explain", "ct.spec.nope").Fails(t, `field "nope" does not exist`)

	out = run("api-resources", "--api-group", "stable.example.com", "-o", "wide").OK(t)
	keelctltest.MustHaveLines(t, out, "crontabs ct stable.example.com/v1 true CronTab [create delete get list update watch] schedules")
	if len(keelctltest.Lines(out)) != 2 {
		t.Errorf("api-resources lists a custom resource once, at its preferred version:\n%s", out)
	}
	keelctltest.MustHaveLines(t, run("api-resources").OK(t), "pods po v1 true Pod", "crontabs ct stable.example.com/v1 true CronTab")

	// The schema's refusals, with their field paths.
	bad := keelctltest.Write(t, dir, "bad.yaml", `apiVersion: stable.example.com/v1
kind: CronTab
metadata: {name: bad}
spec: {cronSpec: "every minute", replicas: 11, mode: sometimes}
`)
	r := run("apply", "-f", bad)
	r.Fails(t, "spec.cronSpec", "spec.replicas", "spec.mode")
	if run("get", "ct", "bad").Code == 0 {
		t.Error("an invalid CronTab was stored")
	}

	// Another served version's manifest applies to the same objects.
	other := keelctltest.Write(t, dir, "beta.yaml", `apiVersion: stable.example.com/v1beta1
kind: CronTab
metadata: {name: beta}
spec: {cronSpec: "0 * * * *"}
`)
	if out := run("apply", "-f", other).OK(t); out != "crontab.stable.example.com/beta created\n" {
		t.Errorf("apply of a v1beta1 CronTab: %q", out)
	}

	made := keelctltest.Write(t, dir, "made.json", `{"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "made"}, "spec": {"cronSpec": "0 0 * * *"}}`)
	if out := run("create", "-f", made).OK(t); out != "crontab.stable.example.com/made created\n" {
		t.Errorf("create -f: %q", out)
	}
	if out := run("delete", "-f", made).OK(t); out != "crontab.stable.example.com \"made\" deleted\n" {
		t.Errorf("delete -f: %q", out)
	}
	if out := run("delete", "crontab", "my-cron", "beta").OK(t); out != "crontab.stable.example.com \"my-cron\" deleted\ncrontab.stable.example.com \"beta\" deleted\n" {
		t.Errorf("delete: %q", out)
	}
	if r := run("get", "crontabs"); r.Code != 0 || !strings.Contains(r.Out+r.Err, "No resources found in default namespace.") {
		t.Errorf("get after delete: %+v", r)
	}

	// An unknown resource or kind keeps its error.
	run("get", "gizmos").Fails(t, `the server doesn't have a resource type "gizmos"`)
	run("apply", "-f", keelctltest.Write(t, dir, "gizmo.yaml", "apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: g}\n")).
		Fails(t, `unknown kind "Gizmo" for apiVersion "example.com/v1"`)

	// A user who may not list the definitions cannot name their kinds.
	run("apply", "-f", file).OK(t)
	run("get", "crontabs", "--as", "jane").Fails(t, `the server doesn't have a resource type "crontabs"`)
	if r := run("auth", "can-i", "list", "crontabs.stable.example.com", "--as", "jane"); r.Out != "no\n" || !strings.Contains(r.Err, "Warning: the server doesn't have a resource type 'crontabs.stable.example.com'") {
		t.Errorf("auth can-i as jane: %+v", r)
	}
	run("apply", "-f", file, "--as", "jane").Fails(t, `unknown kind "CronTab" for apiVersion "stable.example.com/v1"`)
	// keelctl asked for the definitions as jane; a compiled-in kind never
	// makes it ask (joe may neither list configmaps nor definitions).
	run("get", "configmaps", "--as", "joe").Fails(t, "forbidden")
	run("apply", "-f", keelctltest.Write(t, dir, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"), "--as", "joe").Fails(t, "forbidden")
	var janeListed, joeListed bool
	for _, f := range s.Forbidden() {
		if strings.Contains(f, "customresourcedefinitions") {
			janeListed = janeListed || strings.Contains(f, `"jane"`)
			joeListed = joeListed || strings.Contains(f, `"joe"`)
		}
	}
	if !janeListed || joeListed {
		t.Errorf("the definitions were listed as jane: %v (want true), as joe: %v (want false); refused: %q", janeListed, joeListed, s.Forbidden())
	}

	// Allowed to read the definitions and the crontabs, jane gets them,
	// and may not delete them.
	run("apply", "-f", keelctltest.Write(t, dir, "rbac.yaml", `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: crd-reader}
rules:
- {apiGroups: [apiextensions.k8s.io], resources: [customresourcedefinitions], verbs: [list]}
- {apiGroups: [stable.example.com], resources: [crontabs], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: jane-reads}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: crd-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}]
`)).OK(t)
	keelctltest.Eventually(t, 10*time.Second, func() bool {
		return run("get", "ct", "--as", "jane", "-o", "name").Out == "crontab.stable.example.com/my-cron\n"
	}, "jane may list crontabs")
	run("delete", "ct", "my-cron", "--as", "jane").Fails(t, `User "jane" cannot delete resource "crontabs" in API group "stable.example.com"`)

	// A user who may list the compiled-in kinds of "all" but not the
	// definitions gets them, as before, and no error.
	run("apply", "-f", keelctltest.Write(t, dir, "max.yaml", `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: all-lister}
rules:
- {apiGroups: ["", apps, batch, autoscaling], resources: ["*"], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: max-lists}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: all-lister}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: max}]
`)).OK(t)
	keelctltest.Eventually(t, 10*time.Second, func() bool { return run("get", "pods", "--as", "max").Code == 0 }, "max may list pods")
	if r := run("get", "all", "--as", "max", "-o", "name"); r.Code != 0 || strings.Contains(r.Out, "crontab") {
		t.Errorf("get all as max: %+v", r)
	}
}
