package statefulset

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/controller"
	"keel.dev/keel/pkg/controller/history"
	_ "keel.dev/keel/pkg/registry/all"
)

var now = time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)

var (
	cur = Revision{Name: "web-old", Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "old"}}}}}
	upd = Revision{Name: "web-new", Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "new"}}}}}
)

func set(replicas int32, mut ...func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "ns", Uid: "u1", Generation: 1},
		Spec: &appsv1.StatefulSetSpec{Replicas: proto.Int32(replicas), ServiceName: "nginx",
			PodManagementPolicy: api.OrderedReadyPodManagement,
			Selector:            &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template:            upd.Template,
			UpdateStrategy: &appsv1.StatefulSetUpdateStrategy{Type: api.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: proto.Int32(0)}}},
	}
	for _, m := range mut {
		m(s)
	}
	return s
}

func parallel(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = api.ParallelPodManagement }

// pod is web-<ord> at revision rev in state: "ready" (running and ready
// for a minute), "fresh" (ready since now), "running" (not ready),
// "pending", "failed" or "terminating".
func pod(ord int, rev, state string) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: PodName("web", ord), Namespace: "ns", Uid: fmt.Sprint("uid-", ord),
			Labels: map[string]string{"app": "web", history.ControllerRevisionHashLabel: rev}},
		Status: &corev1.PodStatus{Phase: api.PodRunning},
	}
	readySince := now.Add(-time.Minute)
	switch state {
	case "pending":
		p.Status.Phase = api.PodPending
		return p
	case "failed":
		p.Status.Phase = api.PodFailed
		return p
	case "running":
		return p
	case "terminating":
		p.Metadata.DeletionTimestamp = timestamppb.New(now)
	case "fresh":
		readySince = now
	}
	p.Status.Conditions = []*corev1.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue, LastTransitionTime: timestamppb.New(readySince)}}
	return p
}

func names(pods []*corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.GetMetadata().GetName()+"@"+p.GetMetadata().GetLabels()[history.ControllerRevisionHashLabel])
	}
	return strings.Join(out, ",")
}

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name           string
		set            *appsv1.StatefulSet
		pods           []*corev1.Pod
		create, delete string
	}{
		{"OrderedReady creates the first pod only", set(3), nil, "web-0@web-new", ""},
		{"OrderedReady waits for a pod not ready", set(3), []*corev1.Pod{pod(0, "web-new", "running")}, "", ""},
		{"OrderedReady waits for a pending pod", set(3), []*corev1.Pod{pod(0, "web-new", "pending")}, "", ""},
		{"OrderedReady creates the next once ready", set(3), []*corev1.Pod{pod(0, "web-new", "ready")}, "web-1@web-new", ""},
		{"OrderedReady fills the lowest gap", set(3), []*corev1.Pod{pod(0, "web-new", "ready"), pod(2, "web-new", "ready")}, "web-1@web-new", ""},
		{"minReadySeconds: ready but not yet available waits", set(3, func(s *appsv1.StatefulSet) { s.Spec.MinReadySeconds = 10 }),
			[]*corev1.Pod{pod(0, "web-new", "fresh")}, "", ""},
		{"Parallel creates every missing pod", set(3, parallel), []*corev1.Pod{pod(1, "web-new", "pending")}, "web-0@web-new,web-2@web-new", ""},
		{"ordinals.start shifts the names", set(2, func(s *appsv1.StatefulSet) { s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5} }, parallel),
			[]*corev1.Pod{pod(0, "web-new", "ready")}, "web-5@web-new,web-6@web-new", ""},
		{"a failed pod is deleted to be recreated", set(2), []*corev1.Pod{pod(0, "web-new", "failed"), pod(1, "web-new", "ready")}, "", "web-0@web-new"},
		{"OrderedReady scales down highest first, one at a time", set(1),
			[]*corev1.Pod{pod(0, "web-new", "ready"), pod(1, "web-new", "ready"), pod(2, "web-new", "ready")}, "", "web-2@web-new"},
		{"OrderedReady waits for a terminating pod before the next", set(1),
			[]*corev1.Pod{pod(0, "web-new", "ready"), pod(1, "web-new", "ready"), pod(2, "web-new", "terminating")}, "", ""},
		{"OrderedReady does not scale down past an unhealthy pod", set(1),
			[]*corev1.Pod{pod(0, "web-new", "running"), pod(1, "web-new", "ready")}, "", ""},
		{"Parallel scales down all at once", set(1, parallel),
			[]*corev1.Pod{pod(0, "web-new", "ready"), pod(1, "web-new", "running"), pod(2, "web-new", "ready")}, "", "web-2@web-new,web-1@web-new"},
		{"rolling update deletes the highest old pod", set(3),
			[]*corev1.Pod{pod(0, "web-old", "ready"), pod(1, "web-old", "ready"), pod(2, "web-old", "ready")}, "", "web-2@web-old"},
		{"rolling update waits while a pod is unavailable", set(3),
			[]*corev1.Pod{pod(0, "web-old", "ready"), pod(1, "web-old", "ready"), pod(2, "web-new", "running")}, "", ""},
		{"rolling update continues below an updated pod", set(3),
			[]*corev1.Pod{pod(0, "web-old", "ready"), pod(1, "web-old", "ready"), pod(2, "web-new", "ready")}, "", "web-1@web-old"},
		{"partition keeps lower ordinals", set(3, func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = proto.Int32(2) }),
			[]*corev1.Pod{pod(0, "web-old", "ready"), pod(1, "web-old", "ready"), pod(2, "web-new", "ready")}, "", ""},
		{"a pod below the partition is recreated at the current revision",
			set(3, func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = proto.Int32(2) }),
			[]*corev1.Pod{pod(1, "web-old", "ready"), pod(2, "web-new", "ready")}, "web-0@web-old", ""},
		{"maxUnavailable 2 deletes two at once", set(4, func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = api.IntOrStringFromInt(2)
		}), []*corev1.Pod{pod(0, "web-old", "ready"), pod(1, "web-old", "ready"), pod(2, "web-old", "ready"), pod(3, "web-old", "ready")},
			"", "web-3@web-old,web-2@web-old"},
		{"maxUnavailable 50% counts the unavailable", set(4, func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = api.IntOrStringFromString("50%")
		}), []*corev1.Pod{pod(0, "web-old", "ready"), pod(1, "web-old", "ready"), pod(2, "web-old", "ready"), pod(3, "web-new", "running")},
			"", "web-2@web-old"},
		{"OnDelete never deletes for an update", set(2, func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = &appsv1.StatefulSetUpdateStrategy{Type: api.OnDeleteStatefulSetStrategyType}
		}), []*corev1.Pod{pod(0, "web-old", "ready"), pod(1, "web-old", "ready")}, "", ""},
		{"a set being deleted does nothing", set(2, func(s *appsv1.StatefulSet) { s.Metadata.DeletionTimestamp = timestamppb.New(now) }),
			nil, "", ""},
	} {
		plan := Decide(Input{Set: tc.set, Pods: tc.pods, Current: cur, Update: upd, Now: now})
		if got := names(plan.Create); got != tc.create {
			t.Errorf("%s: create %q, want %q", tc.name, got, tc.create)
		}
		if got := names(plan.Delete); got != tc.delete {
			t.Errorf("%s: delete %q, want %q", tc.name, got, tc.delete)
		}
	}
}

func TestDecideRequeuesForMinReadySeconds(t *testing.T) {
	s := set(2, func(s *appsv1.StatefulSet) { s.Spec.MinReadySeconds = 10 })
	plan := Decide(Input{Set: s, Pods: []*corev1.Pod{pod(0, "web-new", "fresh")}, Current: upd, Update: upd, Now: now})
	if plan.RequeueAfter != 10*time.Second {
		t.Errorf("requeue after %v, want 10s", plan.RequeueAfter)
	}
}

func TestStatus(t *testing.T) {
	s := set(3)
	pods := []*corev1.Pod{pod(0, "web-old", "ready"), pod(1, "web-new", "ready"), pod(2, "web-new", "running")}
	st := Decide(Input{Set: s, Pods: pods, Current: cur, Update: upd, Now: now}).Status
	want := &appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 3, ReadyReplicas: 2, AvailableReplicas: 2,
		CurrentReplicas: 1, UpdatedReplicas: 2, CurrentRevision: "web-old", UpdateRevision: "web-new"}
	if !proto.Equal(st, want) {
		t.Errorf("status\n got %v\nwant %v", st, want)
	}
	// Every replica updated and ready: the update revision becomes current.
	pods[0], pods[2] = pod(0, "web-new", "ready"), pod(2, "web-new", "ready")
	st = Decide(Input{Set: s, Pods: pods, Current: cur, Update: upd, Now: now}).Status
	if st.GetCurrentRevision() != "web-new" || st.GetCurrentReplicas() != 3 {
		t.Errorf("completed rollout: current %s (%d replicas)", st.GetCurrentRevision(), st.GetCurrentReplicas())
	}
}

func TestNewPod(t *testing.T) {
	s := set(3, func(s *appsv1.StatefulSet) {
		s.Spec.VolumeClaimTemplates = []*corev1.PersistentVolumeClaim{{Metadata: &metav1.ObjectMeta{Name: "www"},
			Spec: &corev1.PersistentVolumeClaimSpec{AccessModes: []string{"ReadWriteOnce"}}}}
	})
	p := NewPod(s, upd, 2)
	m := p.GetMetadata()
	if m.GetName() != "web-2" || p.GetSpec().GetHostname() != "web-2" || p.GetSpec().GetSubdomain() != "nginx" {
		t.Errorf("name %s hostname %s subdomain %s", m.GetName(), p.GetSpec().GetHostname(), p.GetSpec().GetSubdomain())
	}
	l := m.GetLabels()
	if l[api.StatefulSetPodNameLabel] != "web-2" || l[api.PodIndexLabel] != "2" || l[history.ControllerRevisionHashLabel] != "web-new" || l["app"] != "web" {
		t.Errorf("labels %v", l)
	}
	if v := p.GetSpec().GetVolumes(); len(v) != 1 || v[0].GetName() != "www" || v[0].GetPersistentVolumeClaim().GetClaimName() != "www-web-2" {
		t.Errorf("volumes %v", v)
	}
	if ref := m.GetOwnerReferences()[0]; ref.GetKind() != "StatefulSet" || !ref.GetController() {
		t.Errorf("owner %v", ref)
	}
	if c := Claims(s, 2); len(c) != 1 || c[0].GetMetadata().GetName() != "www-web-2" || c[0].GetMetadata().GetLabels()["app"] != "web" {
		t.Errorf("claims %v", c)
	}
	if len(upd.Template.GetMetadata().GetLabels()) != 1 {
		t.Error("the template changed")
	}
}

func TestOrdinal(t *testing.T) {
	for name, want := range map[string]int{"web-0": 0, "web-12": 12, "web-": -1, "web-01": -1, "web-x": -1, "webx-1": -1, "web-1-2": -1} {
		got, ok := Ordinal("web", name)
		if (want < 0) == ok || (ok && got != want) {
			t.Errorf("Ordinal(%q) = %d, %v", name, got, ok)
		}
	}
}

// withClaims gives the set the claim template "www" and the retention
// policy whenDeleted/whenScaled.
func withClaims(whenDeleted, whenScaled string) func(*appsv1.StatefulSet) {
	return func(s *appsv1.StatefulSet) {
		s.Spec.VolumeClaimTemplates = []*corev1.PersistentVolumeClaim{{Metadata: &metav1.ObjectMeta{Name: "www", Labels: map[string]string{"tier": "db"}},
			Spec: &corev1.PersistentVolumeClaimSpec{AccessModes: []string{"ReadWriteOnce"}}}}
		s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: whenDeleted, WhenScaled: whenScaled}
	}
}

const (
	retain = api.RetainPersistentVolumeClaimRetentionPolicyType
	del    = api.DeletePersistentVolumeClaimRetentionPolicyType
)

// claim is the claim name with the given owners; deleting marks it as
// being deleted.
func claim(name string, deleting bool, owners ...*metav1.OwnerReference) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "ns", OwnerReferences: owners}}
	if deleting {
		c.Metadata.DeletionTimestamp = timestamppb.New(now)
	}
	return c
}

// owners is "Kind/name" of each reference ("*" after a controller's).
func owners(refs []*metav1.OwnerReference) string {
	var out []string
	for _, r := range refs {
		s := r.GetKind() + "/" + r.GetName()
		if r.GetController() {
			s += "*"
		}
		out = append(out, s)
	}
	return strings.Join(out, ",")
}

func TestDecideClaims(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    *appsv1.StatefulSet
		pods   []*corev1.Pod
		claims []*corev1.PersistentVolumeClaim
		// create is the pods created; claims "POD:CLAIM[owners]" the
		// claims created; update "CLAIM[owners]" the claims updated.
		create, createClaims, update string
	}{
		{"a pod's missing claim is created with it", set(2, withClaims(retain, retain)), nil, nil,
			"web-0@web-new", "web-0:www-web-0[]", ""},
		{"an existing claim is kept", set(2, withClaims(retain, retain)), nil, []*corev1.PersistentVolumeClaim{claim("www-web-0", false)},
			"web-0@web-new", "", ""},
		{"whenDeleted Delete: a new claim is the set's", set(1, withClaims(del, retain)), nil, nil,
			"web-0@web-new", "web-0:www-web-0[StatefulSet/web*]", ""},
		{"OrderedReady: a claim being deleted holds its pod back", set(2, withClaims(retain, retain)), nil,
			[]*corev1.PersistentVolumeClaim{claim("www-web-0", true)}, "", "", ""},
		{"Parallel: a claim being deleted holds back its pod only", set(3, withClaims(retain, retain), parallel), nil,
			[]*corev1.PersistentVolumeClaim{claim("www-web-1", true)}, "web-0@web-new,web-2@web-new", "web-0:www-web-0[],web-2:www-web-2[]", ""},
		{"a pending pod's missing claim is created", set(1, withClaims(retain, retain)), []*corev1.Pod{pod(0, "web-new", "pending")}, nil,
			"", "web-0:www-web-0[]", ""},
		{"whenDeleted Delete: an existing claim becomes the set's", set(1, withClaims(del, retain)), []*corev1.Pod{pod(0, "web-new", "ready")},
			[]*corev1.PersistentVolumeClaim{claim("www-web-0", false)}, "", "", "www-web-0[StatefulSet/web*]"},
		{"whenScaled Delete: a condemned pod's claim becomes the pod's", set(1, withClaims(retain, del)),
			[]*corev1.Pod{pod(0, "web-new", "ready"), pod(1, "web-new", "ready")},
			[]*corev1.PersistentVolumeClaim{claim("www-web-0", false), claim("www-web-1", false)}, "", "", "www-web-1[Pod/web-1*]"},
		{"Retain: the set's reference goes", set(1, withClaims(retain, retain)), []*corev1.Pod{pod(0, "web-new", "ready")},
			[]*corev1.PersistentVolumeClaim{claim("www-web-0", false, setRef())}, "", "", "www-web-0[]"},
		{"a claim being deleted keeps its owners", set(1, withClaims(del, retain)), []*corev1.Pod{pod(0, "web-new", "ready")},
			[]*corev1.PersistentVolumeClaim{claim("www-web-0", true)}, "", "", ""},
		{"nothing while the set is being deleted", set(1, withClaims(retain, del), func(s *appsv1.StatefulSet) { s.Metadata.DeletionTimestamp = timestamppb.New(now) }),
			[]*corev1.Pod{pod(0, "web-new", "ready"), pod(1, "web-new", "ready")}, []*corev1.PersistentVolumeClaim{claim("www-web-1", false)}, "", "", ""},
	} {
		claims := map[string]*corev1.PersistentVolumeClaim{}
		for _, c := range tc.claims {
			claims[c.GetMetadata().GetName()] = c
		}
		plan := Decide(Input{Set: tc.set, Pods: tc.pods, Current: upd, Update: upd, Claims: claims, Now: now})
		if got := names(plan.Create); got != tc.create {
			t.Errorf("%s: create %q, want %q", tc.name, got, tc.create)
		}
		var created, updated []string
		for _, pc := range plan.CreateClaims {
			created = append(created, pc.Pod+":"+pc.Claim.GetMetadata().GetName()+"["+owners(pc.Claim.GetMetadata().GetOwnerReferences())+"]")
			if l := pc.Claim.GetMetadata().GetLabels(); l["app"] != "web" || l["tier"] != "db" {
				t.Errorf("%s: claim labels %v", tc.name, l)
			}
		}
		for _, c := range plan.UpdateClaims {
			updated = append(updated, c.GetMetadata().GetName()+"["+owners(c.GetMetadata().GetOwnerReferences())+"]")
		}
		if got := strings.Join(created, ","); got != tc.createClaims {
			t.Errorf("%s: claims created %q, want %q", tc.name, got, tc.createClaims)
		}
		if got := strings.Join(updated, ","); got != tc.update {
			t.Errorf("%s: claims updated %q, want %q", tc.name, got, tc.update)
		}
	}
}

func setRef() *metav1.OwnerReference {
	return controller.NewControllerRef(set(1))
}

func TestClaimOwners(t *testing.T) {
	p := pod(2, "web-new", "ready")
	podRef := controller.NewControllerRef(p)
	stale := controller.NewControllerRef(set(1))
	stale.Uid = "old"
	other := &metav1.OwnerReference{ApiVersion: "v1", Kind: "ConfigMap", Name: "keep", Uid: "c1"}
	otherController := &metav1.OwnerReference{ApiVersion: "example.com/v1", Kind: "Backup", Name: "b", Uid: "b1", Controller: proto.Bool(true)}
	for _, tc := range []struct {
		name                    string
		whenDeleted, whenScaled string
		condemned               bool
		refs                    []*metav1.OwnerReference
		want                    string
		changed                 bool
	}{
		{"Retain/Retain: no owner", retain, retain, false, nil, "", false},
		{"Retain/Retain removes the set and the pod", retain, retain, true, []*metav1.OwnerReference{setRef(), other, podRef}, "ConfigMap/keep", true},
		{"whenDeleted Delete: the set", del, retain, false, nil, "StatefulSet/web*", true},
		{"whenDeleted Delete: the set, also when condemned", del, retain, true, []*metav1.OwnerReference{setRef()}, "StatefulSet/web*", false},
		{"whenScaled Delete: no owner while a replica", retain, del, false, []*metav1.OwnerReference{podRef}, "", true},
		{"whenScaled Delete: the pod when condemned", retain, del, true, nil, "Pod/web-2*", true},
		{"Delete/Delete: the set while a replica", del, del, false, []*metav1.OwnerReference{podRef}, "StatefulSet/web*", true},
		{"Delete/Delete: the pod instead when condemned", del, del, true, []*metav1.OwnerReference{setRef()}, "Pod/web-2*", true},
		{"other owners stay", del, retain, false, []*metav1.OwnerReference{other}, "ConfigMap/keep,StatefulSet/web*", true},
		{"a set reference made a controller's", del, retain, false, []*metav1.OwnerReference{{ApiVersion: "apps/v1", Kind: "StatefulSet", Name: "web", Uid: "u1"}},
			"StatefulSet/web*", true},
		{"another controller: ours go, none added", del, del, true, []*metav1.OwnerReference{otherController, setRef()}, "Backup/b*", true},
		{"a stale reference leaves the claim alone", del, del, true, []*metav1.OwnerReference{stale}, "StatefulSet/web*", false},
	} {
		s := set(1, withClaims(tc.whenDeleted, tc.whenScaled))
		got, changed := ClaimOwners(s, p, tc.condemned, claim("www-web-2", false, tc.refs...))
		if owners(got) != tc.want || changed != tc.changed {
			t.Errorf("%s: owners %q (changed %v), want %q (%v)", tc.name, owners(got), changed, tc.want, tc.changed)
		}
	}
}

// TestDecideHeldReplica: while a replica is held back by its claim being
// deleted, nothing is scaled down or updated.
func TestDecideHeldReplica(t *testing.T) {
	claims := map[string]*corev1.PersistentVolumeClaim{"www-web-1": claim("www-web-1", true)}
	for _, tc := range []struct {
		name string
		set  *appsv1.StatefulSet
		pods []*corev1.Pod
	}{
		{"OrderedReady scale-down", set(2, withClaims(retain, retain)),
			[]*corev1.Pod{pod(0, "web-new", "ready"), pod(2, "web-new", "ready")}},
		{"Parallel rolling update", set(3, withClaims(retain, retain), parallel),
			[]*corev1.Pod{pod(0, "web-old", "ready"), pod(2, "web-old", "ready")}},
	} {
		plan := Decide(Input{Set: tc.set, Pods: tc.pods, Current: cur, Update: upd, Claims: claims, Now: now})
		if len(plan.Create)+len(plan.Delete) != 0 {
			t.Errorf("%s: create %q, delete %q, want nothing", tc.name, names(plan.Create), names(plan.Delete))
		}
	}
}
