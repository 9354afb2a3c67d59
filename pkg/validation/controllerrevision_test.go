package validation_test

import (
	"testing"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/validation"
)

func TestControllerRevision(t *testing.T) {
	cr := func(raw string, rev int64) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{Metadata: meta("agent-abc"), Data: &metav1.RawExtension{Raw: []byte(raw)}, Revision: rev}
	}
	for _, tc := range []struct {
		name string
		obj  *appsv1.ControllerRevision
		want []string
	}{
		{"valid", cr(`{"spec":{}}`, 1), nil},
		{"no data", cr("", 0), nil},
		{"negative revision", cr(`{}`, -1), []string{"revision"}},
		{"data not an object", cr(`[1]`, 1), []string{"data"}},
		{"data not JSON", cr(`{`, 1), []string{"data"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkPaths(t, tc.name, validation.ControllerRevision(tc.obj), tc.want)
		})
	}
	old := cr(`{"a":1}`, 1)
	renumbered := cr(`{"a":1}`, 5)
	checkPaths(t, "renumbered", validation.ControllerRevisionUpdate(renumbered, old), nil)
	checkPaths(t, "data changed", validation.ControllerRevisionUpdate(cr(`{"a":2}`, 1), old), []string{"data"})
}
