package kubelet_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	nodev1 "keel.dev/keel/pkg/apis/node/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/kubelet"
)

// TestRuntimeClassHandler: a pod naming a RuntimeClass has its sandbox
// run with the class's handler (CRI RunPodSandbox's runtime_handler),
// the kubelet reading the class as the node (Node,RBAC); a pod naming
// none runs with the runtime's default handler. The pod carries the
// class's overhead (RuntimeClass admission). A pod whose class was
// deleted after it was admitted gets no sandbox, with a
// FailedCreatePodSandBox event naming the class.
func TestRuntimeClassHandler(t *testing.T) {
	e := newEnv(t)
	rcs := client.For[*nodev1.RuntimeClass](e.client, "")
	if _, err := rcs.Create(ctx(t), &nodev1.RuntimeClass{Metadata: &metav1.ObjectMeta{Name: "gone"}, Handler: "kata"}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	orphan := testPod("orphan", "Always", "app")
	orphan.Spec.RuntimeClassName = proto.String("gone")
	e.create(t, orphan)
	if _, _, err := rcs.Delete(ctx(t), "gone", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	rec := &events{}
	e.startKubelet(t, func(c *kubelet.Config) { c.Events = rec })
	if _, err := client.For[*nodev1.RuntimeClass](e.client, "").Create(ctx(t), &nodev1.RuntimeClass{Metadata: &metav1.ObjectMeta{Name: "sandboxed"},
		Handler: "runsc", Overhead: &nodev1.Overhead{PodFixed: map[string]*metav1.Quantity{"memory": {String_: "64Mi"}}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sandboxed := testPod("sandboxed", "Always", "app")
	sandboxed.Spec.RuntimeClassName = proto.String("sandboxed")
	created := e.create(t, sandboxed)
	if got := created.GetSpec().GetOverhead()["memory"].GetString_(); got != "64Mi" {
		t.Errorf("overhead %q, want the class's 64Mi", got)
	}
	e.create(t, testPod("plain", "Always", "app"))
	for _, name := range []string{"sandboxed", "plain"} {
		e.waitPod(t, name, "Running", func(p *corev1.Pod) bool { return p.GetStatus().GetPhase() == "Running" })
	}
	sbs, err := e.fake.ListPodSandbox(ctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a FailedCreatePodSandBox event for the orphan", func() (bool, string) {
		return rec.has("Warning FailedCreatePodSandBox: ", `RuntimeClass "gone" not found`), ""
	})
	handlers := map[string]string{}
	for _, sb := range sbs {
		handlers[sb.GetMetadata().GetName()] = sb.GetRuntimeHandler()
	}
	if handlers["sandboxed"] != "runsc" || handlers["plain"] != "" || len(handlers) != 2 {
		t.Errorf("sandboxes' runtime handlers %v, want sandboxed: runsc, plain: the default", handlers)
	}
}
