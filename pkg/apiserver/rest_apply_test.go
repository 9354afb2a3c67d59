package apiserver_test

import (
	"fmt"
	"strings"
	"testing"

	"keel.dev/keel/pkg/apiserver/testserver"
)

// applyDeployment is a Deployment manifest (YAML, as kubectl sends an
// apply) with the given replicas (-1: none), annotation a (if not "")
// and containers (name:image).
func applyDeployment(replicas int, annotation string, containers ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n")
	if annotation != "" {
		fmt.Fprintf(&b, "  annotations:\n    a: %q\n", annotation)
	}
	b.WriteString("spec:\n")
	if replicas >= 0 {
		fmt.Fprintf(&b, "  replicas: %d\n", replicas)
	}
	b.WriteString("  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n")
	for _, c := range containers {
		name, image, _ := strings.Cut(c, ":")
		fmt.Fprintf(&b, "      - name: %s\n        image: %s\n", name, image)
	}
	return b.String()
}

// managedBy returns the managedFields entry of manager, or nil.
func managedBy(obj map[string]any, manager string) map[string]any {
	entries, _ := dig(obj, "metadata", "managedFields").([]any)
	for _, e := range entries {
		if m, _ := e.(map[string]any); m["manager"] == manager {
			return m
		}
	}
	return nil
}

// containerNames lists the names of a Deployment's containers.
func containerNames(obj map[string]any) []string {
	cs, _ := dig(obj, "spec", "template", "spec", "containers").([]any)
	var names []string
	for _, c := range cs {
		names = append(names, c.(map[string]any)["name"].(string))
	}
	return names
}

// TestRESTServerSideApply: PATCH application/apply-patch+yaml creates,
// merges (containers by name) and removes what a manager stopped
// applying; another manager's fields are a 409 with their paths unless
// force=true takes them over; updates naming a fieldManager are recorded.
func TestRESTServerSideApply(t *testing.T) {
	s := testserver.StartSecure(t, nil, nil)
	c := newRESTClient(t, s)
	const web = "/apis/apps/v1/namespaces/default/deployments/web"
	const apply = "application/apply-patch+yaml"

	// Create through apply.
	created := c.want(201, "PATCH", web+"?fieldManager=alice", apply, applyDeployment(2, "x", "app:app:1"))
	alice := managedBy(created, "alice")
	if alice == nil || alice["operation"] != "Apply" || alice["apiVersion"] != "apps/v1" || alice["fieldsType"] != "FieldsV1" || alice["time"] == nil {
		t.Fatalf("alice's managedFields entry = %v (all: %v)", alice, dig(created, "metadata", "managedFields"))
	}
	if dig(alice, "fieldsV1", "f:spec", "f:replicas") == nil {
		t.Errorf("alice does not own spec.replicas: %v", alice["fieldsV1"])
	}
	if got := c.want(200, "GET", web, "", ""); managedBy(got, "alice") == nil {
		t.Errorf("managedFields were not stored: %v", dig(got, "metadata"))
	}

	// A second manager adds a container: merged by name.
	bob := c.want(200, "PATCH", web+"?fieldManager=bob", apply, applyDeployment(-1, "", "log:log:1"))
	if got := strings.Join(containerNames(bob), ","); got != "app,log" {
		t.Errorf("containers after bob's apply = %s, want app,log", got)
	}

	// Alice drops her annotation: it goes; bob's container stays.
	again := c.want(200, "PATCH", web+"?fieldManager=alice", apply, applyDeployment(2, "", "app:app:2"))
	if dig(again, "metadata", "annotations", "a") != nil {
		t.Errorf("annotation a survived alice's apply without it: %v", dig(again, "metadata", "annotations"))
	}
	if got := strings.Join(containerNames(again), ","); got != "app,log" || dig(again, "spec", "template", "spec", "containers", 0, "image") != "app:2" {
		t.Errorf("containers after alice's second apply = %s (%v)", got, dig(again, "spec", "template", "spec", "containers"))
	}

	// Bob sets alice's replicas: a conflict naming the field.
	st := c.want(409, "PATCH", web+"?fieldManager=bob", apply, applyDeployment(5, "", "log:log:1"))
	if msg, _ := st["message"].(string); st["reason"] != "Conflict" || !strings.HasPrefix(msg, "Apply failed with 1 conflict:") || !strings.Contains(msg, `conflict with "alice"`) || !strings.Contains(msg, ".spec.replicas") {
		t.Errorf("conflict = %v", st)
	}
	if dig(st, "details", "causes", 0, "reason") != "FieldManagerConflict" || dig(st, "details", "causes", 0, "field") != ".spec.replicas" {
		t.Errorf("conflict causes = %v", dig(st, "details", "causes"))
	}
	if got := c.want(200, "GET", web, "", ""); dig(got, "spec", "replicas") != 2.0 {
		t.Errorf("the conflicting apply changed replicas to %v", dig(got, "spec", "replicas"))
	}

	// With force, bob takes replicas over.
	forced := c.want(200, "PATCH", web+"?fieldManager=bob&force=true", apply, applyDeployment(5, "", "log:log:1"))
	if dig(forced, "spec", "replicas") != 5.0 {
		t.Errorf("replicas after the forced apply = %v", dig(forced, "spec", "replicas"))
	}
	if dig(managedBy(forced, "bob"), "fieldsV1", "f:spec", "f:replicas") == nil || dig(managedBy(forced, "alice"), "fieldsV1", "f:spec", "f:replicas") != nil {
		t.Errorf("spec.replicas is still alice's after bob forced it: %v", dig(forced, "metadata", "managedFields"))
	}

	// An update naming a fieldManager is recorded as an Update.
	patched := c.want(200, "PATCH", web+"?fieldManager=carol", "application/merge-patch+json", `{"metadata":{"labels":{"team":"x"}}}`)
	carol := managedBy(patched, "carol")
	if carol["operation"] != "Update" || dig(carol, "fieldsV1", "f:metadata", "f:labels", "f:team") == nil {
		t.Errorf("carol's entry = %v", carol)
	}
	if managedBy(patched, "alice") == nil || managedBy(patched, "bob") == nil {
		t.Errorf("an update dropped the appliers' entries: %v", dig(patched, "metadata", "managedFields"))
	}

	// One the field manager cannot type (two env vars of one name, which
	// Kubernetes allows) is stored all the same.
	dup := `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:2","env":[{"name":"E","value":"1"},{"name":"E","value":"2"}]}]}}}}`
	if p := c.want(200, "PATCH", web+"?fieldManager=carol", "application/merge-patch+json", dup); dig(p, "spec", "template", "spec", "containers", 0, "env", 1, "value") != "2" {
		t.Errorf("after a patch with duplicate env names: %v", dig(p, "spec", "template", "spec", "containers"))
	}

	// So is a create.
	cm := c.want(201, "POST", "/api/v1/namespaces/default/configmaps?fieldManager=dave", "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"k":"v"}}`)
	if dave := managedBy(cm, "dave"); dave["operation"] != "Update" || dig(dave, "fieldsV1", "f:data", "f:k") == nil {
		t.Errorf("dave's entry after a create = %v", dave)
	}

	// An apply to status merges the status; a dry run stores nothing.
	if st := c.want(200, "PATCH", web+"/status?fieldManager=ctrl", apply, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nstatus:\n  replicas: 3\n"); dig(st, "status", "replicas") != 3.0 || dig(st, "spec", "replicas") != 5.0 {
		t.Errorf("after a status apply: status %v, spec.replicas %v", dig(st, "status"), dig(st, "spec", "replicas"))
	}
	if dry := c.want(201, "PATCH", web+"2?fieldManager=alice&dryRun=All", apply, strings.Replace(applyDeployment(1, "", "app:app:1"), "name: web\n", "name: web2\n", 1)); managedBy(dry, "alice") == nil {
		t.Errorf("dry-run apply answered %v", dig(dry, "metadata"))
	}
	c.want(404, "GET", web+"2", "", "")
	if st := c.want(415, "PATCH", web+"/scale?fieldManager=alice", apply, "{}"); st["reason"] != "UnsupportedMediaType" {
		t.Errorf("apply to scale = %v", st)
	}

	// Bad applies change nothing.
	if st := c.want(400, "PATCH", web+"?fieldManager=alice", apply, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n"); st["reason"] != "BadRequest" {
		t.Errorf("applying a Pod to a Deployment = %v", st)
	}
	if st := c.want(400, "PATCH", web+"?fieldManager=alice", apply, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicaz: 3\n"); !strings.Contains(st["message"].(string), "replicaz") {
		t.Errorf("applying an unknown field = %v", st)
	}
	if st := c.want(422, "PATCH", web+"?fieldManager=alice&force=true", "application/merge-patch+json", `{}`); !strings.Contains(st["message"].(string), "force: Forbidden") {
		t.Errorf("force on a merge patch = %v", st)
	}
}
