package main

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
)

func TestDelete(t *testing.T) {
	t.Parallel()
	k := startCluster(t)
	seed(t, k)
	ctx := k.ctx()
	dir := t.TempDir()

	// By name, by TYPE/NAME, by file.
	if out := k.run("delete", "pod", "new").ok(t); out != "pod \"new\" deleted\n" {
		t.Errorf("delete by name: %q", out)
	}
	f := write(t, dir, "web.yaml", webDeployment)
	k.run("apply", "-f", f).ok(t)
	if out := k.run("delete", "-f", f).ok(t); out != "deployment.apps \"web\" deleted\n" {
		t.Errorf("delete -f: %q", out)
	}
	k.run("delete", "-f", f).fails(t, `Error from server (NotFound): error when deleting "`+f+`": deployments.apps "web" not found`)
	if out := k.run("delete", "-f", f, "--ignore-not-found").ok(t); out != "" {
		t.Errorf("ignore-not-found: %q", out)
	}
	k.run("delete", "svc/web").ok(t)
	k.run("delete", "pod", "nope").fails(t, `Error from server (NotFound): pods "nope" not found`)
	k.run("delete", "pods").fails(t, "resource(s) were provided, but no name was specified")
	k.run("delete").fails(t, "you must provide one or more resources")
	k.run("delete", "pods", "--all", "--cascade=sideways").fails(t, "invalid cascade value")

	// By label.
	for _, n := range []string{"a1", "a2", "b1"} {
		app := n[:1]
		cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: n, Namespace: "default", Labels: map[string]string{"app": app}}}
		if _, err := k.c.ConfigMaps("default").Create(ctx, cm, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if out := k.run("delete", "cm", "-l", "app=a").ok(t); out != "configmap \"a1\" deleted\nconfigmap \"a2\" deleted\n" {
		t.Errorf("delete -l: %q", out)
	}
	l, err := k.c.ConfigMaps("default").List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 1 || l.Items[0].GetMetadata().GetName() != "b1" {
		t.Errorf("left: %v", l.Items)
	}
	r := k.run("delete", "cm", "-l", "app=zzz")
	if r.ok(t); r.err != "No resources found\n" {
		t.Errorf("nothing selected: %q", r.err)
	}
	// --all in another namespace, -o name.
	if out := k.run("delete", "pods", "--all", "-n", "shop", "-o", "name").ok(t); out != "pod/cart\n" {
		t.Errorf("delete --all: %q", out)
	}

	// Cascade: orphan and foreground leave a finalizer for the garbage
	// collector (not running here); --wait=false returns at once.
	for _, tc := range []struct{ cascade, finalizer string }{{"orphan", "orphan"}, {"foreground", "foregroundDeletion"}} {
		k.run("apply", "-f", f).ok(t)
		k.run("delete", "deploy", "web", "--cascade="+tc.cascade, "--wait=false").ok(t)
		d, err := k.c.Deployments("default").Get(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if d.GetMetadata().GetDeletionTimestamp() == nil || !strings.Contains(strings.Join(d.GetMetadata().GetFinalizers(), ","), tc.finalizer) {
			t.Errorf("--cascade=%s: %v", tc.cascade, d.GetMetadata())
		}
		// Waiting for it times out.
		k.run("delete", "deploy", "web", "--timeout=200ms").fails(t, "timed out waiting for the deletion of deployment.apps/web")
		// The collector's part: drop the finalizer; the object goes.
		err = client.RetryOnConflict(client.DefaultRetry, func() error {
			d, err := k.c.Deployments("default").Get(ctx, "web")
			if err != nil {
				return err
			}
			d.Metadata.Finalizers = nil
			_, err = k.c.Deployments("default").Update(ctx, d, client.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.c.Deployments("default").Get(ctx, "web"); !apierrors.IsNotFound(err) {
			t.Fatalf("deployment still there: %v", err)
		}
	}
}

// TestDeleteWaits: a pod on a node is deleted gracefully; delete waits
// until the kubelet's part (here done by the test) removes it.
func TestDeleteWaits(t *testing.T) {
	t.Parallel()
	k := startCluster(t)
	ctx := k.ctx()
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &corev1.PodSpec{NodeName: "node-1", Containers: []*corev1.Container{{Name: "app", Image: "busybox"}}}}
	if _, err := k.c.Pods("default").Create(ctx, pod, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out syncBuffer
	done := make(chan result, 1)
	go func() { done <- k.runWith(runOpts{ctx: wctx, out: &out}, "delete", "pod", "web", "--grace-period=20") }()

	var marked *corev1.Pod
	eventually(t, 10*time.Second, func() bool {
		p, err := k.c.Pods("default").Get(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		marked = p
		return p.GetMetadata().GetDeletionTimestamp() != nil
	}, "pod not marked for deletion")
	if marked.GetMetadata().GetDeletionGracePeriodSeconds() != 20 {
		t.Errorf("grace period %d, want 20", marked.GetMetadata().GetDeletionGracePeriodSeconds())
	}
	eventually(t, 10*time.Second, func() bool { return out.String() == "pod \"web\" deleted\n" }, "no output: %q", out.String())
	select {
	case r := <-done:
		t.Fatalf("delete returned before the pod was gone: %+v", r)
	default:
	}
	// The kubelet confirms: delete with grace 0.
	if _, _, err := k.c.Pods("default").Delete(ctx, "web", client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.code != 0 {
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
		if _, err := k.c.Pods("default").Create(ctx, pod, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		r := k.run("delete", "pod", "web", tc.flag, "--wait=false")
		r.ok(t)
		p, err := k.c.Pods("default").Get(ctx, "web")
		if tc.gone {
			if !apierrors.IsNotFound(err) {
				t.Errorf("%s: pod still there: %v", tc.flag, err)
			}
			if !strings.Contains(r.err, "Immediate deletion does not wait") {
				t.Errorf("%s: no warning: %q", tc.flag, r.err)
			}
			continue
		}
		if err != nil || p.GetMetadata().GetDeletionGracePeriodSeconds() != tc.grace {
			t.Errorf("%s: %v %v", tc.flag, err, p.GetMetadata())
		}
		if _, _, err := k.c.Pods("default").Delete(ctx, "web", client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
			t.Fatal(err)
		}
	}
}
