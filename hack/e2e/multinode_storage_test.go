package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/testutil"
)

// mnNode is a node of TestMultiNode's cluster: its name (and network
// namespace), InternalIP and podCIDR.
type mnNode struct{ name, ip, podCIDR string }

// mnStorageRoot is where hack/multinode.sh has the local-path provisioner
// put the volumes of node under its directory dir: each node a root of
// its own, as separate machines would have.
func mnStorageRoot(dir, node string) string { return filepath.Join(dir, node, "storage") }

// testMultiNodeStorage checks, on TestMultiNode's running cluster (its
// state directory dir), that volumes and pods meet on the right node:
//   - a local PersistentVolume whose node affinity names a node (a class
//     without provisioner, WaitForFirstConsumer) draws the pod of its
//     claim, which has no node constraint, to that node, where the pod
//     reads and writes the volume's directory — on each node in turn;
//   - a claim of the default class local-path (WaitForFirstConsumer) is
//     provisioned on the node its pod was placed on: for a pod pinned to
//     each node by nodeSelector, and for a pod the scheduler placed freely,
//     the claim's selected-node annotation and the volume's node affinity
//     name the pod's node, and the directory (with the pod's data) is under
//     that node's storage root only;
//   - deleting those claims (Delete reclaim) removes their volumes and the
//     directories on their nodes.
func testMultiNodeStorage(t *testing.T, dir string, c *client.Client, nodes []mnNode, keelctl func(args ...string) (string, error)) {
	pods := c.Pods("default")
	claims := client.For[*corev1.PersistentVolumeClaim](c, "default")
	volumes := client.For[*corev1.PersistentVolume](c, "")
	ctx10s := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 10*time.Second)
	}
	apply := func(t *testing.T, name, manifest string) {
		t.Helper()
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := keelctl("apply", "-f", path); err != nil {
			t.Fatalf("keelctl apply %s: %v\n%s", name, err, out)
		}
	}
	// running waits until the pod runs and returns it.
	running := func(t *testing.T, name string) *corev1.Pod {
		t.Helper()
		var pod *corev1.Pod
		testutil.Eventually(t, 2*time.Minute, "pod "+name+" running", func() error {
			ctx, cancel := ctx10s()
			defer cancel()
			p, err := pods.Get(ctx, name)
			if err != nil {
				return err
			}
			if p.GetStatus().GetPhase() != api.PodRunning {
				return fmt.Errorf("pod %s on %q: phase %s, %v", name, p.GetSpec().GetNodeName(), p.GetStatus().GetPhase(), p.GetStatus().GetConditions())
			}
			pod = p
			return nil
		})
		return pod
	}
	// fileHolds waits until the file at path (on the host, which shares
	// its filesystem with the nodes) holds want.
	fileHolds := func(t *testing.T, path, want string) {
		t.Helper()
		testutil.Eventually(t, time.Minute, path+" written", func() error {
			b, err := os.ReadFile(path)
			if err != nil || string(b) != want {
				return fmt.Errorf("%s: %v %q, want %q", path, err, b, want)
			}
			return nil
		})
	}
	gone := func(t *testing.T, what string, get func(ctx context.Context) error) {
		t.Helper()
		testutil.Eventually(t, 2*time.Minute, what+" gone", func() error {
			ctx, cancel := ctx10s()
			defer cancel()
			if err := get(ctx); !apierrors.IsNotFound(err) {
				return fmt.Errorf("%s: %v", what, err)
			}
			return nil
		})
	}
	// pod is a pod mounting claim at /data that runs command, on the node
	// named by nodeName if not empty.
	pod := func(name, claim, nodeName, command string) string {
		selector := ""
		if nodeName != "" {
			selector = "\n  nodeSelector: {kubernetes.io/hostname: " + nodeName + "}"
		}
		return `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  terminationGracePeriodSeconds: 1` + selector + `
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: ` + claim + `}
  containers:
  - name: app
    image: registry.keel.test/busybox:1.35
    command: ["sh", "-c", "` + command + `; exec sleep 3600"]
    volumeMounts: [{name: data, mountPath: /data}]
`
	}
	claim := func(name, class, extra string) string {
		return `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: ` + name + `
spec:
  storageClassName: ` + class + `
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 100Mi}}` + extra + `
`
	}
	deletePods := func(t *testing.T, names ...string) {
		t.Helper()
		if out, err := keelctl(append([]string{"delete", "pod", "--wait=false"}, names...)...); err != nil {
			t.Fatalf("keelctl delete pod: %v\n%s", err, out)
		}
		for _, name := range names {
			gone(t, "pod "+name, func(ctx context.Context) error { _, err := pods.Get(ctx, name); return err })
		}
	}

	t.Run("a local volume's node affinity draws its pod to that node", func(t *testing.T) {
		var manifest strings.Builder
		manifest.WriteString(`apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: mn-local
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
`)
		dirs := map[string]string{} // node → its volume's directory
		for i, n := range nodes {
			d := filepath.Join(dir, n.name, "local-volume")
			if err := os.MkdirAll(d, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "greeting"), []byte("hello from "+n.name+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			dirs[n.name] = d
			fmt.Fprintf(&manifest, `---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: mn-local-%[1]d
  labels: {mn-volume: local-%[1]d}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: mn-local
  local: {path: %[2]s}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [%[3]s]}
---
%[4]s---
%[5]s`, i+1, d, n.name,
				claim(fmt.Sprintf("local-%d", i+1), "mn-local", fmt.Sprintf("\n  selector: {matchLabels: {mn-volume: local-%d}}", i+1)),
				pod(fmt.Sprintf("local-%d", i+1), fmt.Sprintf("local-%d", i+1), "", "cp /data/greeting /data/seen"))
		}
		apply(t, "local-volumes", manifest.String())
		for i, n := range nodes {
			name := fmt.Sprintf("local-%d", i+1)
			p := running(t, name)
			if got := p.GetSpec().GetNodeName(); got != n.name {
				t.Errorf("pod %s, whose claim's volume is pinned to %s, runs on %q", name, n.name, got)
			}
			fileHolds(t, filepath.Join(dirs[n.name], "seen"), "hello from "+n.name+"\n")
			ctx, cancel := ctx10s()
			pvc, err := claims.Get(ctx, name)
			cancel()
			if err != nil || pvc.GetSpec().GetVolumeName() != "mn-local-"+fmt.Sprint(i+1) || pvc.GetStatus().GetPhase() != "Bound" {
				t.Errorf("claim %s: %v (%v), want Bound to mn-local-%d", name, pvc.GetSpec(), err, i+1)
			}
		}
		deletePods(t, "local-1", "local-2")
		if out, err := keelctl("delete", "pvc", "local-1", "local-2"); err != nil {
			t.Errorf("keelctl delete pvc: %v\n%s", err, out)
		}
		// Retain: the volumes are Released and their data kept.
		for i, n := range nodes {
			name := fmt.Sprintf("mn-local-%d", i+1)
			testutil.Eventually(t, time.Minute, "volume "+name+" Released", func() error {
				ctx, cancel := ctx10s()
				defer cancel()
				v, err := volumes.Get(ctx, name)
				if err != nil || v.GetStatus().GetPhase() != "Released" {
					return fmt.Errorf("volume %s: %v (%v)", name, v.GetStatus(), err)
				}
				return nil
			})
			if _, err := os.Stat(filepath.Join(dirs[n.name], "seen")); err != nil {
				t.Errorf("a Retain volume's data: %v", err)
			}
		}
		if out, err := keelctl("delete", "pv", "mn-local-1", "mn-local-2"); err != nil {
			t.Errorf("keelctl delete pv: %v\n%s", err, out)
		}
	})

	t.Run("local-path provisions on the node the pod was placed on, and deletes there", func(t *testing.T) {
		// One pod pinned to each node, and one placed freely.
		type placed struct{ name, node string }
		var all []placed
		var manifest strings.Builder
		for i, n := range nodes {
			all = append(all, placed{fmt.Sprintf("lp-%d", i+1), n.name})
		}
		all = append(all, placed{"lp-free", ""})
		for _, p := range all {
			fmt.Fprintf(&manifest, "%s---\n%s---\n", claim(p.name, api.LocalPathClass, ""), pod(p.name, p.name, p.node, "hostname > /data/who"))
		}
		apply(t, "local-path", manifest.String())
		volDirs := map[string]string{} // claim → its directory
		for _, p := range all {
			pd := running(t, p.name)
			node := pd.GetSpec().GetNodeName()
			if p.node != "" && node != p.node {
				t.Errorf("pod %s runs on %q, want %s", p.name, node, p.node)
			}
			var pvc *corev1.PersistentVolumeClaim
			testutil.Eventually(t, time.Minute, "claim "+p.name+" Bound", func() error {
				ctx, cancel := ctx10s()
				defer cancel()
				var err error
				if pvc, err = claims.Get(ctx, p.name); err != nil || pvc.GetStatus().GetPhase() != "Bound" {
					return fmt.Errorf("claim %s: %v (%v)", p.name, pvc.GetStatus(), err)
				}
				return nil
			})
			if got := pvc.GetMetadata().GetAnnotations()[api.AnnSelectedNode]; got != node {
				t.Errorf("claim %s: %s %q, want its pod's node %s", p.name, api.AnnSelectedNode, got, node)
			}
			ctx, cancel := ctx10s()
			v, err := volumes.Get(ctx, pvc.GetSpec().GetVolumeName())
			cancel()
			if err != nil {
				t.Fatalf("volume of claim %s: %v", p.name, err)
			}
			if got := api.VolumePinnedNode(v); got != node {
				t.Errorf("volume %s of claim %s is pinned to %q, want its pod's node %s (node affinity %v)", v.GetMetadata().GetName(), p.name, got, node, v.GetSpec().GetNodeAffinity())
			}
			base := "pvc-" + pvc.GetMetadata().GetUid() + "_default_" + p.name
			volDir := filepath.Join(mnStorageRoot(dir, node), base)
			if got := v.GetSpec().GetLocal().GetPath(); got != volDir {
				t.Errorf("volume %s: path %q, want %s under its node's root", v.GetMetadata().GetName(), got, volDir)
			}
			fileHolds(t, filepath.Join(volDir, "who"), p.name+"\n")
			for _, n := range nodes {
				if n.name == node {
					continue
				}
				if _, err := os.Stat(filepath.Join(mnStorageRoot(dir, n.name), base)); !os.IsNotExist(err) {
					t.Errorf("claim %s (node %s) has a directory under %s's root too: %v", p.name, node, n.name, err)
				}
			}
			volDirs[p.name] = volDir
		}

		// Delete reclaim: the claims go, then their volumes and their
		// directories on their nodes.
		var names []string
		for _, p := range all {
			names = append(names, p.name)
		}
		deletePods(t, names...)
		if out, err := keelctl(append([]string{"delete", "pvc", "--wait=false"}, names...)...); err != nil {
			t.Fatalf("keelctl delete pvc: %v\n%s", err, out)
		}
		for _, p := range all {
			gone(t, "claim "+p.name, func(ctx context.Context) error { _, err := claims.Get(ctx, p.name); return err })
		}
		testutil.Eventually(t, 2*time.Minute, "the local-path volumes gone", func() error {
			ctx, cancel := ctx10s()
			defer cancel()
			l, err := volumes.List(ctx, client.ListOptions{})
			if err != nil {
				return err
			}
			for _, v := range l.Items {
				if v.GetSpec().GetStorageClassName() == api.LocalPathClass {
					return fmt.Errorf("volume %s still there (%s)", v.GetMetadata().GetName(), v.GetStatus().GetPhase())
				}
			}
			return nil
		})
		for name, d := range volDirs {
			if _, err := os.Stat(d); !os.IsNotExist(err) {
				t.Errorf("claim %s's directory %s after its volume's deletion: %v, want it removed", name, d, err)
			}
		}
	})
}
