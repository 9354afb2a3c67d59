package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// greetingCRD is the operator's CustomResourceDefinition: Greetings with a
// required spec.message and a status subresource.
const greetingCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: greetings.demo.keel.dev
spec:
  group: demo.keel.dev
  scope: Namespaced
  names: {plural: greetings, singular: greeting, kind: Greeting, shortNames: [gr]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Message, type: string, jsonPath: .spec.message}
    - {name: Ready, type: boolean, jsonPath: .status.ready}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [message]
            properties:
              message: {type: string, minLength: 1}
          status:
            type: object
            properties:
              observedGeneration: {type: integer}
              ready: {type: boolean}
`

// greeterRBAC is what the operator may do, and no more: read its custom
// resources and write their status, keep ConfigMaps, record events.
const greeterRBAC = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: greeter}
rules:
- apiGroups: [demo.keel.dev]
  resources: [greetings]
  verbs: [get, list, watch]
- apiGroups: [demo.keel.dev]
  resources: [greetings/status]
  verbs: [get, update, patch]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create, update, patch]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: greeter}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: greeter}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: greeter}
`

// TestOperator runs an operator built with controller-runtime
// (hack/e2e/operator, a module of its own) against keel-apiserver (Node,
// RBAC) and keel-controller-manager, as a user holding only its
// ClusterRole: it reconciles each Greeting custom resource into a
// ConfigMap it owns and reports status through the status subresource; a
// changed Greeting updates the ConfigMap, a deleted ConfigMap comes back,
// a Greeting breaking its schema is refused, and deleting the Greeting
// lets the garbage collector remove the ConfigMap; a namespace deleted
// takes its custom resources with it. kubectl drives the custom
// resources.
func TestOperator(t *testing.T) {
	kubectlPath(t)
	c := startClientsCluster(t, true)
	operator := filepath.Join(t.TempDir(), "operator")
	build := exec.Command("go", "build", "-o", operator, ".")
	build.Dir = "operator"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the operator: %v\n%s", err, out)
	}
	if _, err := pki.IssueInDir(c.pkiDir, "greeter", pki.CertSpec{CommonName: "greeter", Client: true}); err != nil {
		t.Fatal(err)
	}
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
	must(greetingCRD, "apply", "-f", "-")
	must("", "wait", "--for=condition=Established", "crd/greetings.demo.keel.dev", "--timeout=60s")
	must(greeterRBAC, "apply", "-f", "-")

	op := daemontest.Start(t, operator, "--kubeconfig", daemontest.KubeconfigTLS(t, c.pkiDir, "greeter", c.server))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("operator output:\n%s", op.Out.String())
		}
	})

	must("apiVersion: demo.keel.dev/v1\nkind: Greeting\nmetadata: {name: hello, namespace: default}\nspec: {message: hi}\n", "apply", "-f", "-")
	jsonpath := func(args ...string) string {
		out, err := run("", append([]string{"get"}, args...)...)
		if err != nil {
			return "error: " + out
		}
		return out
	}
	wantEventually := func(what, want string, args ...string) {
		t.Helper()
		testutil.Eventually(t, time.Minute, what, func() error {
			if got := jsonpath(args...); got != want {
				return &mismatch{got, want}
			}
			return nil
		})
	}
	wantEventually("the Greeting's ConfigMap", "hi", "configmap", "hello-greeting", "-o", "jsonpath={.data.message}")
	wantEventually("the Greeting's status", "1 true", "greeting", "hello", "-o", "jsonpath={.status.observedGeneration} {.status.ready}")
	if out := must("", "get", "configmap", "hello-greeting", "-o", "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.metadata.ownerReferences[0].controller}"); out != "Greeting/hello true" {
		t.Errorf("the ConfigMap's owner = %q, want the Greeting hello as controller", out)
	}
	if out := must("", "get", "gr"); !strings.Contains(out, "MESSAGE") || !strings.Contains(out, "hello   hi") {
		t.Errorf("kubectl get gr lacks the printer columns:\n%s", out)
	}

	must("", "patch", "greeting", "hello", "--type=merge", "-p", `{"spec":{"message":"hello again"}}`)
	wantEventually("the updated ConfigMap", "hello again", "configmap", "hello-greeting", "-o", "jsonpath={.data.message}")
	wantEventually("the status of generation 2", "2 true", "greeting", "hello", "-o", "jsonpath={.status.observedGeneration} {.status.ready}")

	must("", "delete", "configmap", "hello-greeting")
	wantEventually("the ConfigMap made again", "hello again", "configmap", "hello-greeting", "-o", "jsonpath={.data.message}")

	if out, err := run("apiVersion: demo.keel.dev/v1\nkind: Greeting\nmetadata: {name: empty, namespace: default}\nspec: {message: \"\"}\n", "apply", "-f", "-"); err == nil || !strings.Contains(out, "spec.message") {
		t.Errorf("a Greeting breaking its schema was not refused naming spec.message: %v\n%s", err, out)
	}

	must("", "delete", "greeting", "hello")
	if out, err := run("", "get", "greeting", "hello"); err == nil || !strings.Contains(out, "NotFound") {
		t.Errorf("the Greeting is still there after kubectl delete: %v\n%s", err, out)
	}
	testutil.Eventually(t, time.Minute, "the garbage collector removing the ConfigMap", func() error {
		if out, err := run("", "get", "configmap", "hello-greeting"); err == nil || !strings.Contains(out, "NotFound") {
			return &mismatch{out, "NotFound"}
		}
		return nil
	})

	// A namespace being deleted takes its custom resources with it.
	must("", "create", "namespace", "ops")
	must("apiVersion: demo.keel.dev/v1\nkind: Greeting\nmetadata: {name: bye, namespace: ops}\nspec: {message: bye}\n", "apply", "-f", "-")
	must("", "delete", "namespace", "ops", "--wait=false")
	testutil.Eventually(t, time.Minute, "the namespace ops and its Greeting gone", func() error {
		if out, err := run("", "get", "namespace", "ops"); err == nil || !strings.Contains(out, "NotFound") {
			return &mismatch{out, "NotFound"}
		}
		return nil
	})
}

type mismatch struct{ got, want string }

func (m *mismatch) Error() string { return "got " + m.got + ", want " + m.want }
