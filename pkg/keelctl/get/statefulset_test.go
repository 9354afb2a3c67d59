package get_test

import (
	"os"
	"path/filepath"
	"testing"

	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
)

// TestStatefulSet: Kubernetes' StatefulSet example applies unchanged, gets
// kubectl's columns, describes with its strategy and claim templates, and
// scales through the scale subresource.
func TestStatefulSet(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	manifest, err := os.ReadFile(filepath.Join("..", "..", "..", "manifests", "examples", "statefulset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	k.Run("apply", "-f", keelctltest.Write(t, t.TempDir(), "web.yaml", string(manifest))).OK(t)
	keelctltest.MustHaveLines(t, k.Run("get", "sts").OK(t), "NAME READY AGE", "web 0/3 ")
	out := k.Run("describe", "statefulset", "web").OK(t)
	keelctltest.MustHaveLines(t, out, "Name: web", "Selector: app=nginx", "Replicas: 3 desired | 0 total",
		"Update Strategy: RollingUpdate", "Partition: 0", "Pods Status: 0 Running / 0 Waiting / 0 Succeeded / 0 Failed",
		"Volume Claims:", "Name: www", "StorageClass: my-storage-class", "Capacity: 1Gi", "Access Modes: [ReadWriteOnce]")
	k.Run("scale", "sts", "web", "--replicas=5").OK(t)
	keelctltest.MustHaveLines(t, k.Run("get", "statefulset", "web").OK(t), "web 0/5 ")
}
