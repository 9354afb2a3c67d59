package apiserver

import (
	"maps"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/fields"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheme"
)

func marshal_(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestScanObjectReadsMetadataAndSelectableFields: the watch cache's index
// (labels and field selector values) read from the encoding equals what
// the decoded object says, set or not, for every kind with field selectors.
func TestScanObjectReadsMetadataAndSelectableFields(t *testing.T) {
	meta := func() *metav1.ObjectMeta {
		return &metav1.ObjectMeta{Name: "x", Namespace: "ns", Labels: map[string]string{"app": "web"},
			Annotations: map[string]string{"a": "b"}}
	}
	cases := []struct {
		obj  proto.Message
		want fields.Set
	}{
		{&corev1.Pod{Metadata: meta(),
			Spec: &corev1.PodSpec{NodeName: "n1", SchedulerName: "s", RestartPolicy: "Never",
				Containers: []*corev1.Container{{Name: "c", Image: "i"}}},
			Status: &corev1.PodStatus{Phase: "Running", PodIp: "10.0.0.1", NominatedNodeName: "n2"}},
			fields.Set{"spec.nodeName": "n1", "spec.schedulerName": "s", "spec.restartPolicy": "Never",
				"status.phase": "Running", "status.podIP": "10.0.0.1", "status.nominatedNodeName": "n2"}},
		{&corev1.Pod{Metadata: meta()},
			fields.Set{"spec.nodeName": "", "spec.schedulerName": "", "spec.restartPolicy": "",
				"status.phase": "", "status.podIP": "", "status.nominatedNodeName": ""}},
		{&corev1.Node{Metadata: meta(), Spec: &corev1.NodeSpec{Unschedulable: true}}, fields.Set{"spec.unschedulable": "true"}},
		{&corev1.Node{Metadata: meta()}, fields.Set{"spec.unschedulable": "false"}},
		{&corev1.Namespace{Metadata: meta(), Status: &corev1.NamespaceStatus{Phase: "Terminating"}}, fields.Set{"status.phase": "Terminating"}},
		{&corev1.Secret{Metadata: meta(), Type: "Opaque"}, fields.Set{"type": "Opaque"}},
		{&corev1.Event{Metadata: meta(), Reason: "Scheduled", Type: "Normal",
			InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: "p", Uid: "u"}},
			fields.Set{"involvedObject.kind": "Pod", "involvedObject.namespace": "ns", "involvedObject.name": "p",
				"involvedObject.uid": "u", "reason": "Scheduled", "type": "Normal"}},
		{&corev1.ConfigMap{Metadata: meta(), Data: map[string]string{"k": "v"}}, fields.Set{}},
	}
	for _, c := range cases {
		k, _ := scheme.ByMessage(c.obj)
		r := newResource(k)
		c.want["metadata.name"], c.want["metadata.namespace"] = "x", "ns"
		// As stored, and as served (withVersion appends a second metadata).
		for _, b := range [][]byte{marshal_(t, c.obj), withVersion(marshal_(t, c.obj), 7)} {
			m, set, err := scanObject(b, r.selectable)
			if err != nil {
				t.Fatalf("%s: %v", k.Kind, err)
			}
			if m.GetName() != "x" || m.GetNamespace() != "ns" || m.GetLabels()["app"] != "web" || len(m.GetLabels()) != 1 {
				t.Errorf("%s: metadata %v", k.Kind, m)
			}
			if !maps.Equal(set, c.want) {
				t.Errorf("%s: fields %v, want %v", k.Kind, set, c.want)
			}
		}
	}
}

// TestScanObjectMergesRepeatedFields: encodings concatenated merge as
// protobuf decoding does: a later scalar wins, a later message adds to the
// earlier one.
func TestScanObjectMergesRepeatedFields(t *testing.T) {
	k, _ := scheme.ByMessage(&corev1.Pod{})
	r := newResource(k)
	b := marshal_(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "a", Labels: map[string]string{"x": "1"}}, Spec: &corev1.PodSpec{NodeName: "n1", SchedulerName: "s"}})
	b = append(b, marshal_(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "b", Namespace: "ns"}, Spec: &corev1.PodSpec{NodeName: "n2"}})...)
	var decoded corev1.Pod
	if err := proto.Unmarshal(b, &decoded); err != nil {
		t.Fatal(err)
	}
	m, set, err := scanObject(b, r.selectable)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(m, decoded.GetMetadata()) {
		t.Errorf("metadata %v, decoded %v", m, decoded.GetMetadata())
	}
	if set["spec.nodeName"] != decoded.GetSpec().GetNodeName() || set["spec.schedulerName"] != decoded.GetSpec().GetSchedulerName() {
		t.Errorf("fields %v, decoded spec %v", set, decoded.GetSpec())
	}
}

func TestScanObjectRefusesMalformedEncodings(t *testing.T) {
	k, _ := scheme.ByMessage(&corev1.Pod{})
	r := newResource(k)
	good := marshal_(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "a"}, Spec: &corev1.PodSpec{NodeName: "n1"}})
	// spec{nodeName: 1}, a varint where a string belongs.
	path := r.selectable[0].path
	inner := protowire.AppendVarint(protowire.AppendTag(nil, path[1].Number(), protowire.VarintType), 1)
	badNodeName := protowire.AppendBytes(protowire.AppendTag(append([]byte{}, good...), path[0].Number(), protowire.BytesType), inner)
	for name, b := range map[string][]byte{
		"truncated":               good[:len(good)-1],
		"metadata as a varint":    {0x08, 0x01},
		"spec.nodeName as varint": badNodeName,
	} {
		if _, _, err := scanObject(b, r.selectable); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
