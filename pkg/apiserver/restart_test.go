package apiserver_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/scheme"
)

// populate writes a few objects of several kinds, in several states.
func populate(c *client) {
	c.t.Helper()
	ns := mustNamespace(c, "keep")
	mustCreate(c, fromYAML[*appsv1.Deployment](c.t, deploymentYAML))
	seedConfigMaps(c, ns, 5)
	mustCreate(c, pod(ns, "bound", map[string]string{"app": "web"}))
	mustBind(c, ns, "bound", "node-1")
	setPhase(c, ns, "bound", "Running")
	mustCreate(c, pod(ns, "pending", nil))
	mustCreate(c, fromYAML[*corev1.Service](c.t, `
metadata: {name: web, namespace: keep}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80}]
`))
	// A pod being deleted gracefully stays, marked.
	mustCreate(c, pod(ns, "terminating", nil))
	mustBind(c, ns, "terminating", "node-1")
	mustDelete(c, &apiv1.DeleteRequest{Resource: "pods", Namespace: ns, Name: "terminating"})
}

// snapshot lists every resource: resource -> objects.
func snapshot(c *client) map[string][]proto.Message {
	c.t.Helper()
	out := map[string][]proto.Message{}
	for _, k := range scheme.All() {
		if k.CreateOnly {
			continue // never stored
		}
		resp, err := c.api.List(c.ctx, &apiv1.ListRequest{Resource: k.Resource})
		if err != nil {
			c.t.Fatalf("list %s: %v", k.Resource, err)
		}
		for _, a := range resp.Items {
			out[k.Resource] = append(out[k.Resource], mustUnpack(c.t, a))
		}
	}
	return out
}

func assertSameState(t *testing.T, want, got map[string][]proto.Message) {
	t.Helper()
	total := 0
	for _, k := range scheme.All() {
		w, g := want[k.Resource], got[k.Resource]
		if len(w) != len(g) {
			t.Errorf("%s: %d objects, want %d", k.Resource, len(g), len(w))
			continue
		}
		for i := range w {
			if !proto.Equal(w[i], g[i]) {
				t.Errorf("%s: object %d differs:\nwant %s\ngot  %s", k.Resource, i, text(w[i]), text(g[i]))
			}
		}
		total += len(w)
	}
	if total < 15 {
		t.Fatalf("only %d objects compared", total)
	}
}

func TestAPIServerRestartKeepsObjects(t *testing.T) {
	t.Parallel()
	e := testserver.StartEtcd(t)
	a := testserver.Start(t, e.Endpoint, nil)
	c := newClient(t, a)
	populate(c)
	before := snapshot(c)
	a.Stop()

	c2 := newClient(t, testserver.Start(t, e.Endpoint, nil))
	assertSameState(t, before, snapshot(c2))
	// And it keeps working: a write, seen by the new server's cache.
	cm := mustCreate(c2, configMap("keep", "after-restart", nil))
	if got := mustGet[*corev1.ConfigMap](c2, "keep", "after-restart"); !proto.Equal(got, cm) {
		t.Fatalf("get after restart: %v", got)
	}
}

func TestEtcdRestartKeepsObjects(t *testing.T) {
	t.Parallel()
	e := testserver.StartEtcd(t)
	a := testserver.Start(t, e.Endpoint, nil)
	c := newClient(t, a)
	populate(c)
	before := snapshot(c)
	lastRV := rvOf(mustGet[*corev1.ConfigMap](c, "keep", "cm-04"))
	a.Stop()
	e.Stop()

	e2 := testserver.StartEtcdIn(t, e.DataDir)
	c2 := newClient(t, testserver.Start(t, e2.Endpoint, nil))
	assertSameState(t, before, snapshot(c2))
	// Revisions continue: no new write can look older than an old one.
	cm := mustCreate(c2, configMap("keep", "after-restart", nil))
	if rvOf(cm) <= lastRV {
		t.Fatalf("resourceVersion after restart %d, want > %d", rvOf(cm), lastRV)
	}
	// Allocations survived too: the Service's ClusterIP is still taken.
	svc := mustGet[*corev1.Service](c2, "keep", "web")
	dup := fromYAML[*corev1.Service](t, `
metadata: {name: dup, namespace: keep}
spec:
  ports: [{port: 80}]
`)
	dup.Spec.ClusterIp = svc.Spec.ClusterIp
	if _, err := create(c2, dup); err == nil || !containsAll(err.Error(), "already allocated") {
		t.Fatalf("reusing %s after restart: %v, want already allocated", svc.Spec.ClusterIp, err)
	}
}
