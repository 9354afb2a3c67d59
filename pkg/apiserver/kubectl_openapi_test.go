package apiserver_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/testutil"
)

// kubectlAgainst returns a function running the installed kubectl against
// s as the cluster admin, with a discovery cache of its own; it skips the
// test when no kubectl is installed.
func kubectlAgainst(t *testing.T, s *testserver.Secure) func(stdin string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("kubectl")
	if err != nil {
		testutil.Missing(t, "kubectl is not installed (hack/install-deps.sh installs it)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: keel
  cluster: {server: "https://%s", certificate-authority: %q}
users:
- name: admin
  user: {client-certificate: %q, client-key: %q}
contexts:
- name: keel
  context: {cluster: keel, user: admin, namespace: default}
current-context: keel
`, s.Addr, pki.CertPath(s.PKIDir, pki.CAName), pki.CertPath(s.PKIDir, pki.AdminName), pki.KeyPath(s.PKIDir, pki.AdminName))), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"--kubeconfig", conf, "--cache-dir", filepath.Join(dir, "cache")}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
}

// cellsRE splits kubectl's table lines: cells are separated by at least
// two spaces (a column name may hold one: NOMINATED NODE).
var cellsRE = regexp.MustCompile(`\s{2,}`)

func tableLines(out string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		rows = append(rows, cellsRE.Split(strings.TrimSpace(l), -1))
	}
	return rows
}

// TestKubectlExplainGetApply: the installed kubectl, against an apiserver
// authorizing with Node,RBAC, explains fields from /openapi/v3, prints
// keelctl's columns from the server's Tables (-o wide too), and
// apply --validate=strict refuses an unknown field, storing nothing.
func TestKubectlExplainGetApply(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	kubectl := kubectlAgainst(t, s)

	out, err := kubectl("", "explain", "pod.spec.containers")
	if err != nil {
		t.Fatalf("kubectl explain pod.spec.containers: %v\n%s", err, out)
	}
	for _, want := range []string{"KIND:       Pod", "FIELD: containers <[]Container>", "name\t<string> -required-", "ports\t<[]ContainerPort>"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain pod.spec.containers lacks %q:\n%s", want, out)
		}
	}

	out, err = kubectl(`apiVersion: v1
kind: Pod
metadata: {name: web-1, labels: {app: web}}
spec:
  containers: [{name: app, image: busybox}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx:1.27}]
`, "apply", "--validate=strict", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}

	for _, tc := range []struct {
		resource string
		wide     bool
		want     []string // the first cells of the object's row
	}{
		{"pods", false, []string{"web-1", "0/1", "Pending", "0"}},
		{"deployments", true, []string{"web", "0/2", "0", "0"}},
	} {
		args := []string{"get", tc.resource}
		if tc.wide {
			args = append(args, "-o", "wide")
		}
		out, err := kubectl("", args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		k, _ := scheme.ByResource(tc.resource)
		rows := tableLines(out)
		if got, want := strings.Join(rows[0], "|"), strings.Join(printers.Header(k, printers.Options{Wide: tc.wide}), "|"); got != want {
			t.Errorf("kubectl %s: columns %s, want keelctl's %s\n%s", strings.Join(args, " "), got, want, out)
		}
		if len(rows) != 2 || strings.Join(rows[1][:len(tc.want)], "|") != strings.Join(tc.want, "|") {
			t.Errorf("kubectl %s: want one row beginning %v:\n%s", strings.Join(args, " "), tc.want, out)
		}
	}
	if out, err := kubectl("", "get", "deploy", "web", "-o", "wide"); err != nil || !strings.Contains(out, "nginx:1.27") || !strings.Contains(out, "app=web") {
		t.Errorf("kubectl get deploy web -o wide: want the image and the selector (%v):\n%s", err, out)
	}

	out, err = kubectl(`apiVersion: apps/v1
kind: Deployment
metadata: {name: typo}
spec:
  replicaz: 2
  selector: {matchLabels: {app: typo}}
  template:
    metadata: {labels: {app: typo}}
    spec:
      containers: [{name: app, image: busybox}]
`, "apply", "--validate=strict", "-f", "-")
	if err == nil || !strings.Contains(out, "spec.replicaz") || !strings.Contains(out, "unknown field") {
		t.Errorf("kubectl apply --validate=strict with spec.replicaz: want an error naming the field, got %v:\n%s", err, out)
	}
	if out, err := kubectl("", "get", "deployment", "typo"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("after the refused apply, kubectl get deployment typo: %v\n%s", err, out)
	}
}

// TestRESTOpenAPIAndTable: the apiserver serves /openapi/v2 (Swagger
// 2.0, with ETag revalidation), /openapi/v3 (an index whose hashed URLs
// lead to each group version's document) and answers a Table request
// with keelctl's columns.
func TestRESTOpenAPIAndTable(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	c := newRESTClient(t, s)

	r := c.do("GET", "/openapi/v2", "", "", "Accept", "application/json")
	if r.code != 200 {
		t.Fatalf("/openapi/v2: %d %s", r.code, r.body)
	}
	v2 := r.json(t)
	pod, _ := dig(v2, "definitions", "io.k8s.api.core.v1.Pod").(map[string]any)
	if v2["swagger"] != "2.0" || pod == nil || dig(pod, "x-kubernetes-group-version-kind", 0, "kind") != "Pod" {
		t.Fatalf("/openapi/v2: swagger %v, Pod definition %v", v2["swagger"], pod)
	}
	if dig(v2, "paths", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale") == nil {
		t.Errorf("/openapi/v2 has no deployments/scale path")
	}
	etag := r.header.Get("ETag")
	if again := c.do("GET", "/openapi/v2", "", "", "Accept", "application/json", "If-None-Match", etag); etag == "" || again.code != 304 {
		t.Errorf("/openapi/v2 with If-None-Match %q: %d, want 304", etag, again.code)
	}

	index := c.want(200, "GET", "/openapi/v3", "", "")
	url, _ := dig(index, "paths", "apis/apps/v1", "serverRelativeURL").(string)
	if !strings.HasPrefix(url, "/openapi/v3/apis/apps/v1?hash=") {
		t.Fatalf("/openapi/v3 index: apis/apps/v1 at %q", url)
	}
	apps := c.do("GET", url, "", "", "Accept", "application/json")
	if apps.code != 200 || !strings.Contains(apps.header.Get("Cache-Control"), "immutable") {
		t.Fatalf("%s: %d, Cache-Control %q", url, apps.code, apps.header.Get("Cache-Control"))
	}
	doc := apps.json(t)
	if dig(doc, "components", "schemas", "io.k8s.api.apps.v1.Deployment") == nil || dig(doc, "paths", "/apis/apps/v1/namespaces/{namespace}/deployments") == nil {
		t.Errorf("%s lacks Deployment's schema or paths", url)
	}

	c.want(201, "POST", "/api/v1/namespaces/default/pods", "application/json", restPod)
	tbl := c.want(200, "GET", "/api/v1/namespaces/default/pods", "", "", "Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	k, _ := scheme.ByResource("pods")
	var cols []string
	for _, d := range dig(tbl, "columnDefinitions").([]any) {
		if dig(d, "priority") == float64(0) {
			cols = append(cols, strings.ToUpper(dig(d, "name").(string)))
		}
	}
	if tbl["kind"] != "Table" || tbl["apiVersion"] != "meta.k8s.io/v1" || strings.Join(cols, "|") != strings.Join(printers.Header(k, printers.Options{}), "|") {
		t.Errorf("pods as Table: %v %v, columns %v, want %v", tbl["apiVersion"], tbl["kind"], cols, printers.Header(k, printers.Options{}))
	}
	if dig(tbl, "rows", 0, "cells", 0) != "web" || dig(tbl, "rows", 0, "object", "kind") != "PartialObjectMetadata" {
		t.Errorf("pods as Table: rows %v", tbl["rows"])
	}
}

// TestKubectlStrategicMergePatch: kubectl patch (strategic by default),
// kubectl apply of a changed manifest and a strategic patch of the scale
// subresource, against an apiserver authorizing with Node,RBAC, merge
// lists by the keys Kubernetes declares (containers by name) instead of
// replacing them; a $patch: delete directive removes one element.
func TestKubectlStrategicMergePatch(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	kubectl := kubectlAgainst(t, s)
	const deploy = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web, tier: front}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: app, image: nginx:1.27, ports: [{containerPort: 80}]}
      - {name: sidecar, image: busybox:1.36}
`
	if out, err := kubectl(deploy, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	images := func() string {
		t.Helper()
		out, err := kubectl("", "get", "deployment", "web", "-o", `jsonpath={range .spec.template.spec.containers[*]}{.name}={.image}{" "}{end}`)
		if err != nil {
			t.Fatalf("kubectl get: %v\n%s", err, out)
		}
		return strings.TrimSpace(out)
	}

	if out, err := kubectl("", "patch", "deployment", "web", "-p", `{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.37"}]}}}}`); err != nil {
		t.Fatalf("kubectl patch: %v\n%s", err, out)
	}
	if got, want := images(), "app=nginx:1.27 sidecar=busybox:1.37"; got != want {
		t.Errorf("after a strategic patch of the sidecar: containers %q, want %q", got, want)
	}
	if out, err := kubectl("", "patch", "deployment", "web", "--type", "strategic", "-p", `{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}`); err != nil {
		t.Fatalf("kubectl patch $patch: delete: %v\n%s", err, out)
	}
	if got, want := images(), "app=nginx:1.27"; got != want {
		t.Errorf("after $patch: delete: containers %q, want %q", got, want)
	}

	// apply computes a strategic patch from the last applied
	// configuration: the new image comes, the removed label goes, and so
	// do the replicas (set by kubectl scale since, but dropped from the
	// manifest): defaulted to 1 again.
	if out, err := kubectl("", "scale", "deployment", "web", "--replicas", "3"); err != nil {
		t.Fatalf("kubectl scale: %v\n%s", err, out)
	}
	changed := strings.NewReplacer(", tier: front", "", "nginx:1.27", "nginx:1.28", "  replicas: 1\n", "").Replace(deploy)
	if out, err := kubectl(changed, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply (changed): %v\n%s", err, out)
	}
	if got, want := images(), "app=nginx:1.28 sidecar=busybox:1.36"; got != want {
		t.Errorf("after apply: containers %q, want %q", got, want)
	}
	out, err := kubectl("", "get", "deployment", "web", "-o", "jsonpath={.metadata.labels} {.spec.replicas} {.spec.template.spec.containers[0].ports[0].containerPort}")
	if err != nil || out != `{"app":"web"} 1 80` {
		t.Errorf("after apply: labels, replicas and port %q (%v), want {\"app\":\"web\"} 1 80", out, err)
	}

	if out, err := kubectl("", "patch", "deployment", "web", "--subresource", "scale", "-p", `{"spec":{"replicas":2}}`); err != nil {
		t.Fatalf("kubectl patch --subresource scale: %v\n%s", err, out)
	}
	if out, _ := kubectl("", "get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"); out != "2" {
		t.Errorf("after a strategic patch of scale: replicas %q, want 2", out)
	}
}
