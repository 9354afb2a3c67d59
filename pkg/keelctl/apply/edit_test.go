package apply_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
)

// editor returns the EDITOR value running a script of testdata with sh.
func editor(t *testing.T, script string) map[string]string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", script))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"EDITOR": "sh " + p}
}

func TestEdit(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	ctx := k.Ctx()
	k.Run("apply", "-f", keelctltest.Write(t, t.TempDir(), "web.yaml", keelctltest.WebDeployment)).OK(t)
	replicas := func() int32 {
		d, err := k.C.Deployments("default").Get(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		return d.GetSpec().GetReplicas()
	}

	// No change: nothing saved.
	if out := k.RunWith(keelctltest.RunOpts{Env: map[string]string{"EDITOR": "true"}}, "edit", "deploy", "web").OK(t); out != "Edit cancelled, no changes made.\n" {
		t.Errorf("no change: %q", out)
	}
	// KUBE_EDITOR wins over EDITOR.
	env := editor(t, "edit-replicas.sh")
	env["KUBE_EDITOR"], env["EDITOR"] = env["EDITOR"], "false"
	if out := k.RunWith(keelctltest.RunOpts{Env: env}, "edit", "deployment/web").OK(t); out != "deployment.apps/web edited\n" {
		t.Errorf("edit: %q", out)
	}
	if r := replicas(); r != 7 {
		t.Errorf("replicas %d after edit", r)
	}
	k.Run("scale", "deploy", "web", "--replicas=2").OK(t)

	// Invalid, reopened, saved unchanged: the error, a kept copy, exit 1.
	r := k.RunWith(keelctltest.RunOpts{Env: editor(t, "edit-invalid.sh")}, "edit", "deploy", "web")
	stderr := r.Fails(t, `The Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1`, "A copy of your changes has been stored to", "error: Edit cancelled, no valid changes were saved.")
	m := regexp.MustCompile(`stored to "([^"]+)"`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no path in %q", stderr)
	}
	kept, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(m[1])
	if !strings.Contains(string(kept), "  replicas: -1\n") || !strings.Contains(string(kept), "# The Deployment.apps \"web\" is invalid") {
		t.Errorf("kept file:\n%s", kept)
	}
	if r := replicas(); r != 2 {
		t.Errorf("replicas %d after a failed edit", r)
	}

	// Invalid, reopened, fixed: saved.
	if out := k.RunWith(keelctltest.RunOpts{Env: editor(t, "edit-fix.sh")}, "edit", "deploy", "web").OK(t); out != "deployment.apps/web edited\n" {
		t.Errorf("fixed edit: %q", out)
	}
	if r := replicas(); r != 4 {
		t.Errorf("replicas %d after the fixed edit", r)
	}
	k.Run("scale", "deploy", "web", "--replicas=2").OK(t)
	// A YAML syntax error, reopened, fixed.
	if out := k.RunWith(keelctltest.RunOpts{Env: editor(t, "edit-syntax.sh")}, "edit", "deploy", "web").OK(t); out != "deployment.apps/web edited\n" {
		t.Errorf("syntax edit: %q", out)
	}
	d, err := k.C.Deployments("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if d.GetMetadata().GetLabels()["edited"] != "yes" {
		t.Errorf("labels after edit: %v", d.GetMetadata().GetLabels())
	}

	// A failing editor, and a missing object.
	k.RunWith(keelctltest.RunOpts{Env: map[string]string{"EDITOR": "false"}}, "edit", "deploy", "web").Fails(t, `there was a problem with the editor "false"`)
	k.RunWith(keelctltest.RunOpts{Env: map[string]string{"EDITOR": "true"}}, "edit", "deploy", "nope").Fails(t, `Error from server (NotFound): deployments.apps "nope" not found`)
}
