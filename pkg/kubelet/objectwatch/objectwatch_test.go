package objectwatch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/kubelet/objectwatch"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// TestWatchesReferencedSecrets: as a kubelet under Node,RBAC, the watcher
// holds a Secret its node's pod references, sees its updates, and never
// lists Secrets beyond that one name.
func TestWatchesReferencedSecrets(t *testing.T) {
	srv := testserver.StartSecure(t, []string{"n1"}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin, kubelet := srv.Client(pki.AdminName), srv.Client(pki.KubeletClientName("n1"))
	sec, err := admin.Secrets("default").Create(ctx, &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "s"}, StringData: map[string]string{"k": "1"}}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Secrets("default").Create(ctx, &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "other"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err := admin.Pods("default").Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p"}, Spec: &corev1.PodSpec{NodeName: "n1",
		Volumes:    []*corev1.Volume{{Name: "s", Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
		Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan string, 10)
	w := objectwatch.New(ctx, func(ns string) informer.ListerWatcher[*corev1.Secret] { return kubelet.Secrets(ns) },
		func(ns, name string) { changed <- ns + "/" + name }, zap.NewNop())
	// The apiserver's node graph learns of the pod from its pods cache:
	// until then the watch's list is refused and retried.
	w.SetPod(pod.GetMetadata().GetUid(), "default", []string{"s", "s"})
	testutil.Eventually(t, 20*time.Second, "the referenced Secret watched", testutil.Condition(func() bool {
		_, ok := w.Get("default", "s")
		return ok
	}, "not yet"))
	if _, ok := w.Get("default", "other"); ok {
		t.Fatal("an unreferenced Secret is held")
	}
	sec.StringData = map[string]string{"k": "2"}
	if _, err := admin.Secrets("default").Update(ctx, sec, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-changed:
		if got != "default/s" {
			t.Fatalf("changed %s", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no change seen")
	}
	for _, f := range srv.Forbidden() {
		if strings.Contains(f, "by name") {
			t.Fatalf("the watcher asked for more than a name: %s", f)
		}
	}
	w.RemovePod(pod.GetMetadata().GetUid())
	if _, ok := w.Get("default", "s"); ok {
		t.Fatal("the Secret is still held after its last pod went")
	}
}
