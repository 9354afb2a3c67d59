package get_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
)

func TestGet(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	keelctltest.Seed(t, k)

	out := k.Run("get", "pods").OK(t)
	if l := keelctltest.Lines(out); l[0] != "NAME READY STATUS RESTARTS AGE" {
		t.Errorf("header %q", l[0])
	}
	keelctltest.MustHaveLines(t, out, "crash 0/1 CrashLoopBackOff 3 ", "new 0/1 Pending 0 ", "web 2/2 Running 0 ")
	if strings.Contains(out, "cart") {
		t.Errorf("pods of another namespace listed:\n%s", out)
	}

	out = k.Run("get", "po", "-o", "wide").OK(t)
	keelctltest.MustHaveLines(t, out, "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES", "web 2/2 Running 0 ")
	if !strings.Contains(out, "10.244.1.5") {
		t.Errorf("wide lacks the pod IP:\n%s", out)
	}

	out = k.Run("get", "pods", "-A", "--show-labels").OK(t)
	keelctltest.MustHaveLines(t, out, "NAMESPACE NAME READY STATUS RESTARTS AGE LABELS", "default web 2/2 Running 0 ", "shop cart 0/1 Pending 0 ")
	if !strings.HasSuffix(keelctltest.Lines(out)[len(keelctltest.Lines(out))-1], "app=web") && !strings.Contains(out, "app=web\n") {
		t.Errorf("no labels column:\n%s", out)
	}

	out = k.Run("get", "pods", "-l", "app in (web,batch)", "-o", "name").OK(t)
	if out != "pod/crash\npod/web\n" {
		t.Errorf("selector: %q", out)
	}
	out = k.Run("get", "pods", "--field-selector", "status.phase=Pending", "-o", "name").OK(t)
	if out != "pod/new\n" {
		t.Errorf("field selector: %q", out)
	}
	// Singular, short and case-insensitive names, TYPE/NAME, several types.
	for _, args := range [][]string{{"pod", "web"}, {"PO", "web"}, {"Pods", "web"}, {"pod/web"}, {"Pod/web"}} {
		if out := k.Run(append([]string{"get"}, append(args, "-o", "name")...)...).OK(t); out != "pod/web\n" {
			t.Errorf("get %v: %q", args, out)
		}
	}
	out = k.Run("get", "pods,svc", "-n", "default").OK(t)
	keelctltest.MustHaveLines(t, out, "pod/web 2/2 Running", "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE", "service/web ClusterIP 10.96.")
	if !strings.Contains(out, "\n\nNAME") {
		t.Errorf("no blank line between tables:\n%s", out)
	}
	out = k.Run("get", "pod/web", "service/web").OK(t)
	keelctltest.MustHaveLines(t, out, "pod/web 2/2", "service/web ClusterIP")

	out = k.Run("get", "nodes", "-o", "wide").OK(t)
	keelctltest.MustHaveLines(t, out,
		"NAME STATUS ROLES AGE VERSION INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME")
	if !strings.Contains(keelctltest.Lines(out)[1], "node-1 Ready control-plane ") || !strings.HasSuffix(keelctltest.Lines(out)[1], "v0.1.0 10.0.0.21 <none> Debian GNU/Linux 13 6.12 containerd://2.1") {
		t.Errorf("node row: %q", keelctltest.Lines(out)[1])
	}
	out = k.Run("get", "svc", "-o", "wide").OK(t)
	keelctltest.MustHaveLines(t, out, "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR")
	if l := keelctltest.Lines(out)[1]; !strings.HasPrefix(l, "web ClusterIP 10.96.") || !strings.Contains(l, " <none> 80/TCP ") || !strings.HasSuffix(l, " app=web") {
		t.Errorf("service row: %q", l)
	}
	out = k.Run("get", "events").OK(t)
	keelctltest.MustHaveLines(t, out, "LAST SEEN TYPE REASON OBJECT MESSAGE")
	if l := keelctltest.Lines(out)[1]; !strings.HasSuffix(l, "Warning BackOff pod/crash Back-off restarting failed container") {
		t.Errorf("event row: %q", l)
	}
	out = k.Run("get", "ns").OK(t)
	keelctltest.MustHaveLines(t, out, "NAME STATUS AGE", "default Active ", "shop Active ")
	out = k.Run("get", "priorityclasses").OK(t)
	keelctltest.MustHaveLines(t, out, "NAME VALUE GLOBAL-DEFAULT AGE", "system-node-critical 2000001000 false ")

	// Empty lists say so on stderr.
	r := k.Run("get", "deployments")
	if r.OK(t) != "" || r.Err != "No resources found in default namespace.\n" {
		t.Errorf("empty list: %+v", r)
	}
	r = k.Run("get", "deployments", "-A")
	if r.OK(t) != "" || r.Err != "No resources found\n" {
		t.Errorf("empty list -A: %+v", r)
	}
}

func TestGetErrors(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	keelctltest.Seed(t, k)
	r := k.Run("get", "podz")
	r.Fails(t)
	if r.Err != "error: the server doesn't have a resource type \"podz\"\n" {
		t.Errorf("unknown type: %q", r.Err)
	}
	r = k.Run("get", "pods", "nope")
	r.Fails(t)
	if r.Err != "Error from server (NotFound): pods \"nope\" not found\n" {
		t.Errorf("not found: %q", r.Err)
	}
	// Found ones are printed, missing ones reported.
	r = k.Run("get", "pods", "web", "nope", "-o", "name")
	r.Fails(t, `Error from server (NotFound): pods "nope" not found`)
	if r.Out != "pod/web\n" {
		t.Errorf("partial get: %q", r.Out)
	}
	if out := k.Run("get", "pods", "nope", "--ignore-not-found").OK(t); out != "" {
		t.Errorf("ignore-not-found: %q", out)
	}
	k.Run("get", "pods", "-o", "xml").Fails(t, `unable to match a printer suitable for the output format "xml"`)
	k.Run("get", "pods", "-l", "app=(").Fails(t, "Error from server (BadRequest)")
	k.Run("get", "pods", "--field-selector", "spec.color=red").Fails(t, "Error from server (BadRequest)")
	k.Run("get").Fails(t, "you must specify the type of resource")
	k.Run("get", "pods", "pod/web").Fails(t, "there is no need to specify a resource type as a separate argument")
	k.Run("get", "pods", "web", "-A").Fails(t, "a resource cannot be retrieved by name across all namespaces")
	// An unreachable apiserver.
	keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, "--config", k.NoConf, "--server", "127.0.0.1:1", "--insecure", "get", "pods").
		Fails(t, "Unable to connect to the server")
	// No configuration at all.
	keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, "--config", k.NoConf, "get", "pods").Fails(t, "no such file or directory", "keelctl config set-cluster")
}

// TestRoundTrip: -o yaml and -o json print manifests that apply accepts
// back, for one object and for lists.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	dir := t.TempDir()
	k.Run("apply", "-f", keelctltest.Write(t, dir, "web.yaml", keelctltest.WebDeployment)).OK(t)
	k.Run("apply", "-f", keelctltest.Write(t, dir, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: \"1\"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\nbinaryData:\n  bin: AAEC\n")).OK(t)
	ctx := k.Ctx()

	for _, format := range []string{"yaml", "json"} {
		out := k.Run("get", "deploy", "web", "-o", format).OK(t)
		if format == "yaml" && !strings.HasPrefix(out, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n") {
			t.Errorf("yaml:\n%s", out)
		}
		if format == "json" && !strings.HasPrefix(out, "{\n    \"apiVersion\": \"apps/v1\",\n    \"kind\": \"Deployment\",\n") {
			t.Errorf("json:\n%s", out)
		}
		before, err := k.C.Deployments("default").Get(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		// Re-applied as it is: accepted, the spec unchanged.
		k.RunWith(keelctltest.RunOpts{Stdin: out}, "apply", "-f", "-").OK(t)
		after, err := k.C.Deployments("default").Get(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(before.GetSpec(), after.GetSpec()) {
			t.Errorf("%s round trip changed the spec:\n%v\n%v", format, before.GetSpec(), after.GetSpec())
		}
		// Deleted, then created again from the output.
		k.Run("delete", "deploy", "web").OK(t)
		if got := k.RunWith(keelctltest.RunOpts{Stdin: out}, "apply", "-f", "-").OK(t); got != "deployment.apps/web created\n" {
			t.Errorf("%s re-create: %q", format, got)
		}
		again, err := k.C.Deployments("default").Get(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(before.GetSpec(), again.GetSpec()) || again.GetMetadata().GetUid() == before.GetMetadata().GetUid() {
			t.Errorf("%s re-created object differs", format)
		}

		list := k.Run("get", "configmaps", "-o", format).OK(t)
		if format == "yaml" && !strings.Contains(list, "kind: List\n") {
			t.Errorf("list:\n%s", list)
		}
		k.Run("delete", "cm", "a", "b").OK(t)
		if got := k.RunWith(keelctltest.RunOpts{Stdin: list}, "apply", "-f", "-").OK(t); got != "configmap/a created\nconfigmap/b created\n" {
			t.Errorf("%s list re-create: %q", format, got)
		}
		b, err := k.C.ConfigMaps("default").Get(ctx, "b")
		if err != nil {
			t.Fatal(err)
		}
		if string(b.GetBinaryData()["bin"]) != "\x00\x01\x02" {
			t.Errorf("binary data: %q", b.GetBinaryData()["bin"])
		}
	}
}

// TestGetWatch: get -w prints the list, then a row for every change.
func TestGetWatch(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	ctx := k.Ctx()
	k.Run("apply", "-f", keelctltest.Write(t, t.TempDir(), "web.yaml", keelctltest.WebDeployment)).OK(t)

	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out keelctltest.SyncBuffer
	done := make(chan keelctltest.Result, 1)
	go func() { done <- k.RunWith(keelctltest.RunOpts{Ctx: wctx, Out: &out}, "get", "deployments", "-w") }()
	keelctltest.Eventually(t, 10*time.Second, func() bool { return keelctltest.HasLine(out.String(), "web 0/2 0 0 ") }, "no initial row:\n%s", out.String())
	if l := keelctltest.Lines(out.String()); l[0] != "NAME READY UP-TO-DATE AVAILABLE AGE" {
		t.Errorf("header %q", l[0])
	}

	k.Run("scale", "deploy", "web", "--replicas=5").OK(t)
	keelctltest.Eventually(t, 10*time.Second, func() bool { return keelctltest.HasLine(out.String(), "web 0/5 0 0 ") }, "no row after scaling:\n%s", out.String())
	d, err := k.C.Deployments("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	d.Status = &appsv1.DeploymentStatus{Replicas: 5, ReadyReplicas: 3, UpdatedReplicas: 5, AvailableReplicas: 3}
	if _, err := k.C.Deployments("default").UpdateStatus(ctx, d, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	keelctltest.Eventually(t, 10*time.Second, func() bool { return keelctltest.HasLine(out.String(), "web 3/5 5 3 ") }, "no row after the status change:\n%s", out.String())
	k.Run("delete", "deploy", "web").OK(t)
	keelctltest.Eventually(t, 10*time.Second, func() bool { return strings.Count(out.String(), "\nweb ") >= 4 }, "no row for the deletion:\n%s", out.String())
	if strings.Count(out.String(), "NAME") != 1 {
		t.Errorf("header printed more than once:\n%s", out.String())
	}
	cancel()
	select {
	case r := <-done:
		if r.Code != 0 {
			t.Errorf("watch ended with %d: %s", r.Code, r.Err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not end when cancelled")
	}

	// --watch-only on a name, as yaml documents.
	wctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	var out2 keelctltest.SyncBuffer
	done2 := make(chan keelctltest.Result, 1)
	go func() {
		done2 <- k.RunWith(keelctltest.RunOpts{Ctx: wctx2, Out: &out2}, "get", "configmap", "watched", "--watch-only", "-o", "yaml")
	}()
	// The watch may start after the create: retry the change until seen.
	cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "watched", Namespace: "default"}, Data: map[string]string{"v": "0"}}
	if _, err := k.C.ConfigMaps("default").Create(ctx, cm, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n := 0
	keelctltest.Eventually(t, 10*time.Second, func() bool {
		n++
		err := client.RetryOnConflict(client.DefaultRetry, func() error {
			cur, err := k.C.ConfigMaps("default").Get(ctx, "watched")
			if err != nil {
				return err
			}
			cur.Data["v"] = strings.Repeat("x", n)
			_, err = k.C.ConfigMaps("default").Update(ctx, cur, client.UpdateOptions{})
			return err
		})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return strings.Contains(out2.String(), "name: watched")
	}, "no yaml document:\n%s", out2.String())
	cancel2()
	if r := <-done2; r.Code != 0 || strings.Contains(r.Out, "NAME") {
		t.Errorf("watch-only: %+v", r)
	}
}

// TestGetManagedFields: -o yaml and -o json leave metadata.managedFields
// out unless --show-managed-fields, as kubectl does.
func TestGetManagedFields(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	k.Run("apply", "-f", keelctltest.Write(t, t.TempDir(), "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: \"1\"\n")).OK(t)
	ctx := k.Ctx()
	cm, err := k.C.ConfigMaps("default").Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	cm.Metadata.ManagedFields = []*metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: "Apply", ApiVersion: "v1", FieldsType: "FieldsV1", FieldsV1: &metav1.RawExtension{Raw: []byte(`{"f:data":{"f:x":{}}}`)}}}
	if _, err := k.C.ConfigMaps("default").Update(ctx, cm, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"yaml", "json"} {
		if out := k.Run("get", "cm", "a", "-o", format).OK(t); strings.Contains(out, "managedFields") {
			t.Errorf("-o %s shows managedFields:\n%s", format, out)
		}
		if out := k.Run("get", "cm", "a", "-o", format, "--show-managed-fields").OK(t); !strings.Contains(out, "managedFields") || !strings.Contains(out, "f:data") {
			t.Errorf("-o %s --show-managed-fields:\n%s", format, out)
		}
	}
}
