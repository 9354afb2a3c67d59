package garbagecollector

import (
	"slices"

	"keel.dev/keel/pkg/api"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// Work is what processing one object involves, from its graph snapshot.
type Work struct {
	// Orphan: o is being deleted with the orphan finalizer: strip it from
	// its dependents' owner references, then remove the finalizer.
	Orphan bool
	// Foreground: o is being deleted with the foregroundDeletion
	// finalizer: delete its dependents first, then remove the finalizer.
	Foreground bool
	// Collect: o has owners, which may be gone.
	Collect bool
}

// decideWork is what o, as the graph shows it, needs. Orphan wins over
// foreground when an object carries both finalizers.
func decideWork(o object) Work {
	w := Work{Collect: len(o.owners) > 0}
	if o.deleting {
		w.Orphan = slices.Contains(o.finalizers, api.FinalizerOrphan)
		w.Foreground = !w.Orphan && slices.Contains(o.finalizers, api.FinalizerForeground)
	}
	return w
}

// goingAnyway reports whether o is already being deleted other than in
// the foreground: nothing to collect.
func goingAnyway(o object) bool {
	return o.deleting && !slices.Contains(o.finalizers, api.FinalizerForeground)
}

// ownerState is what is known of one owner reference.
type ownerState int

const (
	ownerPresent ownerState = iota
	ownerGone
	ownerWaiting // deleting in the foreground: waits for its dependents
)

// Collection is the decision on an object with owners: nothing (Delete
// false, RemoveOwners empty), drop the references to owners that are gone
// (RemoveOwners: their uids) while another owner remains, or delete it
// (Delete) with the propagation Policy.
type Collection struct {
	RemoveOwners []string
	Delete       bool
	Policy       string
}

// decideCollect decides on o (as a live read shows it) given the state
// of each of its owners (states[i] is o.owners[i]'s). It is deleted only
// when every owner is gone or waiting for it: in the foreground if one
// that waits is blocked by it (blockOwnerDeletion), else in the
// background. An object already being deleted (in the foreground) is left
// to its deletion.
func decideCollect(o object, states []ownerState) Collection {
	var c Collection
	present, blocking := false, false
	for i, ref := range o.owners {
		switch states[i] {
		case ownerPresent:
			present = true
		case ownerGone:
			c.RemoveOwners = append(c.RemoveOwners, ref.GetUid())
		case ownerWaiting:
			blocking = blocking || ref.GetBlockOwnerDeletion()
		}
	}
	switch {
	case len(o.owners) == 0 || goingAnyway(o):
		return Collection{}
	case present:
		return c
	case o.deleting:
		return Collection{}
	}
	c = Collection{Delete: true, Policy: api.DeletePropagationBackground}
	if blocking {
		c.Policy = api.DeletePropagationForeground
	}
	return c
}

// foregroundDependents are, of deps (o's dependents in the graph), the
// uids that name o as an owner, to be queued (each finds its owner waiting
// and goes), and whether any of them blocks o's deletion.
func foregroundDependents(o object, deps []object) (queue []string, blocked bool) {
	for _, d := range deps {
		ref := refTo(d.owners, o.uid)
		if ref == nil {
			continue
		}
		blocked = blocked || ref.GetBlockOwnerDeletion()
		queue = append(queue, d.uid)
	}
	return queue, blocked
}

// blockingDependent is the first of live (o's dependents as a live list
// shows them) that blocks o's deletion, or nil: then o's foregroundDeletion
// finalizer may go.
func blockingDependent(o object, live []object) *object {
	for i, d := range live {
		if refTo(d.owners, o.uid).GetBlockOwnerDeletion() {
			return &live[i]
		}
	}
	return nil
}

func refTo(refs []*metav1.OwnerReference, uid string) *metav1.OwnerReference {
	for _, r := range refs {
		if r.GetUid() == uid {
			return r
		}
	}
	return nil
}

func removeFinalizer(m *metav1.ObjectMeta, f string) bool {
	before := len(m.Finalizers)
	m.Finalizers = slices.DeleteFunc(m.Finalizers, func(s string) bool { return s == f })
	return len(m.Finalizers) != before
}

// removeOwners drops the references to the owners with these uids and
// reports whether any was there.
func removeOwners(m *metav1.ObjectMeta, uids ...string) bool {
	before := len(m.OwnerReferences)
	m.OwnerReferences = slices.DeleteFunc(m.OwnerReferences, func(r *metav1.OwnerReference) bool { return slices.Contains(uids, r.GetUid()) })
	return len(m.OwnerReferences) != before
}
