package bootstrappolicy_test

import (
	"testing"

	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/bootstrappolicy"
	"keel.dev/keel/pkg/snapshotfile"
)

// TestOnlyClusterAdminSnapshotsEtcd: an etcd snapshot holds every
// Secret, so of the bootstrap roles only cluster-admin may get it, and no
// daemon's or node's rules allow it.
func TestOnlyClusterAdminSnapshotsEtcd(t *testing.T) {
	a := auth.Attributes{Verb: "get", Path: snapshotfile.HTTPPath}
	for _, r := range bootstrappolicy.ClusterRoles() {
		name := r.GetMetadata().GetName()
		if got := allows(r.GetRules(), a); got != (name == bootstrappolicy.ClusterAdmin) {
			t.Errorf("ClusterRole %s allows get %s: %v", name, snapshotfile.HTTPPath, got)
		}
	}
	for _, rules := range [][]*rbacv1.PolicyRule{bootstrappolicy.SchedulerRules(), bootstrappolicy.ProxierRules(), bootstrappolicy.NodeRules(), bootstrappolicy.ControllerManagerRules()} {
		if allows(rules, a) {
			t.Errorf("daemon rules %v allow get %s", rules, snapshotfile.HTTPPath)
		}
	}
}
