package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
)

// seed creates a namespace with pods in several states, a node, a service
// and an event.
func seed(t *testing.T, k *cluster) {
	t.Helper()
	ctx := k.ctx()
	if _, err := k.c.Namespaces().Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "shop"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mkPod := func(ns, name string, labels map[string]string, containers ...string) *corev1.Pod {
		p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}, Spec: &corev1.PodSpec{}}
		for _, c := range containers {
			p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: c, Image: "busybox"})
		}
		out, err := k.c.Pods(ns).Create(ctx, p, client.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	setStatus := func(p *corev1.Pod, st *corev1.PodStatus) {
		p.Status = st
		if _, err := k.c.Pods(p.Metadata.Namespace).UpdateStatus(ctx, p, client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	web := mkPod("default", "web", map[string]string{"app": "web"}, "nginx", "log")
	setStatus(web, &corev1.PodStatus{Phase: "Running", PodIp: "10.244.1.5", ContainerStatuses: []*corev1.ContainerStatus{
		{Name: "nginx", Ready: true, State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: timestamppb.Now()}}},
		{Name: "log", Ready: true, State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: timestamppb.Now()}}},
	}})
	crash := mkPod("default", "crash", map[string]string{"app": "batch"}, "app")
	setStatus(crash, &corev1.PodStatus{Phase: "Running", ContainerStatuses: []*corev1.ContainerStatus{
		{Name: "app", RestartCount: 3, State: &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}},
	}})
	mkPod("default", "new", nil, "app")
	mkPod("shop", "cart", map[string]string{"app": "cart"}, "app")

	node := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}},
		Status: &corev1.NodeStatus{
			Conditions: []*corev1.NodeCondition{{Type: "Ready", Status: "True"}},
			Addresses:  []*corev1.NodeAddress{{Type: "InternalIP", Address: "10.0.0.21"}},
			NodeInfo:   &corev1.NodeSystemInfo{KubeletVersion: "v0.1.0", OsImage: "Debian GNU/Linux 13", KernelVersion: "6.12", ContainerRuntimeVersion: "containerd://2.1"},
		}}
	if _, err := k.c.Nodes().Create(ctx, node, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: &corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"}, Ports: []*corev1.ServicePort{{Port: 80, TargetPort: &metav1.IntOrString{IntVal: 8080}}}}}
	if _, err := k.c.Services("default").Create(ctx, svc, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev := &corev1.Event{Metadata: &metav1.ObjectMeta{Name: "crash.1", Namespace: "default"},
		InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "crash", Uid: crash.GetMetadata().GetUid()},
		Reason:         "BackOff", Message: "Back-off restarting failed container", Type: "Warning", Count: 3,
		FirstTimestamp: timestamppb.New(time.Now().Add(-5 * time.Minute)), LastTimestamp: timestamppb.Now(),
		Source: &corev1.EventSource{Component: "kubelet", Host: "node-1"}}
	if _, err := k.c.Events("default").Create(ctx, ev, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	k := startCluster(t)
	seed(t, k)

	out := k.run("get", "pods").ok(t)
	if l := lines(out); l[0] != "NAME READY STATUS RESTARTS AGE" {
		t.Errorf("header %q", l[0])
	}
	mustHaveLines(t, out, "crash 0/1 CrashLoopBackOff 3 ", "new 0/1 Pending 0 ", "web 2/2 Running 0 ")
	if strings.Contains(out, "cart") {
		t.Errorf("pods of another namespace listed:\n%s", out)
	}

	out = k.run("get", "po", "-o", "wide").ok(t)
	mustHaveLines(t, out, "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES", "web 2/2 Running 0 ")
	if !strings.Contains(out, "10.244.1.5") {
		t.Errorf("wide lacks the pod IP:\n%s", out)
	}

	out = k.run("get", "pods", "-A", "--show-labels").ok(t)
	mustHaveLines(t, out, "NAMESPACE NAME READY STATUS RESTARTS AGE LABELS", "default web 2/2 Running 0 ", "shop cart 0/1 Pending 0 ")
	if !strings.HasSuffix(lines(out)[len(lines(out))-1], "app=web") && !strings.Contains(out, "app=web\n") {
		t.Errorf("no labels column:\n%s", out)
	}

	out = k.run("get", "pods", "-l", "app in (web,batch)", "-o", "name").ok(t)
	if out != "pod/crash\npod/web\n" {
		t.Errorf("selector: %q", out)
	}
	out = k.run("get", "pods", "--field-selector", "status.phase=Pending", "-o", "name").ok(t)
	if out != "pod/new\n" {
		t.Errorf("field selector: %q", out)
	}
	// Singular, short and case-insensitive names, TYPE/NAME, several types.
	for _, args := range [][]string{{"pod", "web"}, {"PO", "web"}, {"Pods", "web"}, {"pod/web"}, {"Pod/web"}} {
		if out := k.run(append([]string{"get"}, append(args, "-o", "name")...)...).ok(t); out != "pod/web\n" {
			t.Errorf("get %v: %q", args, out)
		}
	}
	out = k.run("get", "pods,svc", "-n", "default").ok(t)
	mustHaveLines(t, out, "pod/web 2/2 Running", "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE", "service/web ClusterIP 10.96.")
	if !strings.Contains(out, "\n\nNAME") {
		t.Errorf("no blank line between tables:\n%s", out)
	}
	out = k.run("get", "pod/web", "service/web").ok(t)
	mustHaveLines(t, out, "pod/web 2/2", "service/web ClusterIP")

	out = k.run("get", "nodes", "-o", "wide").ok(t)
	mustHaveLines(t, out,
		"NAME STATUS ROLES AGE VERSION INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME")
	if !strings.Contains(lines(out)[1], "node-1 Ready control-plane ") || !strings.HasSuffix(lines(out)[1], "v0.1.0 10.0.0.21 <none> Debian GNU/Linux 13 6.12 containerd://2.1") {
		t.Errorf("node row: %q", lines(out)[1])
	}
	out = k.run("get", "svc", "-o", "wide").ok(t)
	mustHaveLines(t, out, "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR")
	if l := lines(out)[1]; !strings.HasPrefix(l, "web ClusterIP 10.96.") || !strings.Contains(l, " <none> 80/TCP ") || !strings.HasSuffix(l, " app=web") {
		t.Errorf("service row: %q", l)
	}
	out = k.run("get", "events").ok(t)
	mustHaveLines(t, out, "LAST SEEN TYPE REASON OBJECT MESSAGE")
	if l := lines(out)[1]; !strings.HasSuffix(l, "Warning BackOff pod/crash Back-off restarting failed container") {
		t.Errorf("event row: %q", l)
	}
	out = k.run("get", "ns").ok(t)
	mustHaveLines(t, out, "NAME STATUS AGE", "default Active ", "shop Active ")
	out = k.run("get", "priorityclasses").ok(t)
	mustHaveLines(t, out, "NAME VALUE GLOBAL-DEFAULT AGE", "system-node-critical 2000001000 false ")

	// Empty lists say so on stderr.
	r := k.run("get", "deployments")
	if r.ok(t) != "" || r.err != "No resources found in default namespace.\n" {
		t.Errorf("empty list: %+v", r)
	}
	r = k.run("get", "deployments", "-A")
	if r.ok(t) != "" || r.err != "No resources found\n" {
		t.Errorf("empty list -A: %+v", r)
	}
}

func TestGetErrors(t *testing.T) {
	t.Parallel()
	k := startCluster(t)
	seed(t, k)
	r := k.run("get", "podz")
	r.fails(t)
	if r.err != "error: the server doesn't have a resource type \"podz\"\n" {
		t.Errorf("unknown type: %q", r.err)
	}
	r = k.run("get", "pods", "nope")
	r.fails(t)
	if r.err != "Error from server (NotFound): pods \"nope\" not found\n" {
		t.Errorf("not found: %q", r.err)
	}
	// Found ones are printed, missing ones reported.
	r = k.run("get", "pods", "web", "nope", "-o", "name")
	r.fails(t, `Error from server (NotFound): pods "nope" not found`)
	if r.out != "pod/web\n" {
		t.Errorf("partial get: %q", r.out)
	}
	if out := k.run("get", "pods", "nope", "--ignore-not-found").ok(t); out != "" {
		t.Errorf("ignore-not-found: %q", out)
	}
	k.run("get", "pods", "-o", "xml").fails(t, `unable to match a printer suitable for the output format "xml"`)
	k.run("get", "pods", "-l", "app=(").fails(t, "Error from server (BadRequest)")
	k.run("get", "pods", "--field-selector", "spec.color=red").fails(t, "Error from server (BadRequest)")
	k.run("get").fails(t, "you must specify the type of resource")
	k.run("get", "pods", "pod/web").fails(t, "there is no need to specify a resource type as a separate argument")
	k.run("get", "pods", "web", "-A").fails(t, "a resource cannot be retrieved by name across all namespaces")
	// An unreachable apiserver.
	runKeelctl(t, runOpts{}, "--config", k.noConf, "--server", "127.0.0.1:1", "--insecure", "get", "pods").
		fails(t, "Unable to connect to the server")
	// No configuration at all.
	runKeelctl(t, runOpts{}, "--config", k.noConf, "get", "pods").fails(t, "no such file or directory", "keelctl config set-cluster")
}

// TestRoundTrip: -o yaml and -o json print manifests that apply accepts
// back, for one object and for lists.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	k := startCluster(t)
	dir := t.TempDir()
	k.run("apply", "-f", write(t, dir, "web.yaml", webDeployment)).ok(t)
	k.run("apply", "-f", write(t, dir, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: \"1\"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\nbinaryData:\n  bin: AAEC\n")).ok(t)
	ctx := k.ctx()

	for _, format := range []string{"yaml", "json"} {
		out := k.run("get", "deploy", "web", "-o", format).ok(t)
		if format == "yaml" && !strings.HasPrefix(out, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n") {
			t.Errorf("yaml:\n%s", out)
		}
		if format == "json" && !strings.HasPrefix(out, "{\n    \"apiVersion\": \"apps/v1\",\n    \"kind\": \"Deployment\",\n") {
			t.Errorf("json:\n%s", out)
		}
		before, err := k.c.Deployments("default").Get(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		// Re-applied as it is: accepted, the spec unchanged.
		k.runWith(runOpts{stdin: out}, "apply", "-f", "-").ok(t)
		after, err := k.c.Deployments("default").Get(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(before.GetSpec(), after.GetSpec()) {
			t.Errorf("%s round trip changed the spec:\n%v\n%v", format, before.GetSpec(), after.GetSpec())
		}
		// Deleted, then created again from the output.
		k.run("delete", "deploy", "web").ok(t)
		if got := k.runWith(runOpts{stdin: out}, "apply", "-f", "-").ok(t); got != "deployment.apps/web created\n" {
			t.Errorf("%s re-create: %q", format, got)
		}
		again, err := k.c.Deployments("default").Get(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(before.GetSpec(), again.GetSpec()) || again.GetMetadata().GetUid() == before.GetMetadata().GetUid() {
			t.Errorf("%s re-created object differs", format)
		}

		list := k.run("get", "configmaps", "-o", format).ok(t)
		if format == "yaml" && !strings.Contains(list, "kind: List\n") {
			t.Errorf("list:\n%s", list)
		}
		k.run("delete", "cm", "a", "b").ok(t)
		if got := k.runWith(runOpts{stdin: list}, "apply", "-f", "-").ok(t); got != "configmap/a created\nconfigmap/b created\n" {
			t.Errorf("%s list re-create: %q", format, got)
		}
		b, err := k.c.ConfigMaps("default").Get(ctx, "b")
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
	k := startCluster(t)
	ctx := k.ctx()
	k.run("apply", "-f", write(t, t.TempDir(), "web.yaml", webDeployment)).ok(t)

	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan result, 1)
	go func() { done <- k.runWith(runOpts{ctx: wctx, out: &out}, "get", "deployments", "-w") }()
	eventually(t, 10*time.Second, func() bool { return hasLine(out.String(), "web 0/2 0 0 ") }, "no initial row:\n%s", out.String())
	if l := lines(out.String()); l[0] != "NAME READY UP-TO-DATE AVAILABLE AGE" {
		t.Errorf("header %q", l[0])
	}

	k.run("scale", "deploy", "web", "--replicas=5").ok(t)
	eventually(t, 10*time.Second, func() bool { return hasLine(out.String(), "web 0/5 0 0 ") }, "no row after scaling:\n%s", out.String())
	d, err := k.c.Deployments("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	d.Status = &appsv1.DeploymentStatus{Replicas: 5, ReadyReplicas: 3, UpdatedReplicas: 5, AvailableReplicas: 3}
	if _, err := k.c.Deployments("default").UpdateStatus(ctx, d, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool { return hasLine(out.String(), "web 3/5 5 3 ") }, "no row after the status change:\n%s", out.String())
	k.run("delete", "deploy", "web").ok(t)
	eventually(t, 10*time.Second, func() bool { return strings.Count(out.String(), "\nweb ") >= 4 }, "no row for the deletion:\n%s", out.String())
	if strings.Count(out.String(), "NAME") != 1 {
		t.Errorf("header printed more than once:\n%s", out.String())
	}
	cancel()
	select {
	case r := <-done:
		if r.code != 0 {
			t.Errorf("watch ended with %d: %s", r.code, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not end when cancelled")
	}

	// --watch-only on a name, as yaml documents.
	wctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	var out2 syncBuffer
	done2 := make(chan result, 1)
	go func() {
		done2 <- k.runWith(runOpts{ctx: wctx2, out: &out2}, "get", "configmap", "watched", "--watch-only", "-o", "yaml")
	}()
	// The watch may start after the create: retry the change until seen.
	cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "watched", Namespace: "default"}, Data: map[string]string{"v": "0"}}
	if _, err := k.c.ConfigMaps("default").Create(ctx, cm, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n := 0
	eventually(t, 10*time.Second, func() bool {
		n++
		err := client.RetryOnConflict(client.DefaultRetry, func() error {
			cur, err := k.c.ConfigMaps("default").Get(ctx, "watched")
			if err != nil {
				return err
			}
			cur.Data["v"] = strings.Repeat("x", n)
			_, err = k.c.ConfigMaps("default").Update(ctx, cur, client.UpdateOptions{})
			return err
		})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		return strings.Contains(out2.String(), "name: watched")
	}, "no yaml document:\n%s", out2.String())
	cancel2()
	if r := <-done2; r.code != 0 || strings.Contains(r.out, "NAME") {
		t.Errorf("watch-only: %+v", r)
	}
}
