package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/pki"
)

// TestKubectl drives the installed kubectl against keel-apiserver (Node,
// RBAC) over the REST API, with the kubeconfig keelctl writes as
// hack/local-up.sh writes it: version, api-resources, create -f (validated
// against /openapi), get (the server's Table of keelctl's columns, -o json,
// -o yaml, -w), replace, scale, patch (strategic, merge, json), apply
// --server-side (conflicts, --force-conflicts), explain,
// delete; a user without permissions is refused with 403 Forbidden;
// keelctl reads the same file through $KUBECONFIG. Logs need a kubelet: package rest's tests cover them.
func TestKubectl(t *testing.T) {
	kubectl := kubectlPath(t)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/apiserver", "./cmd/ctl")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the binaries: %v\n%s", err, out)
	}
	ctl := filepath.Join(bin, "ctl")
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	if _, err := pki.Init(pki.InitOptions{Dir: pkiDir, Hostname: "localhost"}); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.IssueInDir(pkiDir, "eve", pki.CertSpec{CommonName: "eve", Client: true}); err != nil {
		t.Fatal(err)
	}
	p := daemontest.FreePorts(t, 2)
	api := daemontest.Start(t, filepath.Join(bin, "apiserver"), "--data-dir", filepath.Join(dir, "etcd"),
		"--secure-address", p[0], "--http-address", p[1], "--embedded-etcd-unsafe-no-fsync",
		"--tls-cert-file", pki.CertPath(pkiDir, pki.APIServerName), "--tls-private-key-file", pki.KeyPath(pkiDir, pki.APIServerName),
		"--client-ca-file", pki.CertPath(pkiDir, pki.CAName))
	api.WaitReady(t, "http://"+p[1]+"/readyz", time.Minute)

	// The kubeconfig, written by keelctl as hack/lib/daemons.sh's
	// client_conf writes it.
	kubeconfig := filepath.Join(dir, "config")
	for _, args := range [][]string{
		{"config", "set-cluster", "keel", "--server", p[0], "--certificate-authority", pki.CertPath(pkiDir, pki.CAName), "--embed-certs"},
		{"config", "set-credentials", "admin", "--client-certificate", pki.CertPath(pkiDir, pki.AdminName), "--client-key", pki.KeyPath(pkiDir, pki.AdminName), "--embed-certs"},
		{"config", "set-credentials", "eve", "--client-certificate", pki.CertPath(pkiDir, "eve"), "--client-key", pki.KeyPath(pkiDir, "eve"), "--embed-certs"},
		{"config", "set-context", "eve", "--cluster", "keel", "--user", "eve"},
		{"config", "set-context", "keel", "--cluster", "keel", "--user", "admin", "--namespace", "default"},
		{"config", "use-context", "keel"},
	} {
		if out, err := exec.Command(ctl, append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("keelctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+dir)
	run := func(stdin string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, kubectl, args...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, err := run(stdin, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	if out := must("", "version"); !strings.Contains(out, "Server Version: v1.") {
		t.Errorf("kubectl version:\n%s", out)
	}
	res := must("", "api-resources")
	for _, want := range []string{"deployments", "deploy", "apps/v1", "Deployment", "pods", "po", "Pod"} {
		if !strings.Contains(res, want) {
			t.Errorf("kubectl api-resources lacks %q:\n%s", want, res)
		}
	}
	// The pods, watched from the start.
	watch := exec.CommandContext(ctx, kubectl, "get", "pods", "-w", "-o", "name")
	watch.Env = env
	watchOut, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = watch.Process.Kill(); _ = watch.Wait() }()
	watched := make(chan string, 16)
	go func() {
		s := bufio.NewScanner(watchOut)
		for s.Scan() {
			watched <- s.Text()
		}
		close(watched)
	}()

	const pod = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: c
    image: registry.keel.test/busybox:1.35
    resources: {requests: {cpu: 100m, memory: 64Mi}}
`
	// No controller-manager runs here to make the namespace's
	// ServiceAccount, which pods need: kubectl's typed generator makes it
	// (it sends Kubernetes' protobuf).
	if out := must("", "create", "serviceaccount", "default"); !strings.Contains(out, "serviceaccount/default created") {
		t.Errorf("kubectl create serviceaccount:\n%s", out)
	}
	if out := must(pod, "create", "-f", "-"); !strings.Contains(out, "pod/web created") {
		t.Errorf("kubectl create:\n%s", out)
	}
	select {
	case line := <-watched:
		if line != "pod/web" {
			t.Errorf("kubectl get -w printed %q, want pod/web", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("kubectl get -w did not see the pod")
	}
	if out := must("", "get", "pods"); !strings.HasPrefix(out, "NAME   READY   STATUS    RESTARTS   AGE\nweb    0/1     Pending   0   ") {
		t.Errorf("kubectl get pods:\n%s", out)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(must("", "get", "pod", "web", "-o", "json")), &obj); err != nil || obj["kind"] != "Pod" {
		t.Errorf("kubectl get -o json: %v %v", err, obj)
	}
	y := must("", "get", "pod", "web", "-o", "yaml")
	if !strings.Contains(y, "cpu: 100m") || !strings.Contains(y, "uid:") {
		t.Errorf("kubectl get -o yaml:\n%s", y)
	}
	// replace: the YAML read back, changed, sent as a PUT.
	if out := must(strings.Replace(y, "app: web", "app: web2", 1), "replace", "-f", "-"); !strings.Contains(out, "pod/web replaced") {
		t.Errorf("kubectl replace:\n%s", out)
	}
	if out := must("", "get", "pods", "-l", "app=web2", "-o", "name"); strings.TrimSpace(out) != "pod/web" {
		t.Errorf("after replace, app=web2 selects %q", out)
	}

	const deploy = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: registry.keel.test/busybox:1.35}]}
`
	must(deploy, "create", "-f", "-")
	if out := must("", "scale", "deployment", "web", "--replicas", "3"); !strings.Contains(out, "deployment.apps/web scaled") {
		t.Errorf("kubectl scale:\n%s", out)
	}
	if out := must("", "get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"); out != "3" {
		t.Errorf("replicas after scale: %q", out)
	}
	// The three patch types: strategic (kubectl's default) merges the
	// containers by name, a merge patch replaces the list, a JSON patch
	// edits one element.
	containers := func() string {
		return must("", "get", "deploy", "web", "-o", `jsonpath={range .spec.template.spec.containers[*]}{.name}={.image} {end}`)
	}
	must("", "patch", "deployment", "web", "-p", `{"spec":{"template":{"spec":{"containers":[{"name":"d","image":"registry.keel.test/busybox:1.36"}]}}}}`)
	if got := containers(); got != "d=registry.keel.test/busybox:1.36 c=registry.keel.test/busybox:1.35 " && got != "c=registry.keel.test/busybox:1.35 d=registry.keel.test/busybox:1.36 " {
		t.Errorf("after a strategic patch adding container d: %q", got)
	}
	must("", "patch", "deployment", "web", "--type", "json", "-p", `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"registry.keel.test/busybox:1.37"}]`)
	if got := containers(); !strings.Contains(got, "=registry.keel.test/busybox:1.37 ") {
		t.Errorf("after a JSON patch of the first image: %q", got)
	}
	must("", "patch", "deployment", "web", "--type", "merge", "-p", `{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"registry.keel.test/busybox:1.35"}]}}}}`)
	if got := containers(); got != "c=registry.keel.test/busybox:1.35 " {
		t.Errorf("after a merge patch replacing the containers: %q", got)
	}
	// Server-side apply: created, then a second manager's change of the
	// same field conflicts until --force-conflicts takes it over; get
	// hides managedFields unless --show-managed-fields.
	const cfg = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: \"1\", b: \"2\"}\n"
	if out := must(cfg, "apply", "--server-side", "-f", "-"); !strings.Contains(out, "configmap/cfg serverside-applied") {
		t.Errorf("kubectl apply --server-side:\n%s", out)
	}
	other := strings.Replace(cfg, `a: "1", b: "2"`, `a: "9"`, 1)
	if out, err := run(other, "apply", "--server-side", "--field-manager", "other", "-f", "-"); err == nil || !strings.Contains(out, `conflict with "kubectl"`) || !strings.Contains(out, ".data.a") {
		t.Errorf("a second manager's apply of data.a: %v\n%s", err, out)
	}
	must(other, "apply", "--server-side", "--field-manager", "other", "--force-conflicts", "-f", "-")
	if out := must("", "get", "cm", "cfg", "-o", "jsonpath={.data.a} {.data.b}"); out != "9 2" {
		t.Errorf("data after the forced apply: %q", out)
	}
	if y := must("", "get", "cm", "cfg", "-o", "yaml"); strings.Contains(y, "managedFields") {
		t.Errorf("kubectl get -o yaml shows managedFields:\n%s", y)
	}
	if y := must("", "get", "cm", "cfg", "-o", "yaml", "--show-managed-fields"); !strings.Contains(y, "manager: other") || !strings.Contains(y, "operation: Apply") || !strings.Contains(y, "f:a: {}") {
		t.Errorf("kubectl get -o yaml --show-managed-fields:\n%s", y)
	}
	if out := must("", "explain", "deployment.spec.replicas"); !strings.Contains(out, "FIELD: replicas <integer>") {
		t.Errorf("kubectl explain deployment.spec.replicas:\n%s", out)
	}

	// eve may do nothing.
	out, err := run("", "--context", "eve", "get", "pods", "-n", "default")
	if err == nil || !strings.Contains(out, "Forbidden") || !strings.Contains(out, `User "eve" cannot list resource "pods"`) {
		t.Errorf("eve: %v\n%s", err, out)
	}

	// keelctl reads the same file through $KUBECONFIG.
	kc := exec.CommandContext(ctx, ctl, "get", "deployments")
	kc.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "KEELCONFIG=", "HOME="+dir)
	if out, err := kc.CombinedOutput(); err != nil || !strings.Contains(string(out), "web") {
		t.Errorf("keelctl with $KUBECONFIG: %v\n%s", err, out)
	}

	if out := must("", "delete", "pod", "web", "--grace-period=0", "--wait=false"); !strings.Contains(out, `pod "web" deleted`) {
		t.Errorf("kubectl delete:\n%s", out)
	}
	if out, err := run("", "get", "pod", "web"); err == nil || !strings.Contains(out, `pods "web" not found`) {
		t.Errorf("after delete: %v\n%s", err, out)
	}
}
