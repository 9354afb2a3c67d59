package delete_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
)

func TestDelete(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	keelctltest.Seed(t, k)
	ctx := k.Ctx()
	dir := t.TempDir()

	// By name, by TYPE/NAME, by file.
	if out := k.Run("delete", "pod", "new").OK(t); out != "pod \"new\" deleted\n" {
		t.Errorf("delete by name: %q", out)
	}
	f := keelctltest.Write(t, dir, "web.yaml", keelctltest.WebDeployment)
	k.Run("apply", "-f", f).OK(t)
	if out := k.Run("delete", "-f", f).OK(t); out != "deployment.apps \"web\" deleted\n" {
		t.Errorf("delete -f: %q", out)
	}
	k.Run("delete", "-f", f).Fails(t, `Error from server (NotFound): error when deleting "`+f+`": deployments.apps "web" not found`)
	if out := k.Run("delete", "-f", f, "--ignore-not-found").OK(t); out != "" {
		t.Errorf("ignore-not-found: %q", out)
	}
	k.Run("delete", "svc/web").OK(t)
	k.Run("delete", "pod", "nope").Fails(t, `Error from server (NotFound): pods "nope" not found`)
	k.Run("delete", "pods").Fails(t, "resource(s) were provided, but no name was specified")
	k.Run("delete").Fails(t, "you must provide one or more resources")
	k.Run("delete", "pods", "--all", "--cascade=sideways").Fails(t, "invalid cascade value")

	// By label.
	for _, n := range []string{"a1", "a2", "b1"} {
		app := n[:1]
		cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: n, Namespace: "default", Labels: map[string]string{"app": app}}}
		if _, err := k.C.ConfigMaps("default").Create(ctx, cm, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if out := k.Run("delete", "cm", "-l", "app=a").OK(t); out != "configmap \"a1\" deleted\nconfigmap \"a2\" deleted\n" {
		t.Errorf("delete -l: %q", out)
	}
	l, err := k.C.ConfigMaps("default").List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 1 || l.Items[0].GetMetadata().GetName() != "b1" {
		t.Errorf("left: %v", l.Items)
	}
	r := k.Run("delete", "cm", "-l", "app=zzz")
	if r.OK(t); r.Err != "No resources found\n" {
		t.Errorf("nothing selected: %q", r.Err)
	}
	// --all in another namespace, -o name.
	if out := k.Run("delete", "pods", "--all", "-n", "shop", "-o", "name").OK(t); out != "pod/cart\n" {
		t.Errorf("delete --all: %q", out)
	}

	// Cascade: orphan and foreground leave a finalizer for the garbage
	// collector (not running here); --wait=false returns at once.
	for _, tc := range []struct{ cascade, finalizer string }{{"orphan", "orphan"}, {"foreground", "foregroundDeletion"}} {
		k.Run("apply", "-f", f).OK(t)
		k.Run("delete", "deploy", "web", "--cascade="+tc.cascade, "--wait=false").OK(t)
		d, err := k.C.Deployments("default").Get(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if d.GetMetadata().GetDeletionTimestamp() == nil || !strings.Contains(strings.Join(d.GetMetadata().GetFinalizers(), ","), tc.finalizer) {
			t.Errorf("--cascade=%s: %v", tc.cascade, d.GetMetadata())
		}
		// Waiting for it times out.
		k.Run("delete", "deploy", "web", "--timeout=200ms").Fails(t, "timed out waiting for the deletion of deployment.apps/web")
		// The collector's part: drop the finalizer; the object goes.
		err = client.RetryOnConflict(client.DefaultRetry, func() error {
			d, err := k.C.Deployments("default").Get(ctx, "web")
			if err != nil {
				return err
			}
			d.Metadata.Finalizers = nil
			_, err = k.C.Deployments("default").Update(ctx, d, client.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.C.Deployments("default").Get(ctx, "web"); !apierrors.IsNotFound(err) {
			t.Fatalf("deployment still there: %v", err)
		}
	}
}

// TestDeleteWaits: a pod on a node is deleted gracefully; delete waits
// until the kubelet's part (here done by the test) removes it.
func TestDeleteWaits(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	ctx := k.Ctx()
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &corev1.PodSpec{NodeName: "node-1", Containers: []*corev1.Container{{Name: "app", Image: "busybox"}}}}
	if _, err := k.C.Pods("default").Create(ctx, pod, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out keelctltest.SyncBuffer
	done := make(chan keelctltest.Result, 1)
	go func() {
		done <- k.RunWith(keelctltest.RunOpts{Ctx: wctx, Out: &out}, "delete", "pod", "web", "--grace-period=20")
	}()

	var marked *corev1.Pod
	keelctltest.Eventually(t, 10*time.Second, func() bool {
		p, err := k.C.Pods("default").Get(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		marked = p
		return p.GetMetadata().GetDeletionTimestamp() != nil
	}, "pod not marked for deletion")
	if marked.GetMetadata().GetDeletionGracePeriodSeconds() != 20 {
		t.Errorf("grace period %d, want 20", marked.GetMetadata().GetDeletionGracePeriodSeconds())
	}
	keelctltest.Eventually(t, 10*time.Second, func() bool { return out.String() == "pod \"web\" deleted\n" }, "no output: %q", out.String())
	select {
	case r := <-done:
		t.Fatalf("delete returned before the pod was gone: %+v", r)
	default:
	}
	// The kubelet confirms: delete with grace 0.
	if _, _, err := k.C.Pods("default").Delete(ctx, "web", client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.Code != 0 {
			t.Errorf("delete: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("delete did not return after the pod was removed")
	}

	// --now and --force set the grace period: 1 second, then 0 (gone at once).
	for _, tc := range []struct {
		flag  string
		grace int64
		gone  bool
	}{{"--now", 1, false}, {"--force", 0, true}} {
		if _, err := k.C.Pods("default").Create(ctx, pod, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		r := k.Run("delete", "pod", "web", tc.flag, "--wait=false")
		r.OK(t)
		p, err := k.C.Pods("default").Get(ctx, "web")
		if tc.gone {
			if !apierrors.IsNotFound(err) {
				t.Errorf("%s: pod still there: %v", tc.flag, err)
			}
			if !strings.Contains(r.Err, "Immediate deletion does not wait") {
				t.Errorf("%s: no warning: %q", tc.flag, r.Err)
			}
			continue
		}
		if err != nil || p.GetMetadata().GetDeletionGracePeriodSeconds() != tc.grace {
			t.Errorf("%s: %v %v", tc.flag, err, p.GetMetadata())
		}
		if _, _, err := k.C.Pods("default").Delete(ctx, "web", client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
			t.Fatal(err)
		}
	}
}
