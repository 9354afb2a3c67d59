package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/testutil"
)

// TestStorage runs on a real node (hack/local-up.sh, containerd; the
// local-path provisioner's root is the cluster's storage directory):
//   - a pod writes to a claim of the default class (local-path, bound once
//     the pod is scheduled); a second pod with the same claim reads it
//     after the first is gone;
//   - `keelctl delete pvc` of a claim in use only marks it: it goes, with
//     its volume and its directory, once its pod is gone;
//   - a 3-replica StatefulSet with volumeClaimTemplates keeps each
//     replica's data across `keelctl rollout restart`;
//   - downwardAPI and projected volumes show the pod's fields, its
//     ConfigMap and a token, and follow a label change and a ConfigMap
//     update.
func TestStorage(t *testing.T) {
	lc := localUp(t)
	dir, keelctl, c := lc.dir, lc.keelctl, lc.client
	root := filepath.Join(dir, "storage")
	claims := client.For[*corev1.PersistentVolumeClaim](c, "default")
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
		testutil.Eventually(t, 2*time.Minute, "pod "+name+" running", func() error {
			out, err := keelctl("get", "pod", name)
			if err != nil || !strings.Contains(out, "Running") {
				return fmt.Errorf("%v\n%s", err, out)
			}
			return nil
		})
	}
	exec := func(pod string, args ...string) string {
		t.Helper()
		out, err := keelctl(append([]string{"exec", pod, "--"}, args...)...)
		if err != nil {
			t.Fatalf("keelctl exec %s %v: %v\n%s", pod, args, err, out)
		}
		return out
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
	pod := func(name, claim, command string) string {
		return `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  terminationGracePeriodSeconds: 1
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

	t.Run("a claim outlives its pod", func(t *testing.T) {
		apply("claim", `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`)
		apply("writer", pod("writer", "data", "echo hello > /data/greeting"))
		running("writer")
		claim, err := claims.Get(context.Background(), "data")
		if err != nil {
			t.Fatal(err)
		}
		if claim.GetStatus().GetPhase() != "Bound" || claim.GetSpec().GetStorageClassName() != "local-path" {
			t.Fatalf("claim: phase %q class %q, want Bound local-path", claim.GetStatus().GetPhase(), claim.GetSpec().GetStorageClassName())
		}
		volume := claim.GetSpec().GetVolumeName()
		volDir := filepath.Join(root, "pvc-"+claim.GetMetadata().GetUid()+"_default_data")
		if b, err := os.ReadFile(filepath.Join(volDir, "greeting")); err != nil || string(b) != "hello\n" {
			t.Errorf("the volume's directory %s: %v %q", volDir, err, b)
		}
		if out, err := keelctl("delete", "pod", "writer"); err != nil {
			t.Fatalf("keelctl delete pod: %v\n%s", err, out)
		}
		gone("pod writer", func(ctx context.Context) error { _, err := c.Pods("default").Get(ctx, "writer"); return err })

		apply("reader", pod("reader", "data", "true"))
		running("reader")
		if got := exec("reader", "cat", "/data/greeting"); got != "hello\n" {
			t.Errorf("the second pod reads %q, want the first one's hello", got)
		}

		// In use: the delete only marks the claim.
		if out, err := keelctl("delete", "pvc", "data", "--wait=false"); err != nil {
			t.Fatalf("keelctl delete pvc: %v\n%s", err, out)
		}
		claim, err = claims.Get(context.Background(), "data")
		if err != nil || claim.GetMetadata().GetDeletionTimestamp() == nil {
			t.Fatalf("the claim in use after delete: %v (%v), want it kept, being deleted", claim.GetMetadata(), err)
		}
		if got := exec("reader", "cat", "/data/greeting"); got != "hello\n" {
			t.Errorf("the pod reads %q after its claim's delete", got)
		}
		if out, err := keelctl("delete", "pod", "reader"); err != nil {
			t.Fatalf("keelctl delete pod: %v\n%s", err, out)
		}
		gone("claim data", func(ctx context.Context) error { _, err := claims.Get(ctx, "data"); return err })
		gone("volume "+volume, func(ctx context.Context) error {
			_, err := client.For[*corev1.PersistentVolume](c, "").Get(ctx, volume)
			return err
		})
		if _, err := os.Stat(volDir); !os.IsNotExist(err) {
			t.Errorf("the deleted volume's directory: %v, want it removed", err)
		}
	})

	t.Run("a StatefulSet keeps its replicas' data across a restart", func(t *testing.T) {
		apply("web", `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  podManagementPolicy: Parallel
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: registry.keel.test/busybox:1.35
        command: ["sh", "-c", "[ -e /data/first ] || hostname > /data/first; exec sleep 3600"]
        volumeMounts: [{name: www, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: www}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 100Mi}}
`)
		uids := map[string]string{}
		for i := range 3 {
			name := fmt.Sprintf("web-%d", i)
			running(name)
			p, err := c.Pods("default").Get(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			uids[name] = p.GetMetadata().GetUid()
			exec(name, "sh", "-c", "echo "+name+"-generation-1 > /data/marker")
		}
		if out, err := keelctl("rollout", "restart", "statefulset/web"); err != nil {
			t.Fatalf("keelctl rollout restart: %v\n%s", err, out)
		}
		if out, err := lc.run(5*time.Minute, "bin/keelctl", "rollout", "status", "statefulset/web", "--timeout", "4m"); err != nil {
			t.Fatalf("keelctl rollout status: %v\n%s\n%s", err, out, lc.logs())
		}
		for i := range 3 {
			name := fmt.Sprintf("web-%d", i)
			running(name)
			p, err := c.Pods("default").Get(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			if p.GetMetadata().GetUid() == uids[name] {
				t.Errorf("%s was not replaced by the restart", name)
			}
			if got := exec(name, "cat", "/data/marker", "/data/first"); got != name+"-generation-1\n"+name+"\n" {
				t.Errorf("%s after the restart reads %q, want its own data", name, got)
			}
		}
		for i := range 3 {
			claim := fmt.Sprintf("www-web-%d", i)
			if pvc, err := claims.Get(context.Background(), claim); err != nil || pvc.GetStatus().GetPhase() != "Bound" {
				t.Errorf("claim %s: %v (%v), want Bound", claim, pvc.GetStatus(), err)
			}
		}
	})
	t.Run("downwardAPI and projected volumes follow the pod and its objects", func(t *testing.T) {
		apply("facts", `apiVersion: v1
kind: ConfigMap
metadata:
  name: facts
data: {colour: blue}
---
apiVersion: v1
kind: Pod
metadata:
  name: facts
  labels: {app: facts, tier: bronze}
  annotations: {owner: team-a}
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
      - {path: cpu-limit, resourceFieldRef: {containerName: app, resource: limits.cpu, divisor: 1m}}
  - name: all
    projected:
      sources:
      - configMap: {name: facts}
      - downwardAPI: {items: [{path: owner, fieldRef: {fieldPath: "metadata.annotations['owner']"}}]}
      - serviceAccountToken: {path: token, expirationSeconds: 3600}
  containers:
  - name: app
    image: registry.keel.test/busybox:1.35
    command: ["sleep", "3600"]
    resources: {limits: {cpu: 250m, memory: 64Mi}}
    volumeMounts: [{name: info, mountPath: /etc/info}, {name: all, mountPath: /etc/all}]
`)
		running("facts")
		// Each file holds its value without a trailing newline, as
		// Kubernetes writes them.
		if got := exec("facts", "sh", "-c", "for f in /etc/info/name /etc/info/cpu-limit /etc/all/colour /etc/all/owner; do cat $f; echo; done"); got != "facts\n250\nblue\nteam-a\n" {
			t.Errorf("the volumes' files read %q, want facts, 250 (millicores), blue, team-a", got)
		}
		if got := exec("facts", "cat", "/etc/info/labels"); got != "app=\"facts\"\ntier=\"bronze\"" {
			t.Errorf("labels file %q", got)
		}
		if got := exec("facts", "sh", "-c", "wc -c < /etc/all/token"); strings.TrimSpace(got) == "0" {
			t.Errorf("the projected token is empty")
		}
		if out, err := keelctl("label", "pod", "facts", "tier=gold", "--overwrite"); err != nil {
			t.Fatalf("keelctl label: %v\n%s", err, out)
		}
		apply("facts-green", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: facts\ndata: {colour: green}\n")
		testutil.Eventually(t, 2*time.Minute, "the volumes following the new label and data", func() error {
			labels, _ := keelctl("exec", "facts", "--", "cat", "/etc/info/labels")
			colour, _ := keelctl("exec", "facts", "--", "cat", "/etc/all/colour")
			if !strings.Contains(labels, `tier="gold"`) || colour != "green" {
				return fmt.Errorf("labels %q, colour %q", labels, colour)
			}
			return nil
		})
	})
}
