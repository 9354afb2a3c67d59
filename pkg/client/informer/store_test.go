package informer

import (
	"slices"
	"sort"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func testPod(name, node, rv string) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "ns", ResourceVersion: rv}, Spec: &corev1.PodSpec{NodeName: node}}
}

func TestStoreIndexesFollowChanges(t *testing.T) {
	s := NewStore(DefaultIndexers[*corev1.Pod]())
	s.upsert("ns/a", testPod("a", "n1", "1"))
	s.upsert("ns/b", testPod("b", "n1", "1"))
	keys, _ := s.IndexKeys(NodeNameIndex, "n1")
	if !slices.Equal(keys, []string{"ns/a", "ns/b"}) {
		t.Fatalf("n1: %q", keys)
	}
	if old, existed := s.upsert("ns/a", testPod("a", "n2", "2")); !existed || old.GetSpec().GetNodeName() != "n1" {
		t.Fatalf("upsert returned %v %v", old, existed)
	}
	keys, _ = s.IndexKeys(NodeNameIndex, "n1")
	if !slices.Equal(keys, []string{"ns/b"}) {
		t.Fatalf("n1 after move: %q", keys)
	}
	if vals := s.IndexValues(NodeNameIndex); !slices.Equal(vals, []string{"n1", "n2"}) {
		t.Fatalf("values %q", vals)
	}
	s.remove("ns/b")
	if vals := s.IndexValues(NodeNameIndex); !slices.Equal(vals, []string{"n2"}) {
		t.Fatalf("values after remove %q", vals)
	}
	if _, existed := s.remove("ns/b"); existed {
		t.Fatal("removed twice")
	}
}

func TestStoreReplaceDiff(t *testing.T) {
	s := NewStore(DefaultIndexers[*corev1.Pod]())
	s.upsert("ns/keep", testPod("keep", "", "1"))
	s.upsert("ns/change", testPod("change", "", "1"))
	s.upsert("ns/gone", testPod("gone", "n1", "1"))
	changes := s.replace(map[string]*corev1.Pod{
		"ns/keep":   testPod("keep", "", "1"),
		"ns/change": testPod("change", "", "5"),
		"ns/new":    testPod("new", "", "6"),
	})
	var got []string
	for _, c := range changes {
		name := c.obj.GetMetadata().GetName()
		switch c.op {
		case opAdd:
			got = append(got, "add "+name)
		case opUpdate:
			got = append(got, "update "+name+" from "+c.old.GetMetadata().GetResourceVersion())
		case opDelete:
			got = append(got, "delete "+name)
		}
	}
	sort.Strings(got)
	if want := []string{"add new", "delete gone", "update change from 1"}; !slices.Equal(got, want) {
		t.Fatalf("changes %q, want %q", got, want)
	}
	if keys, _ := s.IndexKeys(NodeNameIndex, "n1"); len(keys) != 0 {
		t.Fatalf("deleted object still indexed: %q", keys)
	}
	if s.Len() != 3 {
		t.Fatalf("len %d", s.Len())
	}
}
