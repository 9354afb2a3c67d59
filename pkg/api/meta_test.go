package api

import (
	"testing"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func TestControllerRef(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name string
		refs []*metav1.OwnerReference
		want string // uid of the controller, "" for none
	}{
		{"no owners", nil, ""},
		{"owners, none controller", []*metav1.OwnerReference{{Uid: "a"}, {Uid: "b", Controller: &no}}, ""},
		{"the controller", []*metav1.OwnerReference{{Uid: "a"}, {Uid: "b", Controller: &yes}}, "b"},
	}
	for _, c := range cases {
		got := ControllerRef(&metav1.ObjectMeta{OwnerReferences: c.refs})
		if (got == nil) != (c.want == "") || got.GetUid() != c.want {
			t.Errorf("%s: ControllerRef = %v, want uid %q", c.name, got, c.want)
		}
	}
	if ControllerRef(nil) != nil {
		t.Error("ControllerRef(nil) is not nil")
	}
}
