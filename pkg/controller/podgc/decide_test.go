package podgc

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

type podOpt func(*corev1.Pod)

func pod(name, node string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name,
		CreationTimestamp: timestamppb.New(t0)}, Spec: &corev1.PodSpec{NodeName: node}, Status: &corev1.PodStatus{Phase: api.PodRunning}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func terminating(grace int64) podOpt {
	return func(p *corev1.Pod) {
		p.Metadata.DeletionTimestamp = timestamppb.New(t0.Add(time.Duration(grace) * time.Second))
		p.Metadata.DeletionGracePeriodSeconds = &grace
	}
}

func phase(ph string) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }

func created(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.Metadata.CreationTimestamp = timestamppb.New(t0.Add(d)) }
}

func node(name, ready string, taints ...string) *corev1.Node {
	n := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name}, Spec: &corev1.NodeSpec{},
		Status: &corev1.NodeStatus{Conditions: []*corev1.NodeCondition{{Type: api.NodeReady, Status: ready}}}}
	for _, k := range taints {
		n.Spec.Taints = append(n.Spec.Taints, &corev1.Taint{Key: k, Effect: api.TaintEffectNoExecute})
	}
	return n
}

// got renders deletions as "name:reason" for comparison.
func got(ds []Deletion) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.Name+":"+string(d.Reason))
	}
	return out
}

func TestDecide(t *testing.T) {
	cfg := Config{Quarantine: 40 * time.Second, TerminatedPodThreshold: 2}
	now := t0.Add(time.Hour)
	healthy := node("n1", api.ConditionTrue)
	oos := node("down", api.ConditionFalse, api.TaintNodeOutOfService, api.TaintNodeNotReady)
	for _, tc := range []struct {
		name    string
		in      Input
		cfg     *Config
		want    []string
		comment string
	}{
		{name: "pods on an existing node are untouched",
			in:   Input{Pods: []*corev1.Pod{pod("a", "n1"), pod("b", "n1", terminating(30)), pod("c", "")}, Nodes: []*corev1.Node{healthy}},
			want: []string{}},
		{name: "orphaned after the quarantine, confirmed gone",
			in: Input{Pods: []*corev1.Pod{pod("a", "gone"), pod("b", "gone", terminating(30)), pod("c", "n1")}, Nodes: []*corev1.Node{healthy},
				Missing: map[string]time.Time{"gone": now.Add(-40 * time.Second)}, Gone: map[string]bool{"gone": true}},
			want: []string{"a:orphaned", "b:orphaned"}},
		{name: "still in quarantine",
			in: Input{Pods: []*corev1.Pod{pod("a", "gone")}, Nodes: []*corev1.Node{healthy},
				Missing: map[string]time.Time{"gone": now.Add(-39 * time.Second)}, Gone: map[string]bool{"gone": true}},
			want: []string{}},
		{name: "missing but not confirmed by a live read",
			in: Input{Pods: []*corev1.Pod{pod("a", "gone")}, Nodes: []*corev1.Node{healthy},
				Missing: map[string]time.Time{"gone": now.Add(-time.Hour)}},
			want: []string{}},
		{name: "confirmed gone but never seen missing (no quarantine served)",
			in:   Input{Pods: []*corev1.Pod{pod("a", "gone")}, Gone: map[string]bool{"gone": true}},
			want: []string{}},
		{name: "a node in the cache is never orphaned, whatever Gone says",
			in: Input{Pods: []*corev1.Pod{pod("a", "n1")}, Nodes: []*corev1.Node{healthy},
				Missing: map[string]time.Time{"n1": now.Add(-time.Hour)}, Gone: map[string]bool{"n1": true}},
			want: []string{}},
		{name: "terminating on a not-ready out-of-service node",
			in:   Input{Pods: []*corev1.Pod{pod("a", "down", terminating(30)), pod("b", "down")}, Nodes: []*corev1.Node{oos}},
			want: []string{"a:out-of-service"}},
		{name: "terminating on a ready node tainted out-of-service stays",
			in:   Input{Pods: []*corev1.Pod{pod("a", "up", terminating(30))}, Nodes: []*corev1.Node{node("up", api.ConditionTrue, api.TaintNodeOutOfService)}},
			want: []string{}},
		{name: "terminating on an unreachable node without the taint stays",
			in: Input{Pods: []*corev1.Pod{pod("a", "lost", terminating(30))},
				Nodes: []*corev1.Node{node("lost", api.ConditionUnknown, api.TaintNodeUnreachable)}},
			want: []string{}},
		{name: "unscheduled and already force-deleted: only finalizers hold it",
			in:   Input{Pods: []*corev1.Pod{pod("a", "", terminating(0)), pod("b", "")}},
			want: []string{}},
		{name: "unscheduled terminating with grace left",
			in:   Input{Pods: []*corev1.Pod{pod("a", "", terminating(30)), pod("b", "")}},
			want: []string{"a:unscheduled-terminating"}},
		{name: "already force-deleted pods are not deleted again",
			in: Input{Pods: []*corev1.Pod{pod("a", "gone", terminating(0)), pod("b", "down", terminating(0))}, Nodes: []*corev1.Node{oos},
				Missing: map[string]time.Time{"gone": t0}, Gone: map[string]bool{"gone": true}},
			want: []string{}},
		{name: "terminated pods beyond the threshold, oldest first",
			in: Input{Pods: []*corev1.Pod{
				pod("new", "n1", phase(api.PodSucceeded), created(3*time.Minute)),
				pod("old", "n1", phase(api.PodFailed), created(time.Minute)),
				pod("running", "n1", created(0)),
				pod("mid", "n1", phase(api.PodSucceeded), created(2*time.Minute)),
				pod("oldest", "n1", phase(api.PodSucceeded), created(30*time.Second)),
			}, Nodes: []*corev1.Node{healthy}},
			want: []string{"oldest:terminated-over-threshold", "old:terminated-over-threshold"}},
		{name: "ties in creation time go by name",
			in: Input{Pods: []*corev1.Pod{pod("c", "n1", phase(api.PodFailed)), pod("b", "n1", phase(api.PodFailed)), pod("a", "n1", phase(api.PodFailed))},
				Nodes: []*corev1.Node{healthy}},
			want: []string{"a:terminated-over-threshold"}},
		{name: "at the threshold nothing goes",
			in:   Input{Pods: []*corev1.Pod{pod("a", "n1", phase(api.PodFailed)), pod("b", "n1", phase(api.PodSucceeded))}, Nodes: []*corev1.Node{healthy}},
			want: []string{}},
		{name: "threshold 0 keeps every terminated pod",
			in: Input{Pods: []*corev1.Pod{pod("a", "n1", phase(api.PodFailed)), pod("b", "n1", phase(api.PodSucceeded)), pod("c", "n1", phase(api.PodFailed))},
				Nodes: []*corev1.Node{healthy}},
			cfg:  &Config{Quarantine: 40 * time.Second},
			want: []string{}},
		{name: "terminated pods deleted for another reason do not count toward the threshold",
			in: Input{Pods: []*corev1.Pod{
				pod("orphan", "gone", phase(api.PodSucceeded)),
				pod("a", "n1", phase(api.PodFailed), created(time.Second)),
				pod("b", "n1", phase(api.PodFailed), created(2*time.Second)),
			}, Nodes: []*corev1.Node{healthy}, Missing: map[string]time.Time{"gone": t0}, Gone: map[string]bool{"gone": true}},
			want: []string{"orphan:orphaned"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				c = *tc.cfg
			}
			if tc.in.Now.IsZero() {
				tc.in.Now = now
			}
			if d := got(Decide(tc.in, c)); !slices.Equal(d, tc.want) {
				t.Errorf("Decide = %v, want %v %s", d, tc.want, tc.comment)
			}
		})
	}
}

// TestDecideCarriesUID: every deletion names the pod's uid, which the
// delete sends as a precondition.
func TestDecideCarriesUID(t *testing.T) {
	p := pod("a", "", terminating(30))
	p.Metadata.Uid = "the-uid"
	ds := Decide(Input{Pods: []*corev1.Pod{p}, Now: t0}, Config{})
	if len(ds) != 1 || ds[0].UID != "the-uid" || ds[0].Namespace != "default" || ds[0].Name != "a" {
		t.Fatalf("Decide = %+v, want one deletion of default/a with uid the-uid", ds)
	}
}

func TestDefaultQuarantineIs40s(t *testing.T) {
	in := Input{Pods: []*corev1.Pod{pod("a", "gone")}, Missing: map[string]time.Time{"gone": t0}, Gone: map[string]bool{"gone": true}}
	for _, tc := range []struct {
		after time.Duration
		want  int
	}{{39 * time.Second, 0}, {40 * time.Second, 1}} {
		in.Now = t0.Add(tc.after)
		if n := len(Decide(in, Config{})); n != tc.want {
			t.Errorf("%v after the node went missing: %d deletions, want %d", tc.after, n, tc.want)
		}
	}
}

func TestTrackMissing(t *testing.T) {
	earlier := t0.Add(-time.Minute)
	pods := []*corev1.Pod{pod("a", "n1"), pod("b", "gone"), pod("c", "gone"), pod("d", "new-gone"), pod("e", "")}
	nodes := []*corev1.Node{node("n1", api.ConditionTrue)}
	prev := map[string]time.Time{"gone": earlier, "back": earlier, "n1": earlier}
	got := TrackMissing(pods, nodes, prev, t0)
	want := map[string]time.Time{"gone": earlier, "new-gone": t0}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("TrackMissing = %v, want %v", got, want)
	}
}
