package apiserver_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"keel.dev/keel/pkg/apiserver/testserver"
)

// TestKubectlAppliesExamples: every manifest under manifests/examples (the
// Kubernetes documentation examples Keel's kinds are checked against)
// applies unchanged with the installed kubectl, client-side and then
// server-side, against an apiserver authorizing with Node,RBAC; kubectl
// then finds every object it names, and a second server-side apply of the
// same file changes nothing (kubectl diff reports no difference).
func TestKubectlAppliesExamples(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	kubectl := kubectlAgainst(t, s)
	files, err := filepath.Glob("../../manifests/examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	applied := 0
	for _, f := range files {
		name := filepath.Base(f)
		if out, err := kubectl("", "apply", "-f", f); err != nil {
			t.Errorf("kubectl apply -f %s: %v\n%s", name, err, out)
			continue
		}
		out, err := kubectl("", "get", "-f", f, "-o", "name")
		if err != nil || strings.TrimSpace(out) == "" {
			t.Errorf("kubectl get -f %s: %v\n%s", name, err, out)
			continue
		}
		if out, err := kubectl("", "apply", "--server-side", "--force-conflicts", "-f", f); err != nil {
			t.Errorf("kubectl apply --server-side -f %s: %v\n%s", name, err, out)
			continue
		}
		out, err = kubectl("", "diff", "--server-side", "--force-conflicts", "-f", f)
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
			t.Errorf("kubectl diff -f %s after applying it shows a difference:\n%s", name, out)
			continue
		} else if err != nil {
			t.Errorf("kubectl diff -f %s: %v\n%s", name, err, out)
			continue
		}
		applied++
	}
	t.Logf("%d of %d example manifests apply unchanged with kubectl", applied, len(files))
}

// TestKubectlGenerators: kubectl's generators, whose typed clients send
// Kubernetes protobuf bodies, create what they name (the protobuf body is
// read as the same object in JSON would be).
func TestKubectlGenerators(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	kubectl := kubectlAgainst(t, s)
	for _, args := range [][]string{
		{"create", "namespace", "gen"},
		// No controller-manager runs here to make it.
		{"create", "serviceaccount", "default", "-n", "gen"},
		{"create", "configmap", "cm", "-n", "gen", "--from-literal=a=1", "--from-literal=b=two"},
		{"create", "secret", "generic", "sec", "-n", "gen", "--from-literal=token=s3cret"},
		{"create", "serviceaccount", "robot", "-n", "gen"},
		{"create", "deployment", "web", "-n", "gen", "--image=registry.local/busybox:1", "--replicas=2", "--port=80"},
		{"expose", "deployment", "web", "-n", "gen", "--port=80"},
		{"run", "one", "-n", "gen", "--image=registry.local/busybox:1", "--labels=app=one", "--", "sleep", "3600"},
		{"create", "role", "reader", "-n", "gen", "--verb=get,list", "--resource=pods"},
		{"create", "rolebinding", "reader", "-n", "gen", "--role=reader", "--serviceaccount=gen:robot"},
		{"create", "priorityclass", "urgent", "--value=1000"},
	} {
		if out, err := kubectl("", args...); err != nil {
			t.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, tc := range []struct{ args, want string }{
		{"get cm cm -n gen -o jsonpath={.data.a},{.data.b}", "1,two"},
		{"get secret sec -n gen -o jsonpath={.data.token}", "czNjcmV0"},
		{"get deploy web -n gen -o jsonpath={.spec.replicas},{.spec.template.spec.containers[0].ports[0].containerPort}", "2,80"},
		{"get svc web -n gen -o jsonpath={.spec.selector.app},{.spec.ports[0].port}", "web,80"},
		{"get pod one -n gen -o jsonpath={.spec.containers[0].args}", `["sleep","3600"]`},
		{"get rolebinding reader -n gen -o jsonpath={.subjects[0].name}", "robot"},
		{"get priorityclass urgent -o jsonpath={.value}", "1000"},
	} {
		out, err := kubectl("", strings.Fields(tc.args)...)
		if err != nil || strings.TrimSpace(out) != tc.want {
			t.Errorf("kubectl %s = %q (%v), want %q", tc.args, out, err, tc.want)
		}
	}
}
