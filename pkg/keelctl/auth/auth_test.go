package auth_test

import (
	"strings"
	"testing"

	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
	"keel.dev/keel/pkg/pki"
)

// TestAuth: whoami names the caller (the loopback user, a master) or the
// user --as impersonates; can-i answers yes or no with exit status 0 or 1.
func TestAuth(t *testing.T) {
	k := keelctltest.StartCluster(t)
	out := k.Run("auth", "whoami").OK(t)
	keelctltest.MustHaveLines(t, out, "ATTRIBUTE VALUE", "Username system:anonymous-loopback", "Groups [system:masters system:authenticated]")

	out = k.Run("--as", "bob", "--as-group", "devs", "auth", "whoami", "-o", "yaml").OK(t)
	for _, want := range []string{"kind: SelfSubjectReview", "username: bob", "- devs", "- system:authenticated"} {
		if !strings.Contains(out, want) {
			t.Errorf("whoami --as bob -o yaml lacks %q:\n%s", want, out)
		}
	}
	k.Run("--as-group", "devs", "auth", "whoami").Fails(t, "without impersonating a user")

	if out := k.Run("auth", "can-i", "delete", "namespaces").OK(t); out != "yes\n" {
		t.Errorf("can-i as a master: %q", out)
	}
	if out := k.Run("auth", "can-i", "get", "/metrics").OK(t); out != "yes\n" {
		t.Errorf("can-i get /metrics as a master: %q", out)
	}
}

// TestCanIUnderRBAC: against an apiserver with RBAC, can-i says no with
// exit status 1 for what the user lacks, and --list shows its rules.
func TestCanIUnderRBAC(t *testing.T) {
	s := testserver.StartSecure(t, nil, nil)
	kc := s.Kubeconfig(pki.SchedulerName)
	run := func(args ...string) keelctltest.Result {
		return keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, append([]string{"--config", kc}, args...)...)
	}
	if r := run("auth", "can-i", "list", "secrets", "-A"); r.Code != 1 || r.Out != "no\n" {
		t.Errorf("scheduler can-i list secrets: %+v, want no and exit 1", r)
	}
	if out := run("auth", "can-i", "create", "pods", "--subresource", "binding").OK(t); out != "yes\n" {
		t.Errorf("scheduler can-i create pods/binding: %q", out)
	}
	out := run("auth", "can-i", "--list").OK(t)
	keelctltest.MustHaveLines(t, out, "Resources Non-Resource URLs Resource Names Verbs", "selfsubjectaccessreviews.authorization.k8s.io [] [] [create]")
	if out := run("auth", "whoami").OK(t); !strings.Contains(out, "system:kube-scheduler") {
		t.Errorf("whoami as the scheduler: %q", out)
	}
}
