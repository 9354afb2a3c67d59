package apiserver_test

import (
	"strings"
	"testing"

	"keel.dev/keel/pkg/apiserver/testserver"
)

// TestKubectlPodTemplate: a PodTemplate applies with kubectl (its pod spec
// defaulted as a workload's), kubectl get prints kubectl's columns, and a
// change to the template is a new generation while a label change is not.
func TestKubectlPodTemplate(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	kubectl := kubectlAgainst(t, s)
	if out, err := kubectl("", "apply", "-f", "../../manifests/examples/podtemplate.yaml"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	out, err := kubectl("", "get", "podtemplates")
	if err != nil {
		t.Fatalf("kubectl get podtemplates: %v\n%s", err, out)
	}
	if rows := tableLines(out); len(rows) != 2 || strings.Join(rows[0], "|") != "NAME|CONTAINERS|IMAGES|POD LABELS" ||
		strings.Join(rows[1], "|") != "batch-worker|worker|busybox:1.36|app=batch,tier=worker" {
		t.Errorf("kubectl get podtemplates:\n%s", out)
	}
	get := func(path string) string {
		t.Helper()
		out, err := kubectl("", "get", "podtemplate", "batch-worker", "-o", "jsonpath="+path)
		if err != nil {
			t.Fatalf("kubectl get -o jsonpath=%s: %v\n%s", path, err, out)
		}
		return out
	}
	if got := get("{.metadata.generation} {.template.spec.dnsPolicy} {.template.spec.containers[0].imagePullPolicy}"); got != "1 ClusterFirst IfNotPresent" {
		t.Errorf("generation and defaults %q, want 1 ClusterFirst IfNotPresent", got)
	}
	if out, err := kubectl("", "label", "podtemplate", "batch-worker", "team=data"); err != nil {
		t.Fatalf("kubectl label: %v\n%s", err, out)
	}
	if out, err := kubectl("", "patch", "podtemplate", "batch-worker", "--type=merge", "-p", `{"template":{"spec":{"terminationGracePeriodSeconds":5}}}`); err != nil {
		t.Fatalf("kubectl patch: %v\n%s", err, out)
	}
	if got := get("{.metadata.generation} {.template.spec.terminationGracePeriodSeconds}"); got != "2 5" {
		t.Errorf("after a label and a template change: %q, want generation 2", got)
	}
}
