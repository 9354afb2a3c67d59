package replicaset_test

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/controller/replicaset"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// testPod is a pod of the "web" ReplicaSet (uid rs-uid) unless changed.
type podOpt func(*corev1.Pod)

func testPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name,
			Labels: map[string]string{"app": "web"}, CreationTimestamp: timestamppb.New(now.Add(-time.Hour))},
		Spec:   &corev1.PodSpec{NodeName: "n1"},
		Status: &corev1.PodStatus{Phase: api.PodRunning},
	}
	ownedBy("rs-uid")(p)
	for _, o := range opts {
		o(p)
	}
	return p
}

func ownedBy(uid string) podOpt {
	return func(p *corev1.Pod) {
		p.Metadata.OwnerReferences = nil
		if uid != "" {
			t := true
			p.Metadata.OwnerReferences = []*metav1.OwnerReference{{Kind: "ReplicaSet", Name: "x", Uid: uid, Controller: &t}}
		}
	}
}

func labelled(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Metadata.Labels = l } }
func phase(ph string) podOpt              { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func deleting(p *corev1.Pod)              { p.Metadata.DeletionTimestamp = timestamppb.New(now) }
func unscheduled(p *corev1.Pod)           { p.Spec.NodeName = "" }
func readyFor(d time.Duration) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = []*corev1.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue,
			LastTransitionTime: timestamppb.New(now.Add(-d))}}
	}
}

func testRS(replicas *int32) *appsv1.ReplicaSet {
	rs := replicaSet("web", 0)
	rs.Metadata.Uid = "rs-uid"
	rs.Spec.Replicas = replicas
	return rs
}

func names(pods []*corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.GetMetadata().GetName())
	}
	return fmt.Sprint(out)
}

func TestDecideClaim(t *testing.T) {
	three := int32(3)
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	other := labels.Set{"app": "other"}
	cases := []struct {
		name                  string
		rsDeleting            bool
		pods                  []*corev1.Pod
		owned, adopt, release string
	}{
		{name: "owned and matching", pods: []*corev1.Pod{testPod("a"), testPod("b")}, owned: "[a b]", adopt: "[]", release: "[]"},
		{name: "a matching orphan is adopted", pods: []*corev1.Pod{testPod("a"), testPod("o", ownedBy(""))},
			owned: "[a o]", adopt: "[o]", release: "[]"},
		{name: "an orphan that does not match is left", pods: []*corev1.Pod{testPod("o", ownedBy(""), labelled(other))},
			owned: "[]", adopt: "[]", release: "[]"},
		{name: "an owned pod relabelled out of the selector is released",
			pods: []*corev1.Pod{testPod("a"), testPod("moved", labelled(other))}, owned: "[a]", adopt: "[]", release: "[moved]"},
		{name: "a pod of another controller is never taken",
			pods: []*corev1.Pod{testPod("theirs", ownedBy("other-uid"))}, owned: "[]", adopt: "[]", release: "[]"},
		{name: "orphans being deleted or finished are not adopted",
			pods: []*corev1.Pod{testPod("gone", ownedBy(""), deleting), testPod("done", ownedBy(""), phase(api.PodSucceeded)),
				testPod("failed", ownedBy(""), phase(api.PodFailed))}, owned: "[]", adopt: "[]", release: "[]"},
		{name: "a ReplicaSet being deleted adopts nothing but still releases",
			rsDeleting: true, pods: []*corev1.Pod{testPod("a"), testPod("o", ownedBy("")), testPod("moved", labelled(other))},
			owned: "[a]", adopt: "[]", release: "[moved]"},
		{name: "owned finished and terminating pods stay owned",
			pods:  []*corev1.Pod{testPod("done", phase(api.PodSucceeded)), testPod("going", deleting)},
			owned: "[done going]", adopt: "[]", release: "[]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := testRS(&three)
			if tc.rsDeleting {
				rs.Metadata.DeletionTimestamp = timestamppb.New(now)
			}
			c := replicaset.DecideClaim(rs, sel, tc.pods)
			if got := names(c.Owned); got != tc.owned {
				t.Errorf("owned %s, want %s", got, tc.owned)
			}
			if got := names(c.Adopt); got != tc.adopt {
				t.Errorf("adopt %s, want %s", got, tc.adopt)
			}
			if got := names(c.Release); got != tc.release {
				t.Errorf("release %s, want %s", got, tc.release)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	n := func(v int32) *int32 { return &v }
	many := make([]*corev1.Pod, replicaset.BurstReplicas+20)
	for i := range many {
		many[i] = testPod(fmt.Sprintf("p%03d", i))
	}
	cases := []struct {
		name        string
		replicas    *int32
		rsDeleting  bool
		unsatisfied bool
		owned       []*corev1.Pod
		create      int
		delete      string
	}{
		{name: "creates the missing pods", replicas: n(3), owned: []*corev1.Pod{testPod("a")}, create: 2, delete: "[]"},
		{name: "unset replicas means one", replicas: nil, create: 1, delete: "[]"},
		{name: "zero replicas deletes all", replicas: n(0), owned: []*corev1.Pod{testPod("a")}, delete: "[a]"},
		{name: "finished and terminating pods do not count",
			replicas: n(2), owned: []*corev1.Pod{testPod("a"), testPod("done", phase(api.PodSucceeded)), testPod("going", deleting)},
			create: 1, delete: "[]"},
		{name: "creates at most BurstReplicas", replicas: n(replicaset.BurstReplicas + 100), create: replicaset.BurstReplicas, delete: "[]"},
		{name: "deletes at most BurstReplicas", replicas: n(0), owned: many, delete: names(many[:replicaset.BurstReplicas])},
		{name: "nothing while earlier writes are unseen", replicas: n(3), unsatisfied: true, delete: "[]"},
		{name: "nothing for a ReplicaSet being deleted", replicas: n(3), rsDeleting: true, delete: "[]"},
		{name: "deletion order: unscheduled, then not ready, then ready for less time, then newer",
			replicas: n(1), owned: []*corev1.Pod{
				testPod("ready-long", readyFor(time.Hour)),
				testPod("ready-short", readyFor(time.Minute)),
				testPod("unready"),
				testPod("unscheduled", unscheduled),
			}, delete: "[unscheduled unready ready-short]"},
		{name: "deletion order: Pending before Running",
			replicas: n(1), owned: []*corev1.Pod{testPod("running"), testPod("pending", phase(api.PodPending))}, delete: "[pending]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := testRS(tc.replicas)
			if tc.rsDeleting {
				rs.Metadata.DeletionTimestamp = timestamppb.New(now)
			}
			p := replicaset.Decide(replicaset.Input{RS: rs, Owned: tc.owned, Satisfied: !tc.unsatisfied, Now: now})
			if p.Create != tc.create || names(p.Delete) != tc.delete {
				t.Errorf("create %d, delete %s; want create %d, delete %s", p.Create, names(p.Delete), tc.create, tc.delete)
			}
		})
	}
}

func TestDecideStatusOnlyWhenChanged(t *testing.T) {
	one := int32(1)
	rs := testRS(&one)
	rs.Spec.MinReadySeconds = 30
	owned := []*corev1.Pod{testPod("a", readyFor(10*time.Second))}
	p := replicaset.Decide(replicaset.Input{RS: rs, Owned: owned, Satisfied: true, Now: now})
	if p.Status == nil || p.Status.GetReplicas() != 1 || p.Status.GetAvailableReplicas() != 0 {
		t.Fatalf("status %v, want 1 replica, 0 available", p.Status)
	}
	if p.RequeueAfter != 20*time.Second {
		t.Errorf("requeue after %v, want 20s (when the pod becomes available)", p.RequeueAfter)
	}
	rs.Status = p.Status
	if again := replicaset.Decide(replicaset.Input{RS: rs, Owned: owned, Satisfied: true, Now: now}); again.Status != nil {
		t.Errorf("an unchanged status is written again: %v", again.Status)
	}
}
