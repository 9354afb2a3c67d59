package podmetrics_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	k8smetrics "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	kubeletv1 "keel.dev/keel/pkg/apis/kubelet/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/manifest"
	_ "keel.dev/keel/pkg/registry/all"
	"keel.dev/keel/pkg/registry/metrics/nodemetrics"
	"keel.dev/keel/pkg/registry/metrics/podmetrics"
)

var (
	t0  = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	now = t0.Add(3 * time.Second)
)

func cpu(at time.Time, window time.Duration, nanoCores uint64) *kubeletv1.CPUStats {
	return &kubeletv1.CPUStats{Time: timestamppb.New(at), UsageCoreNanoSeconds: 99, UsageNanoCores: &nanoCores, Window: durationpb.New(window)}
}

func mem(ws uint64) *kubeletv1.MemoryStats { return &kubeletv1.MemoryStats{WorkingSetBytes: ws} }

func TestFromStats(t *testing.T) {
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "team", Uid: "u", ResourceVersion: "7", Labels: map[string]string{"app": "web"}}}
	ps := &kubeletv1.PodStats{Namespace: "team", Name: "web", Containers: []*kubeletv1.ContainerStats{
		{Name: "app", Cpu: cpu(t0, 10*time.Second, 1_500_000), Memory: mem(3 << 20)},
		{Name: "side", Cpu: cpu(t0.Add(-time.Second), 12*time.Second, 2_000_000_000), Memory: mem(1000)},
	}}
	m, ok := podmetrics.FromStats(pod, ps, now)
	if !ok {
		t.Fatal("FromStats: no metrics")
	}
	js, err := manifest.MarshalJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	var got k8smetrics.PodMetrics
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("Keel's PodMetrics JSON is not metrics-server's: %v\n%s", err, js)
	}
	if got.APIVersion != "metrics.k8s.io/v1beta1" || got.Kind != "PodMetrics" || got.Name != "web" || got.Namespace != "team" ||
		got.Labels["app"] != "web" || !got.CreationTimestamp.Time.Equal(now) || got.ResourceVersion != "" || got.UID != "" {
		t.Errorf("metadata: %s", js)
	}
	if !got.Timestamp.Time.Equal(t0) || got.Window.Duration != 12*time.Second {
		t.Errorf("timestamp %v window %v, want the newest sample and the longest window", got.Timestamp, got.Window)
	}
	if len(got.Containers) != 2 || got.Containers[0].Name != "app" || got.Containers[1].Name != "side" {
		t.Fatalf("containers: %s", js)
	}
	if c := got.Containers[0].Usage; c.Cpu().MilliValue() != 2 || c.Memory().Value() != 3<<20 {
		t.Errorf("app usage: cpu %v memory %v", c.Cpu(), c.Memory())
	}
	if c := got.Containers[1].Usage; c.Cpu().String() != "2" || c.Memory().Value() != 1000 {
		t.Errorf("side usage: cpu %v memory %v", c.Cpu(), c.Memory())
	}

	// No metrics until every container has a rate and a memory figure.
	for name, bad := range map[string]*kubeletv1.PodStats{
		"no containers": {},
		"no rate":       {Containers: []*kubeletv1.ContainerStats{{Name: "a", Cpu: &kubeletv1.CPUStats{UsageCoreNanoSeconds: 5}, Memory: mem(1)}}},
		"no cpu":        {Containers: []*kubeletv1.ContainerStats{{Name: "a", Memory: mem(1)}}},
		"no memory":     {Containers: []*kubeletv1.ContainerStats{{Name: "a", Cpu: cpu(t0, time.Second, 1)}}},
	} {
		if _, ok := podmetrics.FromStats(pod, bad, now); ok {
			t.Errorf("%s: metrics made", name)
		}
	}
}

func TestNodeFromStats(t *testing.T) {
	node := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"zone": "a"}}}
	m, ok := nodemetrics.FromStats(node, &kubeletv1.NodeStats{Cpu: cpu(t0, 10*time.Second, 250_000_000), Memory: mem(512 << 20)}, now)
	if !ok {
		t.Fatal("FromStats: no metrics")
	}
	js, err := manifest.MarshalJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	var got k8smetrics.NodeMetrics
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("Keel's NodeMetrics JSON is not metrics-server's: %v\n%s", err, js)
	}
	if got.Kind != "NodeMetrics" || got.Name != "n1" || got.Labels["zone"] != "a" || !got.Timestamp.Time.Equal(t0) || got.Window.Duration != 10*time.Second ||
		got.Usage.Cpu().String() != "250m" || got.Usage.Memory().String() != "512Mi" {
		t.Errorf("node metrics: %s", js)
	}
	if _, ok := nodemetrics.FromStats(node, &kubeletv1.NodeStats{Cpu: &kubeletv1.CPUStats{UsageCoreNanoSeconds: 1}, Memory: mem(1)}, now); ok {
		t.Error("metrics made without a CPU rate")
	}
}
