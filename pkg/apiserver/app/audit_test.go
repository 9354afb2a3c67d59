package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadAuditPolicy: a malformed --audit-policy-file stops the
// apiserver at start with an error naming the file and the field, before
// anything is written: no audit log, no etcd data directory.
func TestBadAuditPolicy(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	doc := "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  resources:\n  - group: \"\"\n    resource: [secrets]\n"
	if err := os.WriteFile(policy, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath, dataDir := filepath.Join(dir, "audit.log"), filepath.Join(dir, "etcd")
	cmd := NewCommand()
	cmd.SetArgs([]string{"--audit-policy-file", policy, "--audit-log-path", logPath, "--data-dir", dataDir,
		"--secure-address", "", "--insecure-address", "127.0.0.1:0", "--http-address", ""})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), policy) || !strings.Contains(err.Error(), "rules[0].resources[0].resource: unknown field") {
		t.Fatalf("error %v, want one naming %s and rules[0].resources[0].resource", err, policy)
	}
	for _, p := range []string{logPath, dataDir} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after a failed start (%v)", p, err)
		}
	}
}
