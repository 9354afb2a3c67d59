package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestKubectlVerbs drives the installed kubectl's remaining everyday verbs
// against keel-apiserver (Node,RBAC) with a scheduler, a
// controller-manager and a hollow node, so that Deployments roll out
// without containers: apply (client-side, the last-applied annotation,
// then a re-apply that drops fields), rollout status and undo, describe
// (a pod and a Deployment, with their events), diff (a server-side dry
// run: exit 1 and the change, exit 0 without one, nothing stored), edit
// through $KUBE_EDITOR, label and annotate (--overwrite, removal with
// KEY-), auth can-i (yes and no for a user RBAC limits, --list) and get -o
// custom-columns.
func TestKubectlVerbs(t *testing.T) {
	kubectlPath(t)
	c := startClientsCluster(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := func(stdin string, args ...string) (string, error) { return c.kubectl(ctx, stdin, args...) }
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, err := run(stdin, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	exitCode := func(err error) int {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			return -1
		}
		return 0
	}

	// Client-side apply records the manifest in the last-applied
	// annotation; re-applied without the annotation keel.dev/note and the
	// container's env, both are removed (a three-way strategic merge),
	// and the changed template rolls out as revision 2.
	const first = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {keel.dev/note: first}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: registry.keel.test/busybox:1.35
        env: [{name: MODE, value: first}]
`
	second := strings.Replace(strings.Replace(first, "  annotations: {keel.dev/note: first}\n", "", 1), "        env: [{name: MODE, value: first}]\n", "", 1)
	if out := must(first, "apply", "-f", "-"); !strings.Contains(out, "deployment.apps/web created") {
		t.Errorf("kubectl apply:\n%s", out)
	}
	if out := must("", "get", "deploy", "web", "-o", `jsonpath={.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}`); !strings.Contains(out, `"keel.dev/note":"first"`) {
		t.Errorf("the last-applied annotation after kubectl apply: %q", out)
	}
	rolledOut := func() {
		t.Helper()
		if out := must("", "rollout", "status", "deployment/web", "--timeout", "2m"); !strings.Contains(out, `deployment "web" successfully rolled out`) {
			t.Errorf("kubectl rollout status:\n%s", out)
		}
	}
	rolledOut()
	if out := must(second, "apply", "-f", "-"); !strings.Contains(out, "deployment.apps/web configured") {
		t.Errorf("kubectl apply of the changed manifest:\n%s", out)
	}
	if out := must("", "get", "deploy", "web", "-o", `jsonpath={.metadata.annotations.keel\.dev/note}|{.spec.template.spec.containers[0].env}|{.metadata.generation}`); out != "||2" {
		t.Errorf("after re-applying without the annotation and the env (note|env|generation): %q", out)
	}
	rolledOut()

	// rollout undo brings revision 1's template back (as revision 3),
	// scaling its ReplicaSet up again rather than making another.
	if out := must("", "rollout", "undo", "deployment/web"); !strings.Contains(out, "deployment.apps/web rolled back") {
		t.Errorf("kubectl rollout undo:\n%s", out)
	}
	if out := must("", "get", "deploy", "web", "-o", `jsonpath={.spec.template.spec.containers[0].env[0].value}`); out != "first" {
		t.Errorf("the env after rollout undo: %q, want revision 1's", out)
	}
	rolledOut()
	if out := must("", "get", "rs", "-l", "app=web", "-o", `jsonpath={range .items[*]}{.metadata.annotations.deployment\.kubernetes\.io/revision}={.spec.replicas} {end}`); out != "2=0 3=2 " && out != "3=2 2=0 " {
		t.Errorf("the ReplicaSets after rollout undo (revision=replicas): %q, want revision 1's as revision 3", out)
	}

	// custom-columns, from the objects' JSON.
	if out := must("", "get", "deploy", "-o", "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas,IMAGE:.spec.template.spec.containers[0].image"); out != "NAME   REPLICAS   IMAGE\nweb    2          registry.keel.test/busybox:1.35\n" {
		t.Errorf("kubectl get -o custom-columns:\n%s", out)
	}

	// describe: the Deployment with its ReplicaSets and the controller's
	// events, a pod with its node and the scheduler's event.
	d := must("", "describe", "deployment", "web")
	for _, re := range []string{`(?m)^Name:\s+web$`, `(?m)^Replicas:\s+2 desired \| 2 updated \| 2 total \| 2 available \| 0 unavailable$`,
		`(?m)^NewReplicaSet:\s+web-\w+ \(2/2 replicas created\)$`, `(?m)^Events:`, `Normal\s+ScalingReplicaSet\s+\S+\s+\S+\s+Scaled up replica set web-\w+ to 2`} {
		if !regexp.MustCompile(re).MatchString(d) {
			t.Errorf("kubectl describe deployment lacks %s:\n%s", re, d)
		}
	}
	pod := strings.TrimPrefix(strings.Fields(must("", "get", "pods", "-l", "app=web", "-o", "name"))[0], "pod/")
	p := must("", "describe", "pod", pod)
	for _, re := range []string{`(?m)^Name:\s+` + pod + `$`, `(?m)^Node:\s+hollow-0/127.0.0.1$`, `(?m)^Status:\s+Running$`,
		`(?m)^Controlled By:\s+ReplicaSet/web-`, `Normal\s+Scheduled\s+.*Successfully assigned default/` + pod + ` to hollow-0`} {
		if !regexp.MustCompile(re).MatchString(p) {
			t.Errorf("kubectl describe pod lacks %s:\n%s", re, p)
		}
	}

	// diff: a server-side dry run of the apply; exit 1 with the change,
	// 0 without, and nothing stored either way.
	const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: \"1\"}\n"
	must(cm, "apply", "-f", "-")
	if out, err := run(cm, "diff", "-f", "-"); err != nil || out != "" {
		t.Errorf("kubectl diff of the live manifest: %v (exit %d)\n%s", err, exitCode(err), out)
	}
	changed := strings.Replace(cm, `a: "1"`, `a: "2"`, 1)
	out, err := run(changed, "diff", "-f", "-")
	if exitCode(err) != 1 || !strings.Contains(out, "-  a: \"1\"\n") || !strings.Contains(out, "+  a: \"2\"\n") {
		t.Errorf("kubectl diff of a changed manifest: %v (exit %d, want 1)\n%s", err, exitCode(err), out)
	}
	if out := must("", "get", "cm", "cfg", "-o", "jsonpath={.data.a}"); out != "1" {
		t.Errorf("after kubectl diff, data.a is %q: the dry run stored its change", out)
	}

	// edit: the editor (a script) changes data.a; kubectl patches it in.
	editor := filepath.Join(c.dir, "editor.sh")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/^  a: \"1\"$/  a: edited/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ed := exec.CommandContext(ctx, "kubectl", "edit", "configmap", "cfg")
	ed.Env = append(c.env, "KUBE_EDITOR="+editor)
	if out, err := ed.CombinedOutput(); err != nil || !strings.Contains(string(out), "configmap/cfg edited") {
		t.Errorf("kubectl edit: %v\n%s", err, out)
	}
	if out := must("", "get", "cm", "cfg", "-o", "jsonpath={.data.a}"); out != "edited" {
		t.Errorf("after kubectl edit, data.a is %q", out)
	}

	// label and annotate: set, refused without --overwrite, overwritten,
	// removed with KEY-.
	for _, verb := range []struct{ name, done, path string }{{"label", "labeled", "labels"}, {"annotate", "annotated", "annotations"}} {
		get := func() string {
			return must("", "get", "cm", "cfg", "-o", "jsonpath={.metadata."+verb.path+".tier}")
		}
		if out := must("", verb.name, "configmap", "cfg", "tier=web"); !strings.Contains(out, "configmap/cfg "+verb.done) || get() != "web" {
			t.Errorf("kubectl %s tier=web:\n%s", verb.name, out)
		}
		if out, err := run("", verb.name, "configmap", "cfg", "tier=db"); err == nil || !strings.Contains(out, "--overwrite is false") {
			t.Errorf("kubectl %s tier=db without --overwrite: %v\n%s", verb.name, err, out)
		}
		if out := must("", verb.name, "--overwrite", "configmap", "cfg", "tier=db"); !strings.Contains(out, "configmap/cfg "+verb.done) || get() != "db" {
			t.Errorf("kubectl %s --overwrite tier=db:\n%s", verb.name, out)
		}
		must("", verb.name, "configmap", "cfg", "tier-")
		if out := must("", "get", "cm", "cfg", "-o", "jsonpath={.metadata."+verb.path+"}"); strings.Contains(out, "tier") {
			t.Errorf("after kubectl %s tier-: %s", verb.name, out)
		}
	}

	// auth can-i: eve may read pods in default, nothing else.
	must(`apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: eve-reads-pods}
subjects: [{kind: User, name: eve, apiGroup: rbac.authorization.k8s.io}]
roleRef: {kind: Role, name: pod-reader, apiGroup: rbac.authorization.k8s.io}
`, "apply", "-f", "-")
	for _, q := range []struct {
		args []string
		want string
	}{
		{[]string{"list", "pods"}, "yes"},
		{[]string{"get", "pods/" + pod}, "yes"},
		{[]string{"delete", "pods"}, "no"},
		{[]string{"list", "pods", "-n", "kube-system"}, "no"},
		{[]string{"list", "deployments.apps"}, "no"},
	} {
		out, err := run("", append([]string{"--context", "eve", "auth", "can-i"}, q.args...)...)
		wantExit := 0
		if q.want == "no" {
			wantExit = 1
		}
		if strings.TrimSpace(out) != q.want || exitCode(err) != wantExit {
			t.Errorf("kubectl auth can-i %s as eve: %q (exit %d), want %s", strings.Join(q.args, " "), out, exitCode(err), q.want)
		}
	}
	if out := must("", "auth", "can-i", "delete", "deployments.apps"); strings.TrimSpace(out) != "yes" {
		t.Errorf("kubectl auth can-i delete deployments as the admin: %q", out)
	}
	list := must("", "--context", "eve", "auth", "can-i", "--list")
	if !regexp.MustCompile(`(?m)^pods\s+\[\]\s+\[\]\s+\[get list watch\]$`).MatchString(list) {
		t.Errorf("kubectl auth can-i --list as eve lacks the pods rule:\n%s", list)
	}
	if strings.Contains(list, "deployments") {
		t.Errorf("kubectl auth can-i --list as eve names deployments:\n%s", list)
	}
}
