package deployment

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// web is a Deployment of n replicas with image img; strategy "Recreate"
// or surge/unavailable for RollingUpdate.
func web(n int32, img, strategy, surge, unavailable string) *appsv1.Deployment {
	d := dep(n, surge, unavailable)
	d.Metadata = &metav1.ObjectMeta{Name: "web", Namespace: "default", Uid: "d-uid", Generation: 1}
	if strategy == api.RecreateDeploymentStrategyType {
		d.Spec.Strategy = &appsv1.DeploymentStrategy{Type: strategy}
	}
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	d.Spec.Template = &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: img}}}}
	return d
}

// owned is d's ReplicaSet for image img (a template of d's shape), at
// revision rev with spec replicas and available of them available.
func owned(d *appsv1.Deployment, img string, rev int64, spec, available int32) *appsv1.ReplicaSet {
	tmpl := web(1, img, "", "", "")
	rs := newReplicaSet(tmpl, TemplateHash(tmpl.Spec.Template, 0), rev, spec)
	t := true
	rs.Metadata.Name = "web-" + img
	rs.Metadata.Uid = "uid-" + img
	rs.Metadata.OwnerReferences = []*metav1.OwnerReference{{Kind: "Deployment", Name: "web", Uid: d.GetMetadata().GetUid(), Controller: &t}}
	rs.Status = &appsv1.ReplicaSetStatus{Replicas: spec, ReadyReplicas: available, AvailableReplicas: available}
	return rs
}

// describe is a plan in one line: create, revision, scales, deletes.
func describe(p Plan) string {
	var parts []string
	if p.Create != nil {
		parts = append(parts, fmt.Sprintf("create %s(rev %s)=%d", p.Create.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage(),
			p.Create.GetMetadata().GetAnnotations()[api.DeploymentRevisionAnnotation], replicas(p.Create.GetSpec().Replicas)))
	}
	if p.SetRevision != nil {
		parts = append(parts, fmt.Sprintf("revision %s=%d", p.SetRevision.GetMetadata().GetName(), p.Revision))
	}
	for _, s := range p.Scales {
		parts = append(parts, fmt.Sprintf("scale %s=%d", s.RS.GetMetadata().GetName(), s.Replicas))
	}
	if p.ScaleNew != nil {
		parts = append(parts, fmt.Sprintf("scale-new %s=%d", p.ScaleNew.RS.GetMetadata().GetName(), p.ScaleNew.Replicas))
	}
	for _, rs := range p.Delete {
		parts = append(parts, "delete "+rs.GetMetadata().GetName())
	}
	return strings.Join(parts, "; ")
}

func TestDecide(t *testing.T) {
	running := func(rs *appsv1.ReplicaSet, phase string) *corev1.Pod {
		t := true
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", OwnerReferences: []*metav1.OwnerReference{
			{Kind: "ReplicaSet", Uid: rs.GetMetadata().GetUid(), Controller: &t}}}, Status: &corev1.PodStatus{Phase: phase}}
	}
	cases := []struct {
		name  string
		d     *appsv1.Deployment
		owned func(d *appsv1.Deployment) []*appsv1.ReplicaSet
		pods  func(owned []*appsv1.ReplicaSet) []*corev1.Pod
		want  string
	}{
		{name: "first rollout: the new ReplicaSet at the desired replicas",
			d:    web(3, "v1", "", "", ""),
			want: "create v1(rev 1)=3"},
		{name: "unset replicas mean one",
			d:    func() *appsv1.Deployment { d := web(3, "v1", "", "", ""); d.Spec.Replicas = nil; return d }(),
			want: "create v1(rev 1)=1"},
		{name: "new template: the new ReplicaSet up to maxSurge, the old down to maxUnavailable",
			d: web(10, "v2", "", "3", "2"),
			owned: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{owned(d, "v1", 1, 10, 10)}
			},
			// 13 pods at most; 8 must stay available, 10 are
			want: "create v2(rev 2)=3; scale web-v1=8"},
		{name: "percentages: surge rounds up, unavailable down",
			d: web(3, "v2", "", "25%", "25%"),
			owned: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{owned(d, "v1", 1, 3, 3)}
			},
			// surge 1, unavailable 0: one more pod, none fewer available
			want: "create v2(rev 2)=1"},
		{name: "zero surge and zero unavailable would stall: one may be unavailable",
			d: web(4, "v2", "", "0", "0"),
			owned: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{owned(d, "v1", 1, 4, 4)}
			},
			want: "create v2(rev 2)=0; scale web-v1=3"},
		{name: "the new ReplicaSet grows into the room the old ones left",
			d: web(10, "v2", "", "3", "2"),
			owned: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{owned(d, "v2", 2, 3, 3), owned(d, "v1", 1, 8, 8)}
			},
			want: "scale-new web-v2=5"},
		{name: "the surge is spent: only the old ones go down, as far as availability allows",
			d: web(10, "v2", "", "3", "2"),
			owned: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{owned(d, "v2", 2, 5, 3), owned(d, "v1", 1, 8, 8)}
			},
			// 11 available − 8 minimum = 3 may go
			want: "scale web-v1=5"},
		{name: "rollover: unavailable old pods go first, oldest revision first",
			d: web(10, "v3", "", "3", "2"),
			owned: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{owned(d, "v3", 3, 5, 5), owned(d, "v2", 2, 8, 8), owned(d, "v1", 1, 2, 0)}
			},
			want: "scale web-v1=0; scale web-v2=3"},
		{name: "no old pod may go while the new ones are not available",
			d: web(10, "v2", "", "3", "2"),
			owned: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{owned(d, "v2", 2, 5, 0), owned(d, "v1", 1, 8, 8)}
			},
			want: ""},
		{name: "scaled down: the new ReplicaSet follows",
			d: web(2, "v1", "", "", ""),
			owned: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{owned(d, "v1", 1, 5, 5)}
			},
			want: "scale-new web-v1=2"},
		{name: "rollback to an old template moves its ReplicaSet to the newest revision",
			d: web(2, "v1", "", "", ""),
			owned: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{owned(d, "v2", 2, 2, 2), owned(d, "v1", 1, 0, 0)}
			},
			want: "revision web-v1=3; scale-new web-v1=1"},
		{name: "recreate: the old ReplicaSets to zero first",
			d: web(3, "v2", api.RecreateDeploymentStrategyType, "", ""),
			owned: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{owned(d, "v1", 1, 3, 3)}
			},
			pods: func(o []*appsv1.ReplicaSet) []*corev1.Pod { return []*corev1.Pod{running(o[0], api.PodRunning)} },
			want: "create v2(rev 2)=0; scale web-v1=0"},
		{name: "recreate: the new one up once the old pods are finished",
			d: web(3, "v2", api.RecreateDeploymentStrategyType, "", ""),
			owned: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{owned(d, "v2", 2, 0, 0), owned(d, "v1", 1, 0, 0)}
			},
			pods: func(o []*appsv1.ReplicaSet) []*corev1.Pod {
				return []*corev1.Pod{running(o[1], api.PodSucceeded), running(o[1], api.PodFailed)}
			},
			want: "scale-new web-v2=3"},
		{name: "recreate: waits while an old pod runs",
			d: web(3, "v2", api.RecreateDeploymentStrategyType, "", ""),
			owned: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{owned(d, "v2", 2, 0, 0), owned(d, "v1", 1, 0, 0)}
			},
			pods: func(o []*appsv1.ReplicaSet) []*corev1.Pod { return []*corev1.Pod{running(o[1], api.PodPending)} },
			want: ""},
		{name: "old ReplicaSets beyond revisionHistoryLimit are deleted, oldest first",
			d: func() *appsv1.Deployment {
				d := web(1, "v4", "", "", "")
				l := int32(1)
				d.Spec.RevisionHistoryLimit = &l
				return d
			}(),
			owned: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{owned(d, "v4", 4, 1, 1), owned(d, "v3", 3, 0, 0), owned(d, "v1", 1, 0, 0), owned(d, "v2", 2, 0, 0)}
			},
			want: "delete web-v1; delete web-v2"},
		{name: "paused: nothing but the status",
			d: func() *appsv1.Deployment { d := web(10, "v2", "", "3", "2"); d.Spec.Paused = true; return d }(),
			owned: func(d *appsv1.Deployment) []*appsv1.ReplicaSet {
				return []*appsv1.ReplicaSet{owned(d, "v1", 1, 10, 10)}
			},
			want: ""},
		{name: "being deleted: nothing but the status",
			d: func() *appsv1.Deployment {
				d := web(3, "v1", "", "", "")
				d.Metadata.DeletionTimestamp = timestamppb.New(t0)
				return d
			}(),
			want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Deployment: tc.d, Now: t0}
			if tc.owned != nil {
				in.Owned = tc.owned(tc.d)
			}
			if tc.pods != nil {
				in.Pods = tc.pods(in.Owned)
			}
			p := Decide(in)
			if got := describe(p); got != tc.want {
				t.Errorf("plan %q, want %q", got, tc.want)
			}
			if p.Status == nil {
				t.Errorf("no status for a Deployment without one")
			}
			if p.Create != nil {
				m := p.Create.GetMetadata()
				h := TemplateHash(tc.d.GetSpec().GetTemplate(), 0)
				if m.GetName() != "web-"+h || m.GetLabels()[api.DeploymentHashLabel] != h ||
					api.ControllerRef(m).GetUid() != "d-uid" || p.Create.GetSpec().GetSelector().GetMatchLabels()[api.DeploymentHashLabel] != h {
					t.Errorf("new ReplicaSet %v", p.Create)
				}
			}
		})
	}
}

func TestDecideStatusAndProgressDeadline(t *testing.T) {
	d := web(2, "v1", "", "", "")
	rs := owned(d, "v1", 1, 2, 1)
	first := Decide(Input{Deployment: d, Owned: []*appsv1.ReplicaSet{rs}, Now: t0})
	prog := findCondition(first.Status, api.DeploymentProgressing)
	if prog.GetReason() != ReasonReplicaSetUpdated || first.RequeueAfter != 601*time.Second {
		t.Fatalf("progressing %v, requeue %v; want ReplicaSetUpdated and a look at the deadline (601s)", prog, first.RequeueAfter)
	}
	if first.Status.GetAvailableReplicas() != 1 || first.Status.GetUpdatedReplicas() != 2 || first.Status.GetUnavailableReplicas() != 1 {
		t.Errorf("status %v", first.Status)
	}

	// Nothing moves for longer than the deadline: timed out, with an
	// event, once.
	d.Status = first.Status
	late := Decide(Input{Deployment: d, Owned: []*appsv1.ReplicaSet{rs}, Now: t0.Add(11 * time.Minute)})
	if c := findCondition(late.Status, api.DeploymentProgressing); c.GetReason() != ReasonProgressDeadlineExceeded || c.GetStatus() != api.ConditionFalse {
		t.Fatalf("progressing after the deadline: %v", c)
	}
	if len(late.Events) != 1 || late.Events[0].Reason != ReasonProgressDeadlineExceeded {
		t.Errorf("events %v", late.Events)
	}
	d.Status = late.Status
	if again := Decide(Input{Deployment: d, Owned: []*appsv1.ReplicaSet{rs}, Now: t0.Add(12 * time.Minute)}); again.Status != nil || len(again.Events) != 0 {
		t.Errorf("status %v, events %v written again", again.Status, again.Events)
	}

	// Complete once every replica is updated and available.
	done := owned(d, "v1", 1, 2, 2)
	st := Decide(Input{Deployment: d, Owned: []*appsv1.ReplicaSet{done}, Now: t0.Add(13 * time.Minute)}).Status
	if c := findCondition(st, api.DeploymentProgressing); c.GetReason() != ReasonNewReplicaSetAvailable {
		t.Errorf("progressing when complete: %v", c)
	}
	if c := findCondition(st, api.DeploymentAvailable); c.GetStatus() != api.ConditionTrue {
		t.Errorf("available when complete: %v", c)
	}
}

// TestDecideChangeCause: the Deployment's annotations (change-cause among
// them, not kubectl's last-applied configuration) go onto the new
// ReplicaSet when it is created, and onto the existing one when they
// change, as Kubernetes copies them for rollout history.
func TestDecideChangeCause(t *testing.T) {
	d := web(2, "v2", "", "25%", "25%")
	d.Metadata.Annotations = map[string]string{api.ChangeCauseAnnotation: "image v2", api.LastAppliedConfigAnnotation: "{}"}
	p := Decide(Input{Deployment: d, Now: t0})
	if p.Create == nil || p.Create.GetMetadata().GetAnnotations()[api.ChangeCauseAnnotation] != "image v2" ||
		p.Create.GetMetadata().GetAnnotations()[api.LastAppliedConfigAnnotation] != "" {
		t.Fatalf("created %v", p.Create.GetMetadata())
	}
	rs := owned(d, "v2", 1, 2, 2)
	if p := Decide(Input{Deployment: d, Owned: []*appsv1.ReplicaSet{rs}, Now: t0}); p.SetRevision == nil ||
		p.SetRevision.GetMetadata().GetAnnotations()[api.ChangeCauseAnnotation] != "image v2" || p.Revision != 1 {
		t.Fatalf("existing ReplicaSet without the change cause: %s", describe(p))
	}
	rs.Metadata.Annotations[api.ChangeCauseAnnotation] = "image v2"
	if p := Decide(Input{Deployment: d, Owned: []*appsv1.ReplicaSet{rs}, Now: t0}); p.SetRevision != nil {
		t.Fatalf("ReplicaSet with the change cause updated again: %s", describe(p))
	}
}
