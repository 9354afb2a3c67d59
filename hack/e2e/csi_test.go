package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/csi"
	"keel.dev/keel/pkg/testutil"
)

// TestCSI runs the CSI path on a real node (hack/local-up.sh, containerd)
// with the repository's CSI driver (hack/csi-hostpath): its node plugin
// registers with the kubelet through the plugins_registry socket (the
// node's CSINode lists it); its controller service is the
// controller-manager's (--csi-controller-endpoints). A pod with a claim of
// a CSI StorageClass (WaitForFirstConsumer, attachRequired) gets a volume
// provisioned by CreateVolume, attached through a VolumeAttachment,
// staged and published by the kubelet, and given to the pod's fsGroup
// (the CSIDriver's fsGroupPolicy File); it writes, is replaced, and the
// new pod reads the data back; the kubelet reports the volume's usage
// from NodeGetVolumeStats; deleting the pod detaches and unstages it,
// deleting the claim calls DeleteVolume.
func TestCSI(t *testing.T) {
	const driver = "hostpath.csi.keel.dev"
	csiDir, err := os.MkdirTemp("", "keel-csi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(csiDir) })
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(csiDir, "csi-hostpath")
	build := exec.Command("go", "build", "-o", bin, "./hack/csi-hostpath")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the driver: %v\n%s", err, out)
	}
	ctlSock := filepath.Join(csiDir, "controller.sock")
	lc := localUpEnv(t, "KEEL_CSI_CONTROLLER_ENDPOINTS="+driver+"=unix://"+ctlSock)
	dir, keelctl, c := lc.dir, lc.keelctl, lc.client
	node, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	volumes := filepath.Join(csiDir, "volumes")
	logFile, err := os.Create(filepath.Join(csiDir, "driver.log"))
	if err != nil {
		t.Fatal(err)
	}
	drv := exec.Command(bin, "--driver-name", driver, "--root", volumes, "--node-id", node,
		"--controller-endpoint", ctlSock, "--node-endpoint", filepath.Join(csiDir, "node.sock"),
		"--kubelet-registration-dir", filepath.Join(dir, "kubelet", "plugins_registry"))
	drv.Stdout, drv.Stderr = logFile, logFile
	if err := drv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = drv.Process.Signal(os.Interrupt)
		_ = drv.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("driver log:\n%s", b)
		}
	})

	testutil.Eventually(t, time.Minute, "the driver in the node's CSINode", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cn, err := client.For[*storagev1.CSINode](c, "").Get(ctx, node)
		if err != nil {
			return err
		}
		for _, d := range cn.GetSpec().GetDrivers() {
			if d.GetName() == driver && d.GetNodeId() == node && strings.Join(d.GetTopologyKeys(), ",") == "kubernetes.io/hostname" {
				return nil
			}
		}
		return fmt.Errorf("drivers %v", cn.GetSpec().GetDrivers())
	})

	apply := func(name, manifest string) {
		t.Helper()
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := keelctl("apply", "-f", path); err != nil {
			t.Fatalf("keelctl apply %s: %v\n%s\n%s", name, err, out, lc.logs())
		}
	}
	running := func(name string) {
		t.Helper()
		testutil.Eventually(t, 3*time.Minute, "pod "+name+" running", func() error {
			out, err := keelctl("get", "pod", name)
			if err != nil || !strings.Contains(out, "Running") {
				d, _ := keelctl("describe", "pod", name)
				return fmt.Errorf("%v\n%s\n%s", err, out, d)
			}
			return nil
		})
	}
	gone := func(what string, get func(ctx context.Context) error) {
		t.Helper()
		testutil.Eventually(t, 2*time.Minute, what+" gone", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := get(ctx); !apierrors.IsNotFound(err) {
				return fmt.Errorf("%s: %v", what, err)
			}
			return nil
		})
	}
	pod := func(name, command string) string {
		return `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {fsGroup: 2345}
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: csi-data}
  containers:
  - name: app
    image: registry.keel.test/busybox:1.35
    command: ["sh", "-c", "` + command + `; exec sleep 3600"]
    volumeMounts: [{name: data, mountPath: /data}]
`
	}
	apply("class", `apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: `+driver+`
spec:
  attachRequired: true
  podInfoOnMount: true
  fsGroupPolicy: File
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: csi-hostpath
provisioner: `+driver+`
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: csi-data
spec:
  storageClassName: csi-hostpath
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
`)
	apply("writer", pod("writer", "echo hello > /data/greeting"))
	running("writer")
	ctx := context.Background()
	claim, err := client.For[*corev1.PersistentVolumeClaim](c, "default").Get(ctx, "csi-data")
	if err != nil {
		t.Fatal(err)
	}
	pvName := claim.GetSpec().GetVolumeName()
	pv, err := client.For[*corev1.PersistentVolume](c, "").Get(ctx, pvName)
	if err != nil {
		t.Fatal(err)
	}
	src := pv.GetSpec().GetCsi()
	if src.GetDriver() != driver || src.GetVolumeHandle() != "pvc-"+claim.GetMetadata().GetUid() || pv.GetMetadata().GetAnnotations()["pv.kubernetes.io/provisioned-by"] != driver {
		t.Fatalf("the provisioned volume: %v", pv)
	}
	volDir := filepath.Join(volumes, src.GetVolumeHandle())
	if b, err := os.ReadFile(filepath.Join(volDir, "greeting")); err != nil || string(b) != "hello\n" {
		t.Errorf("the driver's directory %s: %v %q", volDir, err, b)
	}
	// fsGroupPolicy File: the published volume takes the pod's fsGroup,
	// and what the pod writes inherits it (setgid).
	for _, p := range []string{volDir, filepath.Join(volDir, "greeting")} {
		if fi, err := os.Stat(p); err != nil || fi.Sys().(*syscall.Stat_t).Gid != 2345 {
			t.Errorf("%s: %v, want group 2345 (the pod's fsGroup)", p, err)
		}
	}
	vaName := csi.AttachmentName(src.GetVolumeHandle(), driver, node)
	va, err := client.For[*storagev1.VolumeAttachment](c, "").Get(ctx, vaName)
	if err != nil || !va.GetStatus().GetAttached() || va.GetStatus().GetAttachmentMetadata()["hostpath.csi.keel.dev/attached-to"] != node {
		t.Errorf("the VolumeAttachment %s: %v %v", vaName, va, err)
	}
	staging := filepath.Join(dir, "kubelet", "plugins", "kubernetes.io", "csi", driver, csi.VolumeHandleDir(src.GetVolumeHandle()), "globalmount")
	if !mounted(t, staging) {
		t.Errorf("the volume is not staged at %s", staging)
	}

	// The kubelet reports the volume's usage as the driver measures it.
	port := ""
	for _, e := range lc.env {
		if v, ok := strings.CutPrefix(e, "KEEL_KUBELET_HEALTHZ_PORT="); ok {
			port = v
		}
	}
	testutil.Eventually(t, time.Minute, "the claim's usage in the kubelet's metrics", func() error {
		resp, err := http.Get("http://127.0.0.1:" + port + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "kubelet_volume_stats_used_bytes{") && strings.Contains(line, `persistentvolumeclaim="csi-data"`) {
				return nil
			}
		}
		return fmt.Errorf("no kubelet_volume_stats_used_bytes of csi-data")
	})

	if out, err := keelctl("delete", "pod", "writer"); err != nil {
		t.Fatalf("keelctl delete pod: %v\n%s", err, out)
	}
	gone("pod writer", func(ctx context.Context) error { _, err := c.Pods("default").Get(ctx, "writer"); return err })
	gone("the VolumeAttachment", func(ctx context.Context) error {
		_, err := client.For[*storagev1.VolumeAttachment](c, "").Get(ctx, vaName)
		return err
	})
	testutil.Eventually(t, time.Minute, "the volume unstaged", func() error {
		if mounted(t, staging) {
			return fmt.Errorf("%s still mounted", staging)
		}
		return nil
	})

	apply("reader", pod("reader", "true"))
	running("reader")
	if out, err := keelctl("exec", "reader", "--", "cat", "/data/greeting"); err != nil || out != "hello\n" {
		t.Errorf("the second pod reads %q (%v), want the first one's hello", out, err)
	}
	if out, err := keelctl("delete", "pod", "reader"); err != nil {
		t.Fatalf("keelctl delete pod: %v\n%s", err, out)
	}
	gone("pod reader", func(ctx context.Context) error { _, err := c.Pods("default").Get(ctx, "reader"); return err })
	if out, err := keelctl("delete", "pvc", "csi-data"); err != nil {
		t.Fatalf("keelctl delete pvc: %v\n%s", err, out)
	}
	gone("volume "+pvName, func(ctx context.Context) error {
		_, err := client.For[*corev1.PersistentVolume](c, "").Get(ctx, pvName)
		return err
	})
	if _, err := os.Stat(volDir); !os.IsNotExist(err) {
		t.Errorf("the deleted volume's directory: %v, want DeleteVolume to have removed it", err)
	}
}

// mounted tells whether p is a mount point (/proc/self/mountinfo).
func mounted(t *testing.T, p string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 5 && f[4] == p {
			return true
		}
	}
	return false
}
