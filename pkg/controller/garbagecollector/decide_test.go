package garbagecollector

import (
	"fmt"
	"testing"

	"keel.dev/keel/pkg/api"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func ref(uid string, block bool) *metav1.OwnerReference {
	return &metav1.OwnerReference{Kind: "ReplicaSet", Name: "rs-" + uid, Uid: uid, BlockOwnerDeletion: &block}
}

func TestDecideWork(t *testing.T) {
	cases := []struct {
		name string
		o    object
		want Work
	}{
		{name: "an object with owners is collected", o: object{owners: []*metav1.OwnerReference{ref("a", false)}},
			want: Work{Collect: true}},
		{name: "without owners, not deleting: nothing", o: object{}, want: Work{}},
		{name: "deleting with the orphan finalizer", o: object{deleting: true, finalizers: []string{api.FinalizerOrphan}},
			want: Work{Orphan: true}},
		{name: "deleting in the foreground, and owned itself",
			o:    object{deleting: true, finalizers: []string{api.FinalizerForeground}, owners: []*metav1.OwnerReference{ref("a", true)}},
			want: Work{Foreground: true, Collect: true}},
		{name: "both finalizers: orphan wins", o: object{deleting: true, finalizers: []string{api.FinalizerForeground, api.FinalizerOrphan}},
			want: Work{Orphan: true}},
		{name: "a finalizer without a deletion does nothing", o: object{finalizers: []string{api.FinalizerOrphan}}, want: Work{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideWork(tc.o); got != tc.want {
				t.Errorf("%+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDecideCollect(t *testing.T) {
	fg := []string{api.FinalizerForeground}
	cases := []struct {
		name       string
		owners     []*metav1.OwnerReference
		states     []ownerState
		deleting   bool
		finalizers []string
		want       string
	}{
		{name: "owner present: kept", owners: []*metav1.OwnerReference{ref("a", false)}, states: []ownerState{ownerPresent},
			want: "keep"},
		{name: "owner gone: deleted in the background", owners: []*metav1.OwnerReference{ref("a", false)}, states: []ownerState{ownerGone},
			want: "delete Background"},
		{name: "one owner of two gone: the reference to it goes",
			owners: []*metav1.OwnerReference{ref("a", false), ref("b", false)}, states: []ownerState{ownerGone, ownerPresent},
			want: "remove [a]"},
		{name: "every owner gone: deleted",
			owners: []*metav1.OwnerReference{ref("a", false), ref("b", false)}, states: []ownerState{ownerGone, ownerGone},
			want: "delete Background"},
		{name: "owner waiting in the foreground, blocked by it: deleted in the foreground",
			owners: []*metav1.OwnerReference{ref("a", true)}, states: []ownerState{ownerWaiting}, want: "delete Foreground"},
		{name: "owner waiting in the foreground, not blocked: deleted in the background",
			owners: []*metav1.OwnerReference{ref("a", false)}, states: []ownerState{ownerWaiting}, want: "delete Background"},
		{name: "one owner waiting, another present: kept",
			owners: []*metav1.OwnerReference{ref("a", true), ref("b", false)}, states: []ownerState{ownerWaiting, ownerPresent},
			want: "keep"},
		{name: "already being deleted in the foreground, owners gone: left to its deletion",
			owners: []*metav1.OwnerReference{ref("a", false)}, states: []ownerState{ownerGone}, deleting: true, finalizers: fg,
			want: "keep"},
		{name: "being deleted in the foreground, one owner of two gone: the reference still goes",
			owners: []*metav1.OwnerReference{ref("a", false), ref("b", false)}, states: []ownerState{ownerGone, ownerPresent},
			deleting: true, finalizers: fg, want: "remove [a]"},
		{name: "being deleted in the background: nothing", owners: []*metav1.OwnerReference{ref("a", false)},
			states: []ownerState{ownerGone}, deleting: true, want: "keep"},
		{name: "no owners: nothing", want: "keep"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := decideCollect(object{uid: "o", owners: tc.owners, deleting: tc.deleting, finalizers: tc.finalizers}, tc.states)
			got := "keep"
			switch {
			case c.Delete:
				got = "delete " + c.Policy
			case len(c.RemoveOwners) > 0:
				got = fmt.Sprint("remove ", c.RemoveOwners)
			}
			if got != tc.want {
				t.Errorf("%s, want %s", got, tc.want)
			}
		})
	}
}

func TestForegroundDecisions(t *testing.T) {
	owner := object{uid: "o", name: "owner"}
	dep := func(uid string, refs ...*metav1.OwnerReference) object {
		return object{uid: uid, name: uid, owners: refs}
	}
	deps := []object{dep("blocking", ref("o", true)), dep("free", ref("o", false)), dep("stranger", ref("x", true))}

	queue, blocked := foregroundDependents(owner, deps)
	if fmt.Sprint(queue) != "[blocking free]" || !blocked {
		t.Errorf("queue %v, blocked %v; want [blocking free], blocked", queue, blocked)
	}
	if _, blocked := foregroundDependents(owner, deps[1:]); blocked {
		t.Error("blocked by dependents without blockOwnerDeletion")
	}
	if d := blockingDependent(owner, deps); d == nil || d.uid != "blocking" {
		t.Errorf("blocking dependent %v, want blocking", d)
	}
	if d := blockingDependent(owner, deps[1:]); d != nil {
		t.Errorf("blocking dependent %v, want none: the finalizer may go", d)
	}
}

func TestRemoveOwnersAndFinalizer(t *testing.T) {
	m := &metav1.ObjectMeta{OwnerReferences: []*metav1.OwnerReference{ref("a", false), ref("b", false), ref("c", false)},
		Finalizers: []string{api.FinalizerForeground, "example.com/x"}}
	if !removeOwners(m, "a", "c") || len(m.OwnerReferences) != 1 || m.OwnerReferences[0].GetUid() != "b" {
		t.Errorf("owners after removing a and c: %v", m.OwnerReferences)
	}
	if removeOwners(m, "zz") {
		t.Error("removing an absent owner reports a change")
	}
	if !removeFinalizer(m, api.FinalizerForeground) || fmt.Sprint(m.Finalizers) != "[example.com/x]" {
		t.Errorf("finalizers %v", m.Finalizers)
	}
	if removeFinalizer(m, api.FinalizerOrphan) {
		t.Error("removing an absent finalizer reports a change")
	}
}
