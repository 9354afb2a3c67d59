package apiserver_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// Kinds without a documentation example under manifests/examples, so that
// CRUD covers every kind the API serves.
const extraKinds = `
apiVersion: v1
kind: Node
metadata:
  name: worker-1
  labels:
    kubernetes.io/hostname: worker-1
spec:
  podCIDR: 10.244.1.0/24
---
apiVersion: v1
kind: Endpoints
metadata:
  name: my-service
subsets:
- addresses:
  - ip: 10.244.1.5
  ports:
  - port: 9376
---
apiVersion: v1
kind: Event
metadata:
  name: web.17a2b3c4
involvedObject:
  kind: Pod
  namespace: crud
  name: web
reason: Scheduled
message: Successfully assigned crud/web to worker-1
type: Normal
count: 1
---
apiVersion: apps/v1
kind: ControllerRevision
metadata:
  name: web-6b9f8c7d5
data:
  spec:
    template:
      metadata:
        labels:
          app: web
revision: 1
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: node-agent
spec:
  selector:
    matchLabels:
      app: node-agent
  updateStrategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 2
  template:
    metadata:
      labels:
        app: node-agent
    spec:
      tolerations:
      - key: node-role.kubernetes.io/control-plane
        operator: Exists
        effect: NoSchedule
      containers:
      - name: agent
        image: registry.local/agent:1.0
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: example-abc
  labels:
    kubernetes.io/service-name: example
addressType: IPv4
ports:
- name: http
  protocol: TCP
  port: 80
endpoints:
- addresses:
  - "10.1.2.3"
  conditions:
    ready: true
  nodeName: node-1
---
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: hostpath.csi.k8s.io
spec:
  attachRequired: false
  podInfoOnMount: true
  volumeLifecycleModes:
  - Persistent
  - Ephemeral
---
apiVersion: storage.k8s.io/v1
kind: CSINode
metadata:
  name: worker-1
spec:
  drivers:
  - name: hostpath.csi.k8s.io
    nodeID: worker-1
    topologyKeys:
    - topology.hostpath.csi/node
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata:
  name: csi-0123456789abcdef
spec:
  attacher: hostpath.csi.k8s.io
  nodeName: worker-1
  source:
    persistentVolumeName: pvc-0123
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: samples.crud.example.com
spec:
  group: crud.example.com
  scope: Namespaced
  names: {plural: samples, singular: sample, kind: Sample, listKind: SampleList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// TestCRUDEveryKind runs every example manifest (and one object of each
// kind without an example) through Create, Get, List, Update and Delete.
func TestCRUDEveryKind(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	ns := mustNamespace(c, "crud")

	files, err := filepath.Glob("../../manifests/examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example manifests: %v", err)
	}
	var objs []manifest.Object
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := manifest.Decode(filepath.Base(f), data)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, got...)
	}
	extra, err := manifest.Decode("extra", []byte(extraKinds))
	if err != nil {
		t.Fatal(err)
	}
	objs = append(objs, extra...)

	covered := map[string]bool{}
	for _, o := range objs {
		covered[o.Kind.Kind] = true
		t.Run(o.Kind.Kind+" "+o.Source, func(t *testing.T) {
			c := newClient(t, c.srv)
			crudOne(c, ns, o)
		})
	}
	for _, k := range scheme.All() {
		if !covered[k.Kind] && k.Stored() { // create-only kinds: reviews_test.go; computed: metricsapi_test.go
			t.Errorf("no CRUD case for kind %s", k.Kind)
		}
	}
}

func crudOne(c *client, ns string, o manifest.Object) {
	t := c.t
	t.Helper()
	want := proto.Clone(o.Message)
	meta := scheme.Meta(want)
	if o.Kind.Namespaced {
		meta.Namespace = ns
	}
	res, name := o.Kind.Resource, meta.Name
	before := time.Now().Add(-2 * time.Second)

	// Create: server-set fields, and every field the manifest set kept.
	created := mustCreate(c, want)
	cm := scheme.Meta(created)
	if cm.GetUid() == "" {
		t.Errorf("no uid")
	}
	if ts := cm.GetCreationTimestamp(); ts == nil || ts.AsTime().Before(before) || ts.AsTime().After(time.Now().Add(2*time.Second)) {
		t.Errorf("creationTimestamp %v, want about now", ts)
	}
	if rvOf(created) <= 0 {
		t.Errorf("resourceVersion %q", cm.GetResourceVersion())
	}
	// metadata.generation counts spec changes only on kinds whose
	// strategy tracks it.
	wantGen := int64(0)
	if registry.For(o.Kind).TracksGeneration() {
		wantGen = 1
	}
	if cm.GetGeneration() != wantGen {
		t.Errorf("generation %d, want %d", cm.GetGeneration(), wantGen)
	}
	for _, d := range diffContains(want, created) {
		t.Errorf("created object lost a manifest field: %s", d)
	}

	// Get returns exactly what Create returned.
	got := mustGetAny(c, res, meta.Namespace, name)
	assertEqual(t, "Get and Create", created, got)

	// List finds it, identical.
	resp, err := c.api.List(c.ctx, &apiv1.ListRequest{Resource: res, Namespace: meta.Namespace, FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(resp.Items) != 1 {
		t.Fatalf("list by name found %d objects, want 1", len(resp.Items))
	}
	listed, err := unpack[proto.Message](resp.Items[0])
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "List and Create", created, listed)

	// Update: a new label bumps resourceVersion, keeps generation.
	upd := proto.Clone(got)
	um := scheme.Meta(upd)
	if um.Labels == nil {
		um.Labels = map[string]string{}
	}
	um.Labels["tested-by"] = "crud"
	updated := mustUpdate(c, upd)
	if rvOf(updated) <= rvOf(created) {
		t.Errorf("update: resourceVersion %d, want > %d", rvOf(updated), rvOf(created))
	}
	if g := scheme.Meta(updated).GetGeneration(); g != wantGen {
		t.Errorf("label change: generation %d, want %d", g, wantGen)
	}
	if scheme.Meta(updated).GetLabels()["tested-by"] != "crud" {
		t.Errorf("update lost the new label")
	}
	assertEqual(t, "Get after Update", updated, mustGetAny(c, res, meta.Namespace, name))

	// Delete removes it (a namespace first terminates until its finalizer
	// is removed, as the namespace controller does).
	dresp := mustDelete(c, &apiv1.DeleteRequest{Resource: res, Namespace: meta.Namespace, Name: name})
	if nsObj, ok := updated.(*corev1.Namespace); ok {
		if dresp.Deleted {
			t.Fatalf("namespace deleted at once; want Terminating")
		}
		term := mustGet[*corev1.Namespace](c, "", nsObj.Metadata.Name)
		if term.GetStatus().GetPhase() != "Terminating" || term.GetMetadata().GetDeletionTimestamp() == nil {
			t.Fatalf("deleted namespace: phase %q, deletionTimestamp %v", term.GetStatus().GetPhase(), term.GetMetadata().GetDeletionTimestamp())
		}
		term.Spec.Finalizers = nil
		if _, err := update(c, term); err != nil {
			t.Fatalf("removing the namespace finalizer: %v", err)
		}
	} else if !dresp.Deleted && res == "customresourcedefinitions" {
		// The cleanup finalizer is the apiserver's own: it removes it, and
		// so the definition, once the definition's objects are gone.
		eventually(t, "the definition deleted by its cleanup", func() bool {
			_, err := c.api.Get(c.ctx, &apiv1.GetRequest{Resource: res, Name: name})
			return apierrors.IsNotFound(err)
		})
	} else if !dresp.Deleted {
		// A finalizer admission put on (a claim's or a volume's
		// protection) holds the object, marked, until it is removed, as
		// its controller does.
		kept := mustGetAny(c, res, meta.Namespace, name)
		km := scheme.Meta(kept)
		if km.GetDeletionTimestamp() == nil || len(km.GetFinalizers()) == 0 {
			t.Fatalf("delete: object kept: %v", dresp.GetObject())
		}
		km.Finalizers = nil
		if _, err := update(c, kept); err != nil {
			t.Fatalf("removing the finalizers of %s: %v", name, err)
		}
	}
	_, err = c.api.Get(c.ctx, &apiv1.GetRequest{Resource: res, Namespace: meta.Namespace, Name: name})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: %v, want NotFound", err)
	}
	resp, err = c.api.List(c.ctx, &apiv1.ListRequest{Resource: res, Namespace: meta.Namespace, FieldSelector: "metadata.name=" + name})
	if err != nil || len(resp.Items) != 0 {
		t.Fatalf("list after delete: %d items, %v", len(resp.GetItems()), err)
	}
}

const deploymentYAML = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels:
    app: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
`

// TestUpdateSemantics covers generation, the status/spec split,
// optimistic concurrency and no-op updates.
func TestUpdateSemantics(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	d := mustCreate(c, fromYAML[*appsv1.Deployment](t, deploymentYAML))

	t.Run("generation bumps on spec change only", func(t *testing.T) {
		c := newClient(t, c.srv)
		cur := mustGet[*appsv1.Deployment](c, "default", "web")
		gen := cur.Metadata.Generation
		cur.Metadata.Labels["tier"] = "frontend"
		cur.Metadata.Annotations = map[string]string{"note": "x"}
		cur = mustUpdate(c, cur)
		if cur.Metadata.Generation != gen {
			t.Fatalf("metadata change: generation %d, want %d", cur.Metadata.Generation, gen)
		}
		five := int32(5)
		cur.Spec.Replicas = &five
		cur = mustUpdate(c, cur)
		if cur.Metadata.Generation != gen+1 {
			t.Fatalf("spec change: generation %d, want %d", cur.Metadata.Generation, gen+1)
		}
		if cur.Spec.GetReplicas() != 5 {
			t.Fatalf("replicas %d, want 5", cur.Spec.GetReplicas())
		}
	})

	t.Run("Update keeps status", func(t *testing.T) {
		c := newClient(t, c.srv)
		cur := mustGet[*appsv1.Deployment](c, "default", "web")
		oldStatus := proto.Clone(cur.Status)
		if cur.Status == nil {
			cur.Status = &appsv1.DeploymentStatus{}
		}
		cur.Status.Replicas = 42
		cur.Metadata.Labels["status-try"] = "1"
		upd := mustUpdate(c, cur)
		if !proto.Equal(upd.Status, oldStatus) && !(upd.Status == nil && oldStatus == nil) {
			t.Fatalf("Update changed status: %v -> %v", oldStatus, upd.Status)
		}
		if upd.Metadata.Labels["status-try"] != "1" {
			t.Fatalf("Update lost its label change")
		}
		assertEqual(t, "stored", upd, mustGet[*appsv1.Deployment](c, "default", "web"))
	})

	t.Run("UpdateStatus keeps spec and labels", func(t *testing.T) {
		c := newClient(t, c.srv)
		cur := mustGet[*appsv1.Deployment](c, "default", "web")
		want := proto.Clone(cur).(*appsv1.Deployment)
		cur.Spec.Template.Spec.Containers[0].Image = "nginx:9"
		cur.Metadata.Labels["sneaky"] = "yes"
		cur.Status = &appsv1.DeploymentStatus{Replicas: 3, ObservedGeneration: cur.Metadata.Generation}
		upd := mustUpdateStatus(c, cur)
		assertEqual(t, "spec after UpdateStatus", want.Spec, upd.Spec)
		if _, ok := upd.Metadata.Labels["sneaky"]; ok {
			t.Fatalf("UpdateStatus changed labels: %v", upd.Metadata.Labels)
		}
		if upd.Metadata.Generation != want.Metadata.Generation {
			t.Fatalf("UpdateStatus changed generation %d -> %d", want.Metadata.Generation, upd.Metadata.Generation)
		}
		if upd.Status.GetReplicas() != 3 {
			t.Fatalf("status not written: %v", upd.Status)
		}
		assertEqual(t, "stored", upd, mustGet[*appsv1.Deployment](c, "default", "web"))
	})

	t.Run("update without resourceVersion", func(t *testing.T) {
		c := newClient(t, c.srv)
		cur := mustGet[*appsv1.Deployment](c, "default", "web")
		cur.Metadata.ResourceVersion = ""
		cur.Metadata.Labels["x"] = "y"
		writesNothing(c, "update without resourceVersion", func() {
			_, err := update(c, cur)
			wantCode(t, err, codes.InvalidArgument)
			if f := fieldsOf(t, err); !contains(f, "metadata.resourceVersion") {
				t.Fatalf("fields %v, want metadata.resourceVersion", f)
			}
		})
	})

	t.Run("stale resourceVersion", func(t *testing.T) {
		c := newClient(t, c.srv)
		stale := mustGet[*appsv1.Deployment](c, "default", "web")
		fresh := proto.Clone(stale).(*appsv1.Deployment)
		fresh.Metadata.Labels["winner"] = "first"
		mustUpdate(c, fresh)
		stale.Metadata.Labels["winner"] = "second"
		writesNothing(c, "stale update", func() {
			_, err := update(c, stale)
			wantCode(t, err, codes.Aborted)
			if !apierrors.IsConflict(err) {
				t.Fatalf("not a conflict: %v", err)
			}
			_, err = updateStatus(c, stale)
			wantCode(t, err, codes.Aborted)
		})
		if got := mustGet[*appsv1.Deployment](c, "default", "web"); got.Metadata.Labels["winner"] != "first" {
			t.Fatalf("stale update won: %v", got.Metadata.Labels)
		}
	})

	t.Run("create existing", func(t *testing.T) {
		c := newClient(t, c.srv)
		again := fromYAML[*appsv1.Deployment](t, deploymentYAML)
		five := int32(5)
		again.Spec.Replicas = &five
		writesNothing(c, "duplicate create", func() {
			_, err := create(c, again)
			wantCode(t, err, codes.AlreadyExists)
		})
		if got := mustGet[*appsv1.Deployment](c, "default", "web"); got.Metadata.Uid != d.Metadata.Uid {
			t.Fatalf("duplicate create replaced the object")
		}
	})

	t.Run("generateName", func(t *testing.T) {
		c := newClient(t, c.srv)
		seen := map[string]bool{}
		for i := 0; i < 3; i++ {
			cm := configMap("default", "", nil)
			cm.Metadata.GenerateName = "gen-"
			got := mustCreate(c, cm)
			name := got.Metadata.Name
			if !strings.HasPrefix(name, "gen-") || len(name) <= len("gen-") || seen[name] {
				t.Fatalf("generated name %q (seen %v)", name, seen)
			}
			seen[name] = true
			assertEqual(t, "generated object", got, mustGet[*corev1.ConfigMap](c, "default", name))
		}
	})

	t.Run("missing objects", func(t *testing.T) {
		c := newClient(t, c.srv)
		ghost := configMap("default", "ghost", nil)
		ghost.Metadata.ResourceVersion = "5"
		writesNothing(c, "writes to a missing object", func() {
			_, err := update(c, ghost)
			wantCode(t, err, codes.NotFound)
			_, err = c.api.Delete(c.ctx, &apiv1.DeleteRequest{Resource: "configmaps", Namespace: "default", Name: "ghost"})
			wantCode(t, err, codes.NotFound)
			_, err = c.api.Get(c.ctx, &apiv1.GetRequest{Resource: "configmaps", Namespace: "default", Name: "ghost"})
			wantCode(t, err, codes.NotFound)
		})
	})

	t.Run("no-op update", func(t *testing.T) {
		c := newClient(t, c.srv)
		cur := mustGet[*appsv1.Deployment](c, "default", "web")
		w := watch[*appsv1.Deployment](c, &apiv1.WatchRequest{Namespace: "default", ResourceVersion: cur.Metadata.ResourceVersion})
		writesNothing(c, "no-op update", func() {
			same := mustUpdate(c, proto.Clone(cur).(*appsv1.Deployment))
			if same.Metadata.ResourceVersion != cur.Metadata.ResourceVersion {
				t.Fatalf("no-op update: resourceVersion %s -> %s", cur.Metadata.ResourceVersion, same.Metadata.ResourceVersion)
			}
			assertEqual(t, "no-op update result", cur, same)
			same = mustUpdateStatus(c, proto.Clone(cur).(*appsv1.Deployment))
			if same.Metadata.ResourceVersion != cur.Metadata.ResourceVersion {
				t.Fatalf("no-op status update: resourceVersion %s -> %s", cur.Metadata.ResourceVersion, same.Metadata.ResourceVersion)
			}
		})
		// The next event the watch sees is this marker change, not the no-op.
		cur.Metadata.Labels["marker"] = "1"
		marked := mustUpdate(c, cur)
		e := w.expect("MODIFIED", "web")
		if e.rv() != rvOf(marked) {
			t.Fatalf("first event after the no-op is at rv %d, want the marker's %d", e.rv(), rvOf(marked))
		}
	})
}

// TestConcurrentIncrements: 20 writers each increment a counter 10 times
// with retry-on-conflict; no increment is lost.
func TestConcurrentIncrements(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	mustCreate(c, configMap("default", "counter", map[string]string{"n": "0"}))

	const writers, increments = 20, 10
	var wg sync.WaitGroup
	var conflicts sync.Map
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			n := 0
			for i := 0; i < increments; i++ {
				for {
					cur, err := get[*corev1.ConfigMap](c, "default", "counter")
					if err != nil {
						errs <- err
						return
					}
					v, err := strconv.Atoi(cur.Data["n"])
					if err != nil {
						errs <- err
						return
					}
					cur.Data["n"] = strconv.Itoa(v + 1)
					_, err = update(c, cur)
					if apierrors.IsConflict(err) {
						n++
						continue
					}
					if err != nil {
						errs <- fmt.Errorf("writer %d: %w", w, err)
						return
					}
					break
				}
			}
			conflicts.Store(w, n)
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	conflicts.Range(func(_, v any) bool { total += v.(int); return true })
	got := mustGet[*corev1.ConfigMap](c, "default", "counter")
	if got.Data["n"] != strconv.Itoa(writers*increments) {
		t.Fatalf("counter %s, want %d (%d conflicts retried)", got.Data["n"], writers*increments, total)
	}
	t.Logf("%d conflicts retried", total)
}
