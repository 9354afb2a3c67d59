package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/testutil"
)

// TestHelm drives Helm v3 (hack/install-deps.sh builds the version
// hack/tools/helm pins) against keel-apiserver (Node,RBAC) with a
// scheduler, a controller-manager and a hollow node: the chart in
// testdata/helm/keelweb (a Deployment, a Service and a ConfigMap from
// values) is installed and waited for, upgraded with changed values,
// listed, rolled back to its first revision and uninstalled. Helm keeps
// each revision in a Secret; uninstalling removes them and the chart's
// objects.
func TestHelm(t *testing.T) {
	if _, err := exec.LookPath("helm"); err != nil {
		testutil.Missing(t, "needs helm (hack/install-deps.sh builds it)")
	}
	chart, err := filepath.Abs("testdata/helm/keelweb")
	if err != nil {
		t.Fatal(err)
	}
	c := startClientsCluster(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	helm := func(args ...string) string {
		t.Helper()
		out, err := c.run(ctx, "", "helm", args...)
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := c.kubectl(ctx, "", args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	state := func() string {
		t.Helper()
		return kubectl("get", "configmap/web-page", "deployment/web", "service/web", "-o",
			`jsonpath={.items[0].data.index\.html} {.items[1].spec.replicas} {.items[1].status.readyReplicas} {.items[2].spec.ports[0].port}`)
	}
	releases := func() []string {
		t.Helper()
		out := kubectl("get", "secrets", "-l", "owner=helm,name=web", "-o", "jsonpath={range .items[*]}{.metadata.name}:{.metadata.labels.status} {end}")
		return strings.Fields(out)
	}

	if out := helm("install", "web", chart, "--namespace", "default", "--wait", "--timeout", "2m"); !strings.Contains(out, "STATUS: deployed") || !strings.Contains(out, "REVISION: 1") {
		t.Errorf("helm install:\n%s", out)
	}
	if got := state(); got != "hello 1 1 80" {
		t.Errorf("after helm install (page, replicas, ready, port): %q", got)
	}

	if out := helm("upgrade", "web", chart, "--namespace", "default", "--set", "message=changed,replicas=2", "--wait", "--timeout", "2m"); !strings.Contains(out, `Release "web" has been upgraded`) || !strings.Contains(out, "REVISION: 2") {
		t.Errorf("helm upgrade:\n%s", out)
	}
	if got := state(); got != "changed 2 2 80" {
		t.Errorf("after helm upgrade (page, replicas, ready, port): %q", got)
	}

	var list []struct{ Name, Namespace, Revision, Status, Chart string }
	if err := json.Unmarshal([]byte(helm("list", "--namespace", "default", "-o", "json")), &list); err != nil || len(list) != 1 ||
		list[0].Name != "web" || list[0].Revision != "2" || list[0].Status != "deployed" || list[0].Chart != "keelweb-0.1.0" {
		t.Errorf("helm list: %v %+v", err, list)
	}

	if out := helm("rollback", "web", "1", "--namespace", "default", "--wait", "--timeout", "2m"); !strings.Contains(out, "Rollback was a success") {
		t.Errorf("helm rollback:\n%s", out)
	}
	if got := state(); got != "hello 1 1 80" {
		t.Errorf("after helm rollback to revision 1 (page, replicas, ready, port): %q", got)
	}
	if got, want := releases(), []string{"sh.helm.release.v1.web.v1:superseded", "sh.helm.release.v1.web.v2:superseded", "sh.helm.release.v1.web.v3:deployed"}; !slices.Equal(got, want) {
		t.Errorf("helm's release Secrets: %v, want %v", got, want)
	}

	if out := helm("uninstall", "web", "--namespace", "default", "--wait", "--timeout", "2m"); !strings.Contains(out, `release "web" uninstalled`) {
		t.Errorf("helm uninstall:\n%s", out)
	}
	if out, err := c.kubectl(ctx, "", "get", "configmap/web-page", "deployment/web", "service/web", "--ignore-not-found", "-o", "name"); err != nil || out != "" {
		t.Errorf("after helm uninstall: %v %q, want the chart's objects gone", err, out)
	}
	if got := releases(); len(got) != 0 {
		t.Errorf("helm's release Secrets after uninstall: %v", got)
	}
	if out := helm("list", "--namespace", "default", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("helm list after uninstall: %q", out)
	}
}
