package auth_test

import (
	"strings"
	"testing"

	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
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
