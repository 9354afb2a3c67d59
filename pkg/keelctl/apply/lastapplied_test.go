package apply

import (
	"runtime"
	"strings"
	"testing"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheme"
)

// TestLastAppliedPlantedMemory checks that a last-applied annotation
// planted on a live object (40 KB nested tens of thousands of levels deep)
// is refused with a warning at a bounded memory cost: it took 650 MB when
// the decoder walked it.
func TestLastAppliedPlantedMemory(t *testing.T) {
	k, _ := scheme.ByResource("deployments")
	const bound = 16 << 20 // bytes; a readable annotation of this size costs well under 1 MB
	for _, tc := range []struct{ name, ann string }{
		{"nested arrays", `{"spec":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`},
		{"nested objects", strings.Repeat(`{"a":`, 8000) + "1" + strings.Repeat("}", 8000)},
		{"unterminated arrays", strings.Repeat("[", 40000)},
		{"nested YAML sequences", strings.Repeat("- ", 20000) + "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Name: "web", Annotations: map[string]string{api.LastAppliedConfigAnnotation: tc.ann}}}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			last, warn := lastApplied(k, live)
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > bound {
				t.Errorf("reading the annotation allocated %d bytes, want at most %d", alloc, bound)
			}
			if last != nil || !strings.Contains(warn, "it will be replaced") {
				t.Errorf("got %v, warning %q; want no memory and a warning", last, warn)
			}
		})
	}
}

func TestNestedDeeperThan(t *testing.T) {
	for _, tc := range []struct {
		s    string
		max  int
		want bool
	}{
		{`{"a":[1,{"b":2}]}`, 3, false},
		{`{"a":[1,{"b":2}]}`, 2, true},
		{`[[],[],[]]`, 2, false},
		{`{"a":"[[[[[[{{{{"}`, 1, false},
		{`{"a":"\"[[[["}`, 1, false},
		{`{"a":"\\"}`, 1, false},
		{`{"a":"\\",[[]]}`, 2, true},
		{`plain: yaml`, 0, false},
	} {
		if got := nestedDeeperThan(tc.s, tc.max); got != tc.want {
			t.Errorf("nestedDeeperThan(%q, %d) = %v, want %v", tc.s, tc.max, got, tc.want)
		}
	}
}
