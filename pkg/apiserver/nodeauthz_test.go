package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	keelclient "keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
)

// TestNodeAuthorization: a kubelet, authenticated by its certificate
// against an apiserver with the default --authorization-mode (Node,RBAC)
// and without any binding of system:node, reads only the Secrets its
// node's pods use, and changes only its own Node and pods.
func TestNodeAuthorization(t *testing.T) {
	t.Parallel()
	srv := testserver.StartSecure(t, []string{"n1", "n2"}, nil)
	ctx := context.Background()
	admin, kubelet := connectAs(t, srv, pki.AdminName), connectAs(t, srv, pki.KubeletClientName("n1"))
	forbidden := func(what string, err error) {
		t.Helper()
		if !apierrors.IsForbidden(err) {
			t.Fatalf("%s: got %v, want Forbidden", what, err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	for _, name := range []string{"used", "unused"} {
		_, err := admin.Secrets("default").Create(ctx, &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: name}}, keelclient.CreateOptions{})
		must(err)
	}
	for _, n := range []string{"n1", "n2"} {
		_, err := admin.Nodes().Create(ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Name: n}}, keelclient.CreateOptions{})
		must(err)
	}
	pod := func(name, nodeName string, vols ...*corev1.Volume) *corev1.Pod {
		p, err := admin.Pods("default").Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name}, Spec: &corev1.PodSpec{
			NodeName: nodeName, Volumes: vols, Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}, keelclient.CreateOptions{})
		must(err)
		return p
	}
	pod("on-n1", "n1", &corev1.Volume{Name: "s", Secret: &corev1.SecretVolumeSource{SecretName: "used"}})
	pod("on-n2", "n2")

	_, err := kubelet.Secrets("").List(ctx, keelclient.ListOptions{})
	forbidden("listing every Secret", err)
	_, err = kubelet.Secrets("default").List(ctx, keelclient.ListOptions{})
	forbidden("listing a namespace's Secrets", err)
	_, err = kubelet.Secrets("default").Get(ctx, "unused")
	forbidden("reading a Secret no pod on the node uses", err)
	// The graph follows the pods cache: the pod's reference arrives soon.
	eventually(t, "the kubelet reading its pod's Secret", func() bool {
		_, err := kubelet.Secrets("default").Get(ctx, "used")
		return err == nil
	})
	l, err := kubelet.Secrets("default").List(ctx, keelclient.ListOptions{FieldSelector: "metadata.name=used"})
	must(err)
	if len(l.Items) != 1 {
		t.Fatalf("listing its Secret by name: %d items", len(l.Items))
	}

	_, _, err = kubelet.Pods("default").Delete(ctx, "on-n2", keelclient.DeleteOptions{})
	forbidden("deleting another node's pod", err)

	other, err := kubelet.Nodes().Get(ctx, "n2")
	must(err)
	other.Metadata.Labels = map[string]string{"x": "y"}
	_, err = kubelet.Nodes().Update(ctx, other, keelclient.UpdateOptions{})
	forbidden("updating another Node", err)

	own, err := kubelet.Nodes().Get(ctx, "n1")
	must(err)
	own.Metadata.Labels = map[string]string{"team": "a"}
	own, err = kubelet.Nodes().Update(ctx, own, keelclient.UpdateOptions{})
	must(err)
	own.Metadata.Labels["node-restriction.kubernetes.io/trusted"] = "yes"
	_, err = kubelet.Nodes().Update(ctx, own, keelclient.UpdateOptions{})
	forbidden("setting a node-restriction.kubernetes.io/ label", err)
	if !strings.Contains(err.Error(), "node-restriction.kubernetes.io/trusted") {
		t.Fatalf("the refusal does not name the label: %v", err)
	}
}

// TestNodeAuthorizationFollowsWatch: a kubelet may read a pod's Secret as
// soon as its watch has sent it the pod. The Node authorizer's graph
// follows the pods cache on its own, so without a denial waiting for it to
// catch up a kubelet quick off the mark is refused (multinode CI saw it).
func TestNodeAuthorizationFollowsWatch(t *testing.T) {
	t.Parallel()
	srv := testserver.StartSecure(t, []string{"n1"}, nil)
	ctx := context.Background()
	admin, kubelet := connectAs(t, srv, pki.AdminName), connectAs(t, srv, pki.KubeletClientName("n1"))
	w, err := kubelet.Pods("").Watch(ctx, keelclient.WatchOptions{FieldSelector: "spec.nodeName=n1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	const pods = 50
	for i := range pods {
		name := fmt.Sprintf("s%d", i)
		if _, err := admin.Secrets("default").Create(ctx, &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: name}}, keelclient.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Pods("default").Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name}, Spec: &corev1.PodSpec{
			NodeName: "n1", Containers: []*corev1.Container{{Name: "c", Image: "busybox"}},
			Volumes: []*corev1.Volume{{Name: "s", Secret: &corev1.SecretVolumeSource{SecretName: name}}}}}, keelclient.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ev, err := w.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got := ev.Object.GetMetadata().GetName(); got != name {
			t.Fatalf("watch sent pod %q, want %q", got, name)
		}
		if _, err := kubelet.Secrets("default").Get(ctx, name); err != nil {
			t.Fatalf("reading the Secret of pod %s the watch has just sent: %v", name, err)
		}
	}
}

// connectAs is a client of srv authenticated as the user name by a
// certificate, closed when the test ends.
func connectAs(t *testing.T, srv *testserver.Secure, name string) *keelclient.Client {
	t.Helper()
	c, err := keelclient.New(keelclient.Options{Servers: []string{srv.Addr}, TLS: srv.TLS(name), UserAgent: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
