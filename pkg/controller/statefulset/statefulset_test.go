package statefulset_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/controller/history"
	"keel.dev/keel/pkg/controller/statefulset"
)

// env is a real apiserver (Node,RBAC authorization) with the StatefulSet
// controller running against it as statefulset-controller (no scheduler,
// kubelet or garbage collector: the test plays the kubelet's part).
type env struct{ *controllertest.Env }

func start(t *testing.T) *env {
	return &env{controllertest.StartAs(t, "statefulset-controller", func(c *client.Client, f *informer.Factory) func(context.Context) {
		rec, err := record.New(record.Config{Sink: record.ClientSink(c), Component: "statefulset-controller"})
		if err != nil {
			t.Fatal(err)
		}
		ctl := statefulset.New(c, f, rec, nil)
		return func(ctx context.Context) {
			ctl.Run(ctx, 2)
			_ = rec.Shutdown(context.Background())
		}
	})}
}

func newSet(replicas int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: "nginx",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
			Template: &corev1.PodTemplateSpec{
				Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "nginx"}},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "nginx", Image: "nginx:1"}}},
			},
		},
	}
}

func (e *env) sets() *client.Resource[*appsv1.StatefulSet] {
	return client.For[*appsv1.StatefulSet](e.Client, "default")
}

// podsNow returns the set's pods by name, "NAME@IMAGE" sorted.
func (e *env) podsNow() (map[string]*corev1.Pod, string) {
	e.T.Helper()
	l, err := e.Client.Pods("default").List(e.Ctx, client.ListOptions{LabelSelector: "app=nginx"})
	if err != nil {
		e.T.Fatal(err)
	}
	byName := map[string]*corev1.Pod{}
	var out []string
	for _, p := range l.Items {
		if p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		byName[p.GetMetadata().GetName()] = p
		out = append(out, p.GetMetadata().GetName()+"@"+p.GetSpec().GetContainers()[0].GetImage())
	}
	slices.Sort(out)
	return byName, strings.Join(out, ",")
}

// waitPods waits until the set's pods are want ("web-0@nginx:1,…").
func (e *env) waitPods(want string) map[string]*corev1.Pod {
	e.T.Helper()
	var pods map[string]*corev1.Pod
	e.Eventually("pods "+want, func() error {
		var got string
		pods, got = e.podsNow()
		if got != want {
			return fmt.Errorf("pods %q", got)
		}
		return nil
	})
	return pods
}

// update changes the set "web" with change, retrying on conflicts with
// the controller's status writes.
func (e *env) update(change func(*appsv1.StatefulSet)) {
	e.T.Helper()
	e.Eventually("updating the StatefulSet", func() error {
		cur, err := e.sets().Get(e.Ctx, "web")
		if err != nil {
			return err
		}
		change(cur)
		_, err = e.sets().Update(e.Ctx, cur, client.UpdateOptions{})
		return err
	})
}

// setReady plays the kubelet: the pod runs and is ready.
func (e *env) setReady(name string) {
	e.T.Helper()
	cur, err := e.Client.Pods("default").Get(e.Ctx, name)
	if err != nil {
		e.T.Fatal(err)
	}
	cur.Status = &corev1.PodStatus{Phase: api.PodRunning, PodIp: "10.244.0.1", Conditions: []*corev1.PodCondition{
		{Type: api.PodReady, Status: api.ConditionTrue, LastTransitionTime: timestamppb.Now()}}}
	if _, err := e.Client.Pods("default").UpdateStatus(e.Ctx, cur, client.UpdateOptions{}); err != nil {
		e.T.Fatal(err)
	}
}

// TestOrderedScaleAndPartitionedRollout: pods come one at a time in order,
// each once the one before is ready; a partitioned update replaces only
// the ordinals at or above the partition; scaling down goes highest
// first.
func TestOrderedScaleAndPartitionedRollout(t *testing.T) {
	e := start(t)
	set, err := e.sets().Create(e.Ctx, newSet(3), client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := e.waitPods("web-0@nginx:1")
	p := pods["web-0"]
	if p.GetSpec().GetHostname() != "web-0" || p.GetSpec().GetSubdomain() != "nginx" ||
		p.GetMetadata().GetLabels()[api.StatefulSetPodNameLabel] != "web-0" || p.GetMetadata().GetLabels()[api.PodIndexLabel] != "0" ||
		api.ControllerRef(p.GetMetadata()).GetUid() != set.GetMetadata().GetUid() {
		t.Errorf("web-0: %v", p)
	}
	rev1 := p.GetMetadata().GetLabels()[history.ControllerRevisionHashLabel]
	if _, err := client.For[*appsv1.ControllerRevision](e.Client, "default").Get(e.Ctx, rev1); err != nil {
		t.Errorf("the pod's revision %q: %v", rev1, err)
	}
	e.setReady("web-0")
	e.waitPods("web-0@nginx:1,web-1@nginx:1")
	e.setReady("web-1")
	e.waitPods("web-0@nginx:1,web-1@nginx:1,web-2@nginx:1")
	e.setReady("web-2")
	e.Eventually("status: 3 ready at one revision", func() error {
		cur, err := e.sets().Get(e.Ctx, "web")
		if err != nil {
			return err
		}
		st := cur.GetStatus()
		if st.GetReadyReplicas() != 3 || st.GetReplicas() != 3 || st.GetCurrentRevision() != rev1 || st.GetUpdateRevision() != rev1 {
			return fmt.Errorf("status %v", st)
		}
		return nil
	})

	// A new template with partition 2 replaces web-2 only.
	e.update(func(s *appsv1.StatefulSet) {
		s.Spec.Template.Spec.Containers[0].Image = "nginx:2"
		s.Spec.UpdateStrategy.RollingUpdate.Partition = proto.Int32(2)
	})
	e.waitPods("web-0@nginx:1,web-1@nginx:1,web-2@nginx:2")
	e.setReady("web-2")
	e.Eventually("status: one updated, current revision kept", func() error {
		cur, err := e.sets().Get(e.Ctx, "web")
		if err != nil {
			return err
		}
		st := cur.GetStatus()
		if st.GetUpdatedReplicas() != 1 || st.GetCurrentReplicas() != 2 || st.GetCurrentRevision() != rev1 || st.GetUpdateRevision() == rev1 {
			return fmt.Errorf("status %v", st)
		}
		return nil
	})

	// Scaling to 1 removes web-2, then web-1.
	e.update(func(s *appsv1.StatefulSet) { s.Spec.Replicas = proto.Int32(1) })
	e.waitPods("web-0@nginx:1")

	e.Eventually("Kubernetes' events", func() error {
		l, err := e.Client.Events("default").List(e.Ctx, client.ListOptions{})
		if err != nil {
			return err
		}
		var got []string
		for _, ev := range l.Items {
			got = append(got, ev.GetReason()+": "+ev.GetMessage())
		}
		for _, want := range []string{"SuccessfulCreate: create Pod web-0 in StatefulSet web successful",
			"SuccessfulDelete: delete Pod web-1 in StatefulSet web successful"} {
			if !slices.Contains(got, want) {
				return fmt.Errorf("no event %q among %q", want, got)
			}
		}
		return nil
	})
}

// TestParallelCreatesAllAtOnce: Parallel pods do not wait for each other.
func TestParallelCreatesAllAtOnce(t *testing.T) {
	e := start(t)
	s := newSet(3)
	s.Spec.PodManagementPolicy = api.ParallelPodManagement
	if _, err := e.sets().Create(e.Ctx, s, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitPods("web-0@nginx:1,web-1@nginx:1,web-2@nginx:1")
}

// TestSelectorNotMatchingTemplateRefused: the bad StatefulSet is refused
// with the field path, and nothing is stored.
func TestSelectorNotMatchingTemplateRefused(t *testing.T) {
	e := start(t)
	s := newSet(1)
	s.Spec.Selector.MatchLabels["app"] = "db"
	_, err := e.sets().Create(e.Ctx, s, client.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.template.metadata.labels") {
		t.Fatalf("create: %v, want invalid spec.template.metadata.labels", err)
	}
	if _, err := e.sets().Get(e.Ctx, "web"); !apierrors.IsNotFound(err) {
		t.Errorf("get after a refused create: %v, want NotFound", err)
	}
}

// withClaims gives the set the claim template "www" (1Gi,
// ReadWriteOnce, mounted at /data) and the retention policy
// whenDeleted/whenScaled.
func withClaims(s *appsv1.StatefulSet, whenDeleted, whenScaled string) *appsv1.StatefulSet {
	s.Spec.VolumeClaimTemplates = []*corev1.PersistentVolumeClaim{{Metadata: &metav1.ObjectMeta{Name: "www"},
		Spec: &corev1.PersistentVolumeClaimSpec{AccessModes: []string{"ReadWriteOnce"},
			Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"storage": {String_: "1Gi"}}}}}}
	s.Spec.Template.Spec.Containers[0].VolumeMounts = []*corev1.VolumeMount{{Name: "www", MountPath: "/data"}}
	s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: whenDeleted, WhenScaled: whenScaled}
	return s
}

func (e *env) claims() *client.Resource[*corev1.PersistentVolumeClaim] {
	return client.For[*corev1.PersistentVolumeClaim](e.Client, "default")
}

// owners is the claim's owners, "Kind/name/uid" each.
func (e *env) owners(claim string) (string, error) {
	c, err := e.claims().Get(e.Ctx, claim)
	if err != nil {
		return "", err
	}
	var out []string
	for _, r := range c.GetMetadata().GetOwnerReferences() {
		out = append(out, r.GetKind()+"/"+r.GetName()+"/"+r.GetUid())
	}
	return strings.Join(out, ","), nil
}

// waitOwners waits until the claim's owners are want.
func (e *env) waitOwners(claim, want string) {
	e.T.Helper()
	e.Eventually(claim+" owned by "+want, func() error {
		got, err := e.owners(claim)
		if err == nil && got != want {
			err = fmt.Errorf("owners %q", got)
		}
		return err
	})
}

// TestVolumeClaimTemplates: each pod's claim TEMPLATE-NAME-i exists when
// the pod appears, labelled with the set's selector, and the pod mounts
// it; under the default Retain policy the claims have no owner.
func TestVolumeClaimTemplates(t *testing.T) {
	e := start(t)
	if _, err := e.sets().Create(e.Ctx, withClaims(newSet(2), "", ""), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"web-0@nginx:1", "web-0@nginx:1,web-1@nginx:1"} {
		name := fmt.Sprintf("web-%d", i)
		pod := e.waitPods(want)[name]
		c, err := e.claims().Get(e.Ctx, "www-"+name)
		if err != nil {
			t.Fatalf("claim of %s, once the pod exists: %v", name, err)
		}
		if c.GetMetadata().GetLabels()["app"] != "nginx" || c.GetSpec().GetResources().GetRequests()["storage"].GetString_() != "1Gi" {
			t.Errorf("claim www-%s: %v", name, c)
		}
		if v := pod.GetSpec().GetVolumes(); len(v) != 1 || v[0].GetName() != "www" || v[0].GetPersistentVolumeClaim().GetClaimName() != "www-"+name {
			t.Errorf("%s volumes %v", name, v)
		}
		e.setReady(name)
	}
	for _, claim := range []string{"www-web-0", "www-web-1"} {
		if got, err := e.owners(claim); err != nil || got != "" {
			t.Errorf("Retain: %s owners %q (%v), want none", claim, got, err)
		}
	}
	e.Eventually("claim events", func() error {
		l, err := e.Client.Events("default").List(e.Ctx, client.ListOptions{})
		if err != nil {
			return err
		}
		for _, ev := range l.Items {
			if ev.GetReason() == "SuccessfulCreate" && ev.GetMessage() == "create Claim www-web-1 Pod web-1 in StatefulSet web success" {
				return nil
			}
		}
		return fmt.Errorf("no claim event among %d", len(l.Items))
	})
}

// TestClaimRetentionPolicy: whenDeleted Delete makes the set its claims'
// owner; whenScaled Delete makes a scaled-away pod its claim's owner
// before the pod goes; back to Retain, the set's reference goes.
func TestClaimRetentionPolicy(t *testing.T) {
	e := start(t)
	del := api.DeletePersistentVolumeClaimRetentionPolicyType
	set, err := e.sets().Create(e.Ctx, withClaims(newSet(2), del, del), client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setOwner := "StatefulSet/web/" + set.GetMetadata().GetUid()
	e.waitPods("web-0@nginx:1")
	e.setReady("web-0")
	pods := e.waitPods("web-0@nginx:1,web-1@nginx:1")
	e.setReady("web-1")
	e.waitOwners("www-web-0", setOwner)
	e.waitOwners("www-web-1", setOwner)

	e.update(func(s *appsv1.StatefulSet) { s.Spec.Replicas = proto.Int32(1) })
	e.waitPods("web-0@nginx:1")
	e.waitOwners("www-web-1", "Pod/web-1/"+pods["web-1"].GetMetadata().GetUid())
	e.waitOwners("www-web-0", setOwner)

	e.update(func(s *appsv1.StatefulSet) {
		s.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = api.RetainPersistentVolumeClaimRetentionPolicyType
	})
	e.waitOwners("www-web-0", "")
}
