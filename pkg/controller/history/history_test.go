package history

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

var owner = Owner{APIVersion: "apps/v1", Kind: "DaemonSet", Meta: &metav1.ObjectMeta{Name: "agent", Namespace: "ns", Uid: "u1"}}

func data(image string) []byte {
	return fmt.Appendf(nil, `{"spec":{"template":{"spec":{"containers":[{"image":%q}]}}}}`, image)
}

func rev(image string, n int64) *appsv1.ControllerRevision {
	return New(owner, map[string]string{"app": "agent"}, data(image), n, 0)
}

func TestNew(t *testing.T) {
	tl := map[string]string{"app": "agent"}
	r := New(owner, tl, data("a:1"), 3, 0)
	hash := Hash(data("a:1"), 0)
	if r.GetMetadata().GetName() != "agent-"+hash || r.GetMetadata().GetNamespace() != "ns" || r.GetRevision() != 3 {
		t.Errorf("got %s/%s rev %d", r.GetMetadata().GetNamespace(), r.GetMetadata().GetName(), r.GetRevision())
	}
	if l := r.GetMetadata().GetLabels(); l[ControllerRevisionHashLabel] != hash || l["app"] != "agent" {
		t.Errorf("labels %v", l)
	}
	if len(tl) != 1 {
		t.Errorf("template labels changed: %v", tl)
	}
	ref := r.GetMetadata().GetOwnerReferences()[0]
	if !ref.GetController() || !ref.GetBlockOwnerDeletion() || ref.GetUid() != "u1" || ref.GetKind() != "DaemonSet" {
		t.Errorf("owner reference %v", ref)
	}
	if HashOf(r) != hash {
		t.Errorf("HashOf = %s, want %s", HashOf(r), hash)
	}
	if Hash(data("a:1"), 1) == hash {
		t.Error("a collision count does not change the hash")
	}
	if n := Name(strings.Repeat("x", 300), hash); len(n) != 253 || !strings.HasSuffix(n, "-"+hash) {
		t.Errorf("long name %d chars: %s", len(n), n)
	}
}

func TestOwnedSorted(t *testing.T) {
	other := rev("b", 1)
	other.Metadata.OwnerReferences[0].Uid = "u2"
	got := Owned([]*appsv1.ControllerRevision{rev("c", 3), other, rev("a", 1), rev("b", 2)}, "u1")
	var revs []int64
	for _, r := range got {
		revs = append(revs, r.GetRevision())
	}
	if fmt.Sprint(revs) != "[1 2 3]" {
		t.Errorf("owned revisions %v, want [1 2 3]", revs)
	}
}

func TestNext(t *testing.T) {
	a1, b2, c3 := rev("a", 1), rev("b", 2), rev("c", 3)
	for _, tc := range []struct {
		name                 string
		revs                 []*appsv1.ControllerRevision
		image                string
		wantRev              int64
		wantCreate, wantRenu bool
		wantOld              int
	}{
		{"first revision", nil, "a", 1, true, false, 0},
		{"current template is the newest", []*appsv1.ControllerRevision{a1, b2, c3}, "c", 3, false, false, 2},
		{"new template", []*appsv1.ControllerRevision{a1, b2}, "c", 3, true, false, 2},
		{"rollback renumbers the old revision", []*appsv1.ControllerRevision{a1, b2, c3}, "a", 4, false, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Next(owner, tc.revs, map[string]string{"app": "agent"}, data(tc.image), 0)
			if p.Update.GetRevision() != tc.wantRev || p.Create != tc.wantCreate || p.Renumber != tc.wantRenu || len(p.Old) != tc.wantOld {
				t.Errorf("got revision %d create %v renumber %v old %d; want %d %v %v %d",
					p.Update.GetRevision(), p.Create, p.Renumber, len(p.Old), tc.wantRev, tc.wantCreate, tc.wantRenu, tc.wantOld)
			}
			if HashOf(p.Update) != Hash(data(tc.image), 0) {
				t.Errorf("update revision %s is not the template's", p.Update.GetMetadata().GetName())
			}
		})
	}
	if a1.GetRevision() != 1 {
		t.Error("Next changed a stored revision")
	}
}

func TestTruncate(t *testing.T) {
	old := []*appsv1.ControllerRevision{rev("d", 4), rev("a", 1), rev("b", 2), rev("c", 3)}
	liveB := func(r *appsv1.ControllerRevision) bool { return HashOf(r) == Hash(data("b"), 0) }
	for _, tc := range []struct {
		limit int32
		want  string
	}{{10, "[]"}, {3, "[]"}, {2, "[1]"}, {1, "[1 3]"}, {0, "[1 3 4]"}} {
		var got []int64
		for _, r := range Truncate(old, liveB, tc.limit) {
			got = append(got, r.GetRevision())
		}
		if fmt.Sprint(got) != tc.want {
			t.Errorf("limit %d: deleted %v, want %s (the live revision 2 never)", tc.limit, got, tc.want)
		}
	}
}

// TestInUse: a revision is live when a pod carries its key, or its key is
// one of also (a StatefulSet's current revision).
func TestInUse(t *testing.T) {
	a, b, c := rev("a", 1), rev("b", 2), rev("c", 3)
	pod := func(label string) *corev1.Pod {
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Labels: map[string]string{ControllerRevisionHashLabel: label}}}
	}
	byHash := InUse([]*corev1.Pod{pod(HashOf(a))}, HashOf)
	if !byHash(a) || byHash(b) || byHash(c) {
		t.Errorf("by hash: a %v b %v c %v, want only a", byHash(a), byHash(b), byHash(c))
	}
	name := func(r *appsv1.ControllerRevision) string { return r.GetMetadata().GetName() }
	byName := InUse([]*corev1.Pod{pod(b.GetMetadata().GetName())}, name, c.GetMetadata().GetName())
	if byName(a) || !byName(b) || !byName(c) {
		t.Errorf("by name: a %v b %v c %v, want b and c", byName(a), byName(b), byName(c))
	}
}
