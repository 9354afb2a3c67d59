package apiserver_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
)

func TestNamespaceLifecycle(t *testing.T) {
	t.Parallel()
	c := start(t, nil)

	writesNothing(c, "create in a missing namespace", func() {
		_, err := create(c, configMap("nope", "cm", nil))
		wantCode(t, err, codes.NotFound)
		if !containsAll(err.Error(), "nope") {
			t.Fatalf("error %q does not name the namespace", err)
		}
	})

	// The namespaces every cluster needs cannot be deleted.
	for _, name := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		writesNothing(c, "deleting "+name, func() {
			_, err := c.api.Delete(c.ctx, &apiv1.DeleteRequest{Resource: "namespaces", Name: name})
			wantCode(t, err, codes.PermissionDenied)
			if !containsAll(err.Error(), `namespaces "`+name+`" is forbidden: this namespace may not be deleted`) {
				t.Fatalf("error %q", err)
			}
		})
	}

	ns := mustNamespace(c, "doomed")
	mustCreate(c, configMap(ns, "inside", nil))
	resp := mustDelete(c, &apiv1.DeleteRequest{Resource: "namespaces", Name: ns})
	if resp.Deleted {
		t.Fatalf("namespace removed at once; want Terminating")
	}
	got := mustGet[*corev1.Namespace](c, "", ns)
	if got.Metadata.DeletionTimestamp == nil || got.Status.GetPhase() != "Terminating" {
		t.Fatalf("deleted namespace: deletionTimestamp %v, phase %q", got.Metadata.DeletionTimestamp, got.Status.GetPhase())
	}
	assertEqual(t, "Delete's answer", got, mustUnpack(t, resp.Object))

	for _, obj := range []interface{ GetMetadata() *metav1.ObjectMeta }{
		configMap(ns, "late", nil),
		pod(ns, "late", nil),
		service(ns, "late", "ClusterIP"),
	} {
		writesNothing(c, "create in a terminating namespace", func() {
			var err error
			switch o := obj.(type) {
			case *corev1.ConfigMap:
				_, err = create(c, o)
			case *corev1.Pod:
				_, err = create(c, o)
			case *corev1.Service:
				_, err = create(c, o)
			}
			wantCode(t, err, codes.PermissionDenied)
			if !apierrors.IsForbidden(err) || !containsAll(err.Error(), "terminat") {
				t.Fatalf("error %v, want Forbidden: being terminated", err)
			}
		})
	}
	// What was inside is untouched and still updatable.
	in := mustGet[*corev1.ConfigMap](c, ns, "inside")
	in.Data = map[string]string{"k": "v"}
	mustUpdate(c, in)
}

func TestPodBinding(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	mustCreate(c, pod("default", "web", nil))
	bound := mustBind(c, "default", "web", "node-1")
	if bound.Spec.NodeName != "node-1" {
		t.Fatalf("nodeName %q", bound.Spec.NodeName)
	}
	got := mustGet[*corev1.Pod](c, "default", "web")
	assertEqual(t, "stored pod", bound, got)
	var scheduled *corev1.PodCondition
	for _, cond := range got.Status.Conditions {
		if cond.Type == "PodScheduled" {
			scheduled = cond
		}
	}
	if scheduled == nil || scheduled.Status != "True" || scheduled.LastTransitionTime == nil {
		t.Fatalf("PodScheduled condition %v, want True with a time", scheduled)
	}

	writesNothing(c, "binding a bound pod", func() {
		_, err := c.api.Bind(c.ctx, &apiv1.BindRequest{Namespace: "default", Name: "web", NodeName: "node-2"})
		wantCode(t, err, codes.Aborted)
		if !containsAll(err.Error(), "already assigned", "node-1") {
			t.Fatalf("error %q", err)
		}
		_, err = c.api.Bind(c.ctx, &apiv1.BindRequest{Namespace: "default", Name: "missing", NodeName: "node-2"})
		wantCode(t, err, codes.NotFound)
	})
}

func TestGracefulPodDeletion(t *testing.T) {
	t.Parallel()
	c := start(t, nil)

	// An unbound pod never ran: it goes at once.
	mustCreate(c, pod("default", "unbound", nil))
	if resp := mustDelete(c, &apiv1.DeleteRequest{Resource: "pods", Namespace: "default", Name: "unbound"}); !resp.Deleted {
		t.Fatalf("unbound pod kept")
	}
	mustBeGone[*corev1.Pod](c, "default", "unbound")

	custom := pod("default", "custom", nil)
	five := int64(5)
	custom.Spec.TerminationGracePeriodSeconds = &five
	ten := int64(10)
	for _, tc := range []struct {
		pod       *corev1.Pod
		requested *int64
		want      int64
	}{
		{pod("default", "default-grace", nil), nil, 30},
		{custom, nil, 5},
		{pod("default", "requested", nil), &ten, 10},
	} {
		name := tc.pod.Metadata.Name
		mustCreate(c, tc.pod)
		bound := mustBind(c, "default", name, "node-1")
		w := watch[*corev1.Pod](c, &apiv1.WatchRequest{Namespace: "default", FieldSelector: "metadata.name=" + name, ResourceVersion: bound.Metadata.ResourceVersion})
		before := time.Now().Truncate(time.Second)

		resp := mustDelete(c, &apiv1.DeleteRequest{Resource: "pods", Namespace: "default", Name: name, GracePeriodSeconds: tc.requested})
		if resp.Deleted {
			t.Fatalf("%s: bound pod removed at once", name)
		}
		marked := mustGet[*corev1.Pod](c, "default", name)
		assertEqual(t, "Delete's answer", marked, mustUnpack(t, resp.Object))
		m := marked.Metadata
		if m.DeletionTimestamp == nil || m.DeletionGracePeriodSeconds == nil || *m.DeletionGracePeriodSeconds != tc.want {
			t.Fatalf("%s: deletionTimestamp %v grace %v, want grace %d", name, m.DeletionTimestamp, m.DeletionGracePeriodSeconds, tc.want)
		}
		if at := m.DeletionTimestamp.AsTime(); at.Before(before.Add(time.Duration(tc.want)*time.Second)) || at.After(time.Now().Add(time.Duration(tc.want+2)*time.Second)) {
			t.Fatalf("%s: deletionTimestamp %v, want now + %ds", name, at, tc.want)
		}
		w.expect("MODIFIED", name)

		// Deleting again with a longer grace changes nothing.
		long := int64(300)
		writesNothing(c, "a longer grace period", func() {
			again := mustDelete(c, &apiv1.DeleteRequest{Resource: "pods", Namespace: "default", Name: name, GracePeriodSeconds: &long})
			if again.Deleted || *mustUnpack(t, again.Object).(*corev1.Pod).Metadata.DeletionGracePeriodSeconds != tc.want {
				t.Fatalf("%s: a longer grace period changed the deletion", name)
			}
		})
		// The kubelet's final delete, with grace 0, removes it.
		if resp := deleteNow(c, "pods", "default", name); !resp.Deleted {
			t.Fatalf("%s: grace 0 delete kept the pod", name)
		}
		w.expect("DELETED", name)
		mustBeGone[*corev1.Pod](c, "default", name)
	}
}

func TestFinalizers(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	cm := configMap("default", "held", nil)
	cm.Metadata.Finalizers = []string{"example.com/hold"}
	cm = mustCreate(c, cm)
	w := watch[*corev1.ConfigMap](c, &apiv1.WatchRequest{Namespace: "default", ResourceVersion: cm.Metadata.ResourceVersion})

	resp := mustDelete(c, &apiv1.DeleteRequest{Resource: "configmaps", Namespace: "default", Name: "held"})
	if resp.Deleted {
		t.Fatalf("object with a finalizer removed")
	}
	marked := mustGet[*corev1.ConfigMap](c, "default", "held")
	if marked.Metadata.DeletionTimestamp == nil {
		t.Fatalf("no deletionTimestamp")
	}
	w.expect("MODIFIED", "held")
	// Other changes are still allowed while it waits.
	marked.Data = map[string]string{"k": "v"}
	marked = mustUpdate(c, marked)
	w.expect("MODIFIED", "held")
	// Removing the last finalizer completes the deletion.
	marked.Metadata.Finalizers = nil
	if _, err := update(c, marked); err != nil {
		t.Fatalf("removing the finalizer: %v", err)
	}
	w.expect("DELETED", "held")
	mustBeGone[*corev1.ConfigMap](c, "default", "held")
}

func TestDeletePreconditions(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	cm := mustCreate(c, configMap("default", "pre", nil))
	for _, pre := range []*apiv1.Preconditions{
		{Uid: "00000000-0000-0000-0000-000000000000"},
		{ResourceVersion: "1"},
		{Uid: cm.Metadata.Uid, ResourceVersion: "1"},
	} {
		writesNothing(c, "delete with a failed precondition", func() {
			_, err := c.api.Delete(c.ctx, &apiv1.DeleteRequest{Resource: "configmaps", Namespace: "default", Name: "pre", Preconditions: pre})
			wantCode(t, err, codes.Aborted)
			if !apierrors.IsConflict(err) || !containsAll(err.Error(), "Precondition failed") {
				t.Fatalf("error %v", err)
			}
		})
		mustGet[*corev1.ConfigMap](c, "default", "pre")
	}
	resp := mustDelete(c, &apiv1.DeleteRequest{Resource: "configmaps", Namespace: "default", Name: "pre",
		Preconditions: &apiv1.Preconditions{Uid: cm.Metadata.Uid, ResourceVersion: cm.Metadata.ResourceVersion}})
	if !resp.Deleted {
		t.Fatalf("delete with matching preconditions kept the object")
	}
	mustBeGone[*corev1.ConfigMap](c, "default", "pre")
}

func TestOrphanPropagation(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	rs := fromYAML[*appsv1.ReplicaSet](t, `
metadata: {name: frontend, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {tier: frontend}}
  template:
    metadata: {labels: {tier: frontend}}
    spec:
      containers: [{name: php, image: php:8}]
`)
	mustCreate(c, rs)
	resp := mustDelete(c, &apiv1.DeleteRequest{Resource: "replicasets", Namespace: "default", Name: "frontend", PropagationPolicy: "Orphan"})
	if resp.Deleted {
		t.Fatalf("orphaning delete removed the object at once")
	}
	got := mustGet[*appsv1.ReplicaSet](c, "default", "frontend")
	if got.Metadata.DeletionTimestamp == nil || !contains(got.Metadata.Finalizers, "orphan") {
		t.Fatalf("after an Orphan delete: deletionTimestamp %v, finalizers %v", got.Metadata.DeletionTimestamp, got.Metadata.Finalizers)
	}
	writesNothing(c, "an unknown propagation policy", func() {
		_, err := c.api.Delete(c.ctx, &apiv1.DeleteRequest{Resource: "replicasets", Namespace: "default", Name: "frontend", PropagationPolicy: "Sideways"})
		wantCode(t, err, codes.InvalidArgument)
	})
}

func TestPriorityAdmission(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	critical := pod("kube-system", "critical", nil)
	critical.Spec.PriorityClassName = "system-node-critical"
	if got := mustCreate(c, critical); got.Spec.GetPriority() != 2000001000 {
		t.Fatalf("system-node-critical: priority %d, want 2000001000", got.Spec.GetPriority())
	}
	if got := mustCreate(c, pod("default", "plain", nil)); got.Spec.Priority == nil || *got.Spec.Priority != 0 {
		t.Fatalf("no class: priority %v, want 0", got.Spec.Priority)
	}
	mustCreate(c, &schedulingv1.PriorityClass{Metadata: &metav1.ObjectMeta{Name: "high"}, Value: 1000})
	high := pod("default", "high", nil)
	high.Spec.PriorityClassName = "high"
	if got := mustCreate(c, high); got.Spec.GetPriority() != 1000 {
		t.Fatalf("high: priority %d, want 1000", got.Spec.GetPriority())
	}

	unknown := pod("default", "unknown", nil)
	unknown.Spec.PriorityClassName = "no-such-class"
	writesNothing(c, "an unknown priority class", func() {
		_, err := create(c, unknown)
		wantCode(t, err, codes.PermissionDenied)
		if !containsAll(err.Error(), "no-such-class") {
			t.Fatalf("error %q does not name the class", err)
		}
	})
	mustBeGone[*corev1.Pod](c, "default", "unknown")
}

// TestDefaultStorageClass: a fresh cluster has the default class
// local-path, which a claim naming no class gets.
func TestDefaultStorageClass(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	claim := mustCreate(c, &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "data"},
		Spec: &corev1.PersistentVolumeClaimSpec{AccessModes: []string{api.ReadWriteOnce},
			Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"storage": {String_: "1Gi"}}}}})
	if got := claim.GetSpec().GetStorageClassName(); got != api.LocalPathClass {
		t.Errorf("the claim's class %q, want %s", got, api.LocalPathClass)
	}
	sc := mustGet[*storagev1.StorageClass](c, "", api.LocalPathClass)
	if sc.GetProvisioner() != api.LocalPathProvisioner || sc.GetVolumeBindingMode() != api.VolumeBindingWaitForFirstConsumer {
		t.Errorf("class %v", sc)
	}
}
