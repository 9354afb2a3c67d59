package job

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func TestFormatIndexes(t *testing.T) {
	for _, c := range []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{3, 4}, "3,4"},
		{[]int{0, 1, 2, 3, 4}, "0-4"},
		{[]int{1, 3, 4, 5, 7}, "1,3-5,7"},
		{[]int{0, 1, 5, 6, 7, 9, 10}, "0,1,5-7,9,10"},
	} {
		if got := formatIndexes(c.in); got != c.want {
			t.Errorf("formatIndexes(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParseIndexes(t *testing.T) {
	for _, c := range []struct {
		in          string
		completions int32
		want        []int
	}{
		{"", 5, nil},
		{"0-4", 5, []int{0, 1, 2, 3, 4}},
		{"1,3-5,7", 10, []int{1, 3, 4, 5, 7}},
		{"3,4", 5, []int{3, 4}},
		{"7,1,1-2", 10, []int{1, 2, 7}},                                      // unordered and overlapping: sorted, distinct
		{"2-9", 5, []int{2, 3, 4}},                                           // beyond completions: cut off
		{"x,1,-3,5-2,2-y,4-", 5, []int{1}},                                   // malformed parts skipped
		{"0-1000000000", 3, []int{0, 1, 2}},                                  // a huge interval costs only completions
		{formatIndexes([]int{0, 2, 3, 4, 6, 7}), 8, []int{0, 2, 3, 4, 6, 7}}, // round trip
	} {
		if got := parseIndexes(c.in, c.completions); !slices.Equal(got, c.want) {
			t.Errorf("parseIndexes(%q, %d) = %v, want %v", c.in, c.completions, got, c.want)
		}
	}
}

// pod is an active pod named name with completion index ix ("" for none),
// Running and ready since age ago when ready.
func pod(name, ix string, ready bool) *corev1.Pod {
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Uid: name, CreationTimestamp: timestamppb.New(time.Unix(1000, 0))},
		Spec: &corev1.PodSpec{NodeName: "n1"}, Status: &corev1.PodStatus{Phase: api.PodRunning}}
	if ix != "" {
		p.Metadata.Annotations = map[string]string{api.JobCompletionIndexAnnotation: ix}
	}
	if ready {
		p.Status.Conditions = []*corev1.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue, LastTransitionTime: timestamppb.New(time.Unix(1000, 0))}}
	}
	return p
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.GetMetadata().GetName())
	}
	return out
}

func TestPlanIndexed(t *testing.T) {
	now := time.Unix(2000, 0)
	labelled := pod("labelled", "", false)
	labelled.Metadata.Labels = map[string]string{api.JobCompletionIndexAnnotation: "2"}
	for _, c := range []struct {
		name              string
		active            []*corev1.Pod
		done              []int
		completions, want int32
		create            []int
		remove            []string
	}{
		{"fresh job: lowest indexes first", nil, nil, 5, 2, []int{0, 1}, nil},
		{"skips done and active indexes", []*corev1.Pod{pod("a", "1", true)}, []int{0, 2}, 5, 3, []int{3, 4}, nil},
		{"nothing missing", []*corev1.Pod{pod("a", "3", true), pod("b", "4", true)}, []int{0, 1, 2}, 5, 2, nil, nil},
		{"want bounds creates", nil, []int{1}, 5, 1, []int{0}, nil},
		{"duplicate index: the ready pod stays", []*corev1.Pod{pod("a", "0", false), pod("b", "0", true), pod("c", "0", false)}, nil, 3, 2,
			[]int{1}, []string{"a", "c"}},
		{"no index, bad index, out of range, done index", []*corev1.Pod{pod("none", "", true), pod("bad", "x", true), pod("far", "5", true),
			pod("neg", "-1", true), pod("done", "1", true), pod("ok", "0", true)}, []int{1}, 5, 2,
			[]int{2}, []string{"none", "bad", "far", "neg", "done"}},
		{"index label without annotation", []*corev1.Pod{labelled}, nil, 5, 2, []int{0}, nil},
		{"surplus: the not ready go first, nothing created", []*corev1.Pod{pod("a", "0", true), pod("b", "1", false), pod("c", "2", true)}, nil, 5, 1,
			nil, []string{"b", "a"}},
		{"suspended: all go", []*corev1.Pod{pod("a", "0", true), pod("b", "1", true)}, nil, 5, 0, nil, []string{"a", "b"}},
	} {
		got := planIndexed(c.active, c.done, c.completions, c.want, now)
		if !slices.Equal(got.create, c.create) || !slices.Equal(names(got.remove), c.remove) {
			t.Errorf("%s: create %v remove %v, want create %v remove %v", c.name, got.create, names(got.remove), c.create, c.remove)
		}
	}
}

func TestPlanNonIndexed(t *testing.T) {
	now := time.Unix(2000, 0)
	if got := planNonIndexed([]*corev1.Pod{pod("a", "", true)}, 3, now); !slices.Equal(got.create, []int{-1, -1}) || got.remove != nil {
		t.Errorf("grow: %+v", got)
	}
	if got := planNonIndexed([]*corev1.Pod{pod("a", "", true), pod("b", "", false), pod("c", "", true)}, 1, now); got.create != nil ||
		!slices.Equal(names(got.remove), []string{"b", "a"}) {
		t.Errorf("shrink: create %v remove %v", got.create, names(got.remove))
	}
}

func TestSucceededIndexes(t *testing.T) {
	succeededPod := func(ix string) *corev1.Pod {
		p := pod("p"+ix, ix, false)
		p.Status.Phase = api.PodSucceeded
		return p
	}
	failed := succeededPod("4")
	failed.Status.Phase = api.PodFailed
	pods := []*corev1.Pod{succeededPod("3"), succeededPod("1"), succeededPod("9"), succeededPod(""), pod("r", "5", true), failed}
	if got, want := succeededIndexes("0,1", pods, 6), []int{0, 1, 3}; !slices.Equal(got, want) {
		t.Errorf("succeededIndexes = %v, want %v", got, want)
	}
}

func TestIndexedPod(t *testing.T) {
	j := &batchv1.Job{Metadata: &metav1.ObjectMeta{Name: "sample", Namespace: "ns", Uid: "u1"},
		Spec: &batchv1.JobSpec{Template: &corev1.PodTemplateSpec{
			Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
			Spec: &corev1.PodSpec{Hostname: "ignored", Subdomain: "svc",
				InitContainers: []*corev1.Container{{Name: "init"}},
				Containers: []*corev1.Container{{Name: "a", Env: []*corev1.EnvVar{{Name: "A", Value: "1"}}},
					{Name: "b", Env: []*corev1.EnvVar{{Name: CompletionIndexEnv, Value: "mine"}}}}}}}}
	p := indexedPod(j, 3)
	m := p.GetMetadata()
	if m.GetGenerateName() != "sample-3-" || m.GetAnnotations()[api.JobCompletionIndexAnnotation] != "3" || m.GetLabels()[api.JobCompletionIndexAnnotation] != "3" ||
		m.GetLabels()["app"] != "x" || len(m.GetOwnerReferences()) != 1 {
		t.Errorf("metadata %v", m)
	}
	if p.GetSpec().GetHostname() != "sample-3" || p.GetSpec().GetSubdomain() != "svc" {
		t.Errorf("hostname %q subdomain %q", p.GetSpec().GetHostname(), p.GetSpec().GetSubdomain())
	}
	ref := "metadata.annotations['" + api.JobCompletionIndexAnnotation + "']"
	for _, c := range append(p.GetSpec().GetInitContainers(), p.GetSpec().GetContainers()...) {
		env := c.GetEnv()
		last := env[len(env)-1]
		if c.GetName() == "b" {
			if len(env) != 1 || last.GetValue() != "mine" {
				t.Errorf("container b: its own %s replaced: %v", CompletionIndexEnv, env)
			}
			continue
		}
		if last.GetName() != CompletionIndexEnv || last.GetValueFrom().GetFieldRef().GetFieldPath() != ref {
			t.Errorf("container %s env %v", c.GetName(), env)
		}
	}
	if j.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetEnv()[0].GetName() != "A" || len(j.Spec.Template.Spec.Containers[0].Env) != 1 ||
		j.Spec.Template.Metadata.Annotations != nil || j.Spec.Template.Spec.Hostname != "ignored" {
		t.Error("the Job's template was changed")
	}

	// A long name is cut so that the generated name stays a DNS label.
	j.Metadata.Name = strings.Repeat("a", 63)
	if g := indexedPod(j, 12345).GetMetadata().GetGenerateName(); len(g) != maxGeneratedNamePrefix || g[len(g)-7:] != "-12345-" {
		t.Errorf("generateName %q (%d)", g, len(g))
	}
}
