package get_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	keelctltest.Seed(t, k)
	ctx := k.Ctx()

	// Events of the pod, and one of another object with the same name
	// in another namespace (must not show).
	other := &corev1.Event{Metadata: &metav1.ObjectMeta{Name: "crash.2", Namespace: "shop"},
		InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "crash"},
		Reason:         "Elsewhere", Message: "not this pod", Type: "Normal", Count: 1, LastTimestamp: timestamppb.Now()}
	if _, err := k.C.Events("shop").Create(ctx, other, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out := k.Run("describe", "pod", "crash").OK(t)
	keelctltest.MustHaveLines(t, out,
		"Name: crash", "Namespace: default", "Labels: app=batch", "Status: Running",
		"Containers:", "app:", "Image: busybox", "State: Waiting", "Reason: CrashLoopBackOff", "Restart Count: 3",
		"Events:", "Type Reason Age From Message", "Warning BackOff ")
	if flat := strings.Join(keelctltest.Lines(out), "\n"); !strings.Contains(flat, "(x3 over 5m) kubelet Back-off restarting failed container") {
		t.Errorf("event line:\n%s", out)
	}
	if strings.Contains(out, "Elsewhere") {
		t.Errorf("events of another object shown:\n%s", out)
	}

	// A deployment with its replica set; a name prefix; TYPE/NAME.
	k.Run("apply", "-f", keelctltest.Write(t, t.TempDir(), "web.yaml", keelctltest.WebDeployment)).OK(t)
	d, err := k.C.Deployments("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	tmpl := keelctltest.Clone(d.GetSpec().GetTemplate())
	tmpl.Metadata.Labels["pod-template-hash"] = "abc"
	rs := &appsv1.ReplicaSet{
		Metadata: &metav1.ObjectMeta{Name: "web-abc", Namespace: "default", Labels: tmpl.Metadata.Labels,
			OwnerReferences: []*metav1.OwnerReference{{ApiVersion: "apps/v1", Kind: "Deployment", Name: "web", Uid: d.GetMetadata().GetUid(), Controller: proto.Bool(true)}}},
		Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(2), Selector: &metav1.LabelSelector{MatchLabels: tmpl.Metadata.Labels}, Template: tmpl},
	}
	if _, err := k.C.ReplicaSets("default").Create(ctx, rs, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out = k.Run("describe", "deploy/web").OK(t)
	keelctltest.MustHaveLines(t, out, "Name: web", "Selector: app=web", "Replicas: 2 desired | 0 updated | 0 total | 0 available | 0 unavailable",
		"StrategyType: RollingUpdate", "MinReadySeconds: 5", "RollingUpdateStrategy: 25% max unavailable, 25% max surge",
		"Pod Template:", "Image: nginx:1.27", "Ports: 80/TCP, 443/TCP", "NewReplicaSet: web-abc (0/2 replicas created)", "Events: <none>")
	if strings.Contains(out, api.LastAppliedConfigAnnotation) {
		t.Errorf("last-applied annotation shown:\n%s", out)
	}
	out = k.Run("describe", "rs", "web-").OK(t)
	keelctltest.MustHaveLines(t, out, "Name: web-abc", "Controlled By: Deployment/web", "Replicas: 0 current / 2 desired", "Pods Status: 0 Running / 0 Waiting / 0 Succeeded / 0 Failed")

	out = k.Run("describe", "svc", "web").OK(t)
	keelctltest.MustHaveLines(t, out, "Name: web", "Selector: app=web", "Type: ClusterIP", "Port: <unset> 80/TCP", "TargetPort: 8080/TCP", "Endpoints: <none>", "Session Affinity: None")

	// A node with its pods and its events (recorded in "default").
	if _, err := k.C.Pods("default").Bind(ctx, "web", "node-1", ""); err != nil {
		t.Fatal(err)
	}
	n, err := k.C.Nodes().Get(ctx, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	nodeEv := &corev1.Event{Metadata: &metav1.ObjectMeta{Name: "node-1.1", Namespace: "default"},
		InvolvedObject: &corev1.ObjectReference{Kind: "Node", Name: "node-1", Uid: n.GetMetadata().GetUid()},
		Reason:         "NodeReady", Message: "Node node-1 status is now: NodeReady", Type: "Normal", Count: 1,
		FirstTimestamp: timestamppb.New(time.Now().Add(-time.Minute)), LastTimestamp: timestamppb.New(time.Now().Add(-time.Minute))}
	if _, err := k.C.Events("default").Create(ctx, nodeEv, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	out = k.Run("describe", "node", "node-1").OK(t)
	keelctltest.MustHaveLines(t, out, "Name: node-1", "Roles: control-plane", "Conditions:", "Addresses:", "InternalIP: 10.0.0.21",
		"Kubelet Version: v0.1.0", "Non-terminated Pods: (1 in total)", "default web ", "Normal NodeReady 60s ")

	// Several objects, separated by blank lines; -l; errors.
	out = k.Run("describe", "pods", "-l", "app in (web,batch)").OK(t)
	if strings.Count(out, "\nName: ") != 1 || !strings.HasPrefix(out, "Name:") || !strings.Contains(out, "\n\n\nName:") {
		t.Errorf("two descriptions:\n%s", out)
	}
	k.Run("describe", "pod", "nope").Fails(t, `Error from server (NotFound): pods "nope" not found`)
	k.Run("describe", "widgets", "x").Fails(t, `error: the server doesn't have a resource type "widgets"`)
	for _, res := range []string{"ns/shop", "cm", "secrets", "ep", "leases", "pc/system-node-critical", "events"} {
		k.Run("describe", res).OK(t)
	}
}
