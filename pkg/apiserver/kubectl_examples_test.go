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
