package rest

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	_ "keel.dev/keel/pkg/registry/all"
	"keel.dev/keel/pkg/scheme"
)

func kindOfMessage(t *testing.T, m proto.Message) *scheme.Kind {
	t.Helper()
	k, ok := scheme.ByMessage(m)
	if !ok {
		t.Fatalf("no kind for %T", m)
	}
	return k
}

// TestJSONCacheAnswersAsEncoding: what the cache appends, on a miss and
// on a hit, is the object's own encoding after what the buffer held; an
// object whose bytes equal another kind's is encoded as its own kind.
func TestJSONCacheAnswersAsEncoding(t *testing.T) {
	c := newJSONCache(1 << 20)
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}
	a, err := scheme.Pack(pod)
	if err != nil {
		t.Fatal(err)
	}
	k := kindOfMessage(t, pod)
	want, err := encodeAny([]byte("prefix,"), k, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, round := range []string{"miss", "hit"} {
		got, err := c.appendJSON([]byte("prefix,"), k, a, nil)
		if err != nil || string(got) != string(want) {
			t.Fatalf("%s: %s (%v), want %s", round, got, err, want)
		}
	}
	if len(c.cur) != 1 {
		t.Errorf("entries after a miss and a hit: %d, want 1", len(c.cur))
	}

	// A ConfigMap and a Secret named alike have the same bytes.
	cm, sec := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "x"}}, &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "x"}}
	for _, m := range []proto.Message{cm, sec, cm} {
		a, err := scheme.Pack(m)
		if err != nil {
			t.Fatal(err)
		}
		want, err := encodeAny(nil, kindOfMessage(t, m), a, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.appendJSON(nil, kindOfMessage(t, m), a, nil); err != nil || string(got) != string(want) {
			t.Errorf("%T: %s (%v), want %s", m, got, err, want)
		}
	}
}

// TestJSONCacheIsBounded: however many objects pass through it, the cache
// holds at most its limit, and keeps the most recent ones.
func TestJSONCacheIsBounded(t *testing.T) {
	const limit = 64 << 10
	c := newJSONCache(limit)
	k := kindOfMessage(t, &corev1.ConfigMap{})
	var last []byte
	for i := range 2000 {
		a, err := scheme.Pack(&corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Namespace: "default"},
			Data: map[string]string{"k": fmt.Sprintf("value %d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.appendJSON(nil, k, a, nil); err != nil {
			t.Fatal(err)
		}
		last = a.GetValue()
	}
	held := 0
	for _, gen := range []map[string]jsonEntry{c.cur, c.prev} {
		for key, e := range gen {
			held += len(key) + len(e.json)
		}
	}
	if held > limit {
		t.Errorf("the cache holds %d bytes, over its limit %d", held, limit)
	}
	if _, ok := c.cur[string(last)]; !ok {
		t.Error("the last object is not cached")
	}
}
