package quota_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/quota"
	_ "keel.dev/keel/pkg/registry/all"
)

var now = time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)

func q(s string) *metav1.Quantity { return &metav1.Quantity{String_: s} }

type podOpt func(*corev1.Pod)

func newPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app"}}}, Status: &corev1.PodStatus{Phase: "Running"}}
	for _, o := range opts {
		o(p)
	}
	return p
}

func resources(req, lim string) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources = &corev1.ResourceRequirements{
			Requests: map[string]*metav1.Quantity{"cpu": q(req), "memory": q("64Mi")}, Limits: map[string]*metav1.Quantity{"cpu": q(lim)}}
	}
}
func phase(ph string) podOpt { return func(p *corev1.Pod) { p.Status.Phase = ph } }
func deadline(s int64) podOpt {
	return func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = proto.Int64(s) }
}
func priority(name string) podOpt { return func(p *corev1.Pod) { p.Spec.PriorityClassName = name } }
func deletedAgo(d time.Duration, grace int64) podOpt {
	return func(p *corev1.Pod) {
		p.Metadata.DeletionTimestamp = timestamppb.New(now.Add(-d))
		p.Metadata.DeletionGracePeriodSeconds = proto.Int64(grace)
	}
}

// TestUsed: what a namespace's objects use of a quota's resources, under
// its scopes.
func TestUsed(t *testing.T) {
	hard := map[string]*metav1.Quantity{"pods": q("10"), "requests.cpu": q("4"), "cpu": q("4"), "limits.cpu": q("8"),
		"requests.memory": q("1Gi"), "count/pods": q("10"), "configmaps": q("5"), "count/configmaps": q("5")}
	objs := []proto.Message{
		newPod("a", resources("500m", "1")),
		newPod("b", resources("250m", "500m"), deadline(60)),
		newPod("besteffort"),
		newPod("done", resources("1", "1"), phase("Succeeded")),
		newPod("failed", resources("1", "1"), phase("Failed")),
		newPod("gone", resources("1", "1"), deletedAgo(time.Minute, 30)),
		newPod("going", resources("100m", "100m"), deletedAgo(time.Second, 30)),
		newPod("high", resources("2", "2"), priority("high")),
		&corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "cm", Namespace: "ns"}},
	}
	for _, tc := range []struct {
		name   string
		scopes []string
		sel    []*corev1.ScopedResourceSelectorRequirement
		want   map[string]string
	}{
		{"no scope", nil, nil, map[string]string{"pods": "5", "requests.cpu": "2850m", "cpu": "2850m", "limits.cpu": "3600m",
			"requests.memory": "256Mi", "count/pods": "8", "configmaps": "1", "count/configmaps": "1"}},
		{"Terminating", []string{"Terminating"}, nil, map[string]string{"pods": "1", "requests.cpu": "250m", "cpu": "250m", "limits.cpu": "500m",
			"requests.memory": "64Mi", "count/pods": "1", "configmaps": "0", "count/configmaps": "0"}},
		{"NotTerminating and BestEffort", []string{"NotTerminating", "BestEffort"}, nil, map[string]string{"pods": "1", "requests.cpu": "0", "cpu": "0",
			"limits.cpu": "0", "requests.memory": "0", "count/pods": "1", "configmaps": "0", "count/configmaps": "0"}},
		{"NotBestEffort", []string{"NotBestEffort"}, nil, map[string]string{"pods": "4", "requests.cpu": "2850m", "cpu": "2850m", "limits.cpu": "3600m",
			"requests.memory": "256Mi", "count/pods": "7", "configmaps": "0", "count/configmaps": "0"}},
		{"PriorityClass In", nil, []*corev1.ScopedResourceSelectorRequirement{{ScopeName: "PriorityClass", Operator: "In", Values: []string{"high"}}},
			map[string]string{"pods": "1", "requests.cpu": "2", "cpu": "2", "limits.cpu": "2", "requests.memory": "64Mi", "count/pods": "1", "configmaps": "0", "count/configmaps": "0"}},
		{"PriorityClass DoesNotExist", nil, []*corev1.ScopedResourceSelectorRequirement{{ScopeName: "PriorityClass", Operator: "DoesNotExist"}},
			map[string]string{"pods": "4", "requests.cpu": "850m", "cpu": "850m", "limits.cpu": "1600m", "requests.memory": "192Mi", "count/pods": "7", "configmaps": "0", "count/configmaps": "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rq := &corev1.ResourceQuota{Spec: &corev1.ResourceQuotaSpec{Hard: hard, Scopes: tc.scopes,
				ScopeSelector: &corev1.ScopeSelector{MatchExpressions: tc.sel}}}
			used, err := quota.Used(rq, objs, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(used) != len(tc.want) {
				t.Errorf("used %v, want %v", used, tc.want)
			}
			for name, w := range tc.want {
				got := used[name]
				if want := quota.Parse(map[string]*metav1.Quantity{name: q(w)})[name]; got.Cmp(want) != 0 {
					t.Errorf("used[%s] = %s, want %s", name, got.String(), w)
				}
			}
		})
	}
}

func TestKinds(t *testing.T) {
	var got []string
	for _, k := range quota.Kinds(map[string]*metav1.Quantity{"requests.cpu": q("1"), "count/deployments.apps": q("1"), "secrets": q("1"), "pods": q("1")}) {
		got = append(got, k.Resource)
	}
	if want := []string{"deployments", "pods", "secrets"}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("Kinds = %v, want %v", got, want)
	}
}

func TestPodConstraints(t *testing.T) {
	p := newPod("p", resources("1", "1"))
	p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: "b"}, &corev1.Container{Name: "a"})
	err := quota.PodConstraints(map[string]*metav1.Quantity{"limits.cpu": q("1"), "limits.memory": q("1Gi"), "pods": q("1")}, p)
	if want := "must specify limits.cpu for: a,b; limits.memory for: a,app,b"; err == nil || err.Error() != want {
		t.Errorf("PodConstraints = %v, want %q", err, want)
	}
	if err := quota.PodConstraints(map[string]*metav1.Quantity{"pods": q("1")}, p); err != nil {
		t.Errorf("pods quota: %v", err)
	}
}

// TestClaimUsage: claims count as objects, by the storage they request,
// and under their class, as Kubernetes' claim evaluator.
func TestClaimUsage(t *testing.T) {
	claim := func(name, class, size string) *corev1.PersistentVolumeClaim {
		p := &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "ns"},
			Spec: &corev1.PersistentVolumeClaimSpec{Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"storage": q(size)}}}}
		if class != "" {
			p.Spec.StorageClassName = proto.String(class)
		}
		return p
	}
	hard := map[string]*metav1.Quantity{"persistentvolumeclaims": q("10"), "count/persistentvolumeclaims": q("10"), "requests.storage": q("10Gi"),
		"gold.storageclass.storage.k8s.io/requests.storage": q("5Gi"), "gold.storageclass.storage.k8s.io/persistentvolumeclaims": q("2"),
		"pods": q("5")}
	rq := &corev1.ResourceQuota{Spec: &corev1.ResourceQuotaSpec{Hard: hard}}
	kinds := quota.Kinds(hard)
	if len(kinds) != 2 || kinds[0].Resource != "persistentvolumeclaims" || kinds[1].Resource != "pods" {
		t.Errorf("kinds %v", kinds)
	}
	used, err := quota.Used(rq, []proto.Message{claim("a", "gold", "1Gi"), claim("b", "gold", "500Mi"), claim("c", "", "2Gi"), claim("d", "silver", "1Gi")}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := "count/persistentvolumeclaims=4,gold.storageclass.storage.k8s.io/persistentvolumeclaims=2,gold.storageclass.storage.k8s.io/requests.storage=1524Mi,persistentvolumeclaims=4,pods=0,requests.storage=4596Mi"
	if got := quota.Format(used, slices.Collect(maps.Keys(hard))); got != want {
		t.Errorf("used\n got %s\nwant %s", got, want)
	}
}
