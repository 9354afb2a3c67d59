// Package history keeps the ControllerRevisions of a controller that rolls
// out a pod template (DaemonSet, StatefulSet), as Kubernetes'
// controller history does: each distinct template is one revision, named
// <owner>-<hash>, labelled with the hash under
// controller-revision-hash, owned by the controller (so the garbage
// collector removes it with its owner) and numbered in rollout order.
//
// Everything here is a pure function of its arguments; the controllers do
// the reads and writes (see Next for the plan a sync applies).
package history

import (
	"bytes"
	"encoding/binary"
	"hash/fnv"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// ControllerRevisionHashLabel is the label carrying a revision's hash, on
// the revision and on every pod created from it.
const ControllerRevisionHashLabel = "controller-revision-hash"

// Hash is the hash of revision data: FNV-32a of data and, when positive,
// the collision count, spelled with the alphabet Kubernetes uses in
// generated names (no vowels, so no words).
func Hash(data []byte, collisionCount int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisionCount > 0 {
		_ = binary.Write(h, binary.LittleEndian, collisionCount)
	}
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	v := h.Sum32()
	out := make([]byte, 0, 10)
	for v > 0 || len(out) == 0 {
		out = append(out, alphabet[v%uint32(len(alphabet))])
		v /= uint32(len(alphabet))
	}
	return string(out)
}

// Owner identifies the controller whose history it is.
type Owner struct {
	APIVersion, Kind string // "apps/v1", "DaemonSet"
	Meta             *metav1.ObjectMeta
}

// New returns the revision of data for owner, numbered revision: named
// <owner>-<hash>, labelled with the template's labels plus the hash,
// controlled by owner. It does not change its arguments.
func New(owner Owner, templateLabels map[string]string, data []byte, revision int64, collisionCount int32) *appsv1.ControllerRevision {
	hash := Hash(data, collisionCount)
	labels := maps.Clone(templateLabels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[ControllerRevisionHashLabel] = hash
	return &appsv1.ControllerRevision{
		Metadata: &metav1.ObjectMeta{
			Name:      Name(owner.Meta.GetName(), hash),
			Namespace: owner.Meta.GetNamespace(),
			Labels:    labels,
			OwnerReferences: []*metav1.OwnerReference{{
				ApiVersion: owner.APIVersion, Kind: owner.Kind,
				Name: owner.Meta.GetName(), Uid: owner.Meta.GetUid(),
				Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true),
			}},
		},
		Data:     &metav1.RawExtension{Raw: slices.Clone(data)},
		Revision: revision,
	}
}

// Name is a revision's name: the owner's name and the hash, the owner's
// name shortened so the whole fits a DNS subdomain's 253 characters.
func Name(owner, hash string) string {
	if max := 253 - 1 - len(hash); len(owner) > max {
		owner = owner[:max]
	}
	return owner + "-" + hash
}

// Owned returns the revisions among revs that the owner with uid controls,
// sorted by Sort.
func Owned(revs []*appsv1.ControllerRevision, uid string) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revs {
		for _, o := range r.GetMetadata().GetOwnerReferences() {
			if o.GetController() && o.GetUid() == uid {
				out = append(out, r)
				break
			}
		}
	}
	Sort(out)
	return out
}

// Sort orders revisions by revision number, then creation time, then name.
func Sort(revs []*appsv1.ControllerRevision) {
	slices.SortStableFunc(revs, func(a, b *appsv1.ControllerRevision) int {
		if a.GetRevision() != b.GetRevision() {
			if a.GetRevision() < b.GetRevision() {
				return -1
			}
			return 1
		}
		if c := a.GetMetadata().GetCreationTimestamp().AsTime().Compare(b.GetMetadata().GetCreationTimestamp().AsTime()); c != 0 {
			return c
		}
		return strings.Compare(a.GetMetadata().GetName(), b.GetMetadata().GetName())
	})
}

// MaxRevision is the highest revision number among revs (0 for none).
func MaxRevision(revs []*appsv1.ControllerRevision) int64 {
	var m int64
	for _, r := range revs {
		m = max(m, r.GetRevision())
	}
	return m
}

// Equal reports whether two revisions record the same data.
func Equal(a, b *appsv1.ControllerRevision) bool {
	return bytes.Equal(a.GetData().GetRaw(), b.GetData().GetRaw())
}

// Plan is what a sync does to its history for the current template.
type Plan struct {
	// Update is the revision of the current template. Create: it is new
	// and must be created. Renumber: it exists with an older number and
	// must be updated to Update.Revision (a rollback to it). Otherwise it
	// is stored as is.
	Update   *appsv1.ControllerRevision
	Create   bool
	Renumber bool
	// Old are the owner's other revisions, sorted by Sort.
	Old []*appsv1.ControllerRevision
}

// Next plans the history for data, the current template's revision data:
// revs are the owner's revisions (Owned). An existing revision with the
// same data is reused, renumbered to the newest if it is not already; else
// a new revision numbered one past the highest is made (New, with
// collisionCount).
func Next(owner Owner, revs []*appsv1.ControllerRevision, templateLabels map[string]string, data []byte, collisionCount int32) Plan {
	maxRev := MaxRevision(revs)
	candidate := New(owner, templateLabels, data, maxRev+1, collisionCount)
	var plan Plan
	for _, r := range revs {
		if Equal(r, candidate) && (plan.Update == nil || r.GetRevision() > plan.Update.GetRevision()) {
			plan.Update = r
		}
	}
	for _, r := range revs {
		if r != plan.Update {
			plan.Old = append(plan.Old, r)
		}
	}
	Sort(plan.Old)
	switch {
	case plan.Update == nil:
		plan.Update, plan.Create = candidate, true
	case plan.Update.GetRevision() < maxRev:
		renumbered := proto.Clone(plan.Update).(*appsv1.ControllerRevision)
		renumbered.Revision = maxRev + 1
		plan.Update, plan.Renumber = renumbered, true
	}
	return plan
}

// Truncate returns the old revisions to delete so that at most limit of
// those not live remain: the oldest first. live reports whether a revision
// is still in use (pods of its hash exist); those are never deleted.
func Truncate(old []*appsv1.ControllerRevision, live func(*appsv1.ControllerRevision) bool, limit int32) []*appsv1.ControllerRevision {
	var idle []*appsv1.ControllerRevision
	for _, r := range old {
		if !live(r) {
			idle = append(idle, r)
		}
	}
	if int32(len(idle)) <= limit {
		return nil
	}
	Sort(idle)
	return idle[:int32(len(idle))-max(limit, 0)]
}

// InUse is Truncate's live for the revisions of pods: a revision is live
// when a pod's controller-revision-hash label holds its key (HashOf for a
// DaemonSet, whose pods carry the hash; the name for a StatefulSet, whose
// pods carry the revision's name) or when its key is one of also.
func InUse(pods []*corev1.Pod, key func(*appsv1.ControllerRevision) string, also ...string) func(*appsv1.ControllerRevision) bool {
	live := map[string]bool{}
	for _, k := range also {
		live[k] = true
	}
	for _, p := range pods {
		live[p.GetMetadata().GetLabels()[ControllerRevisionHashLabel]] = true
	}
	return func(r *appsv1.ControllerRevision) bool { return live[key(r)] }
}

// HashOf returns the controller-revision-hash a revision records (its
// label, else the hash part of its name).
func HashOf(r *appsv1.ControllerRevision) string {
	if h, ok := r.GetMetadata().GetLabels()[ControllerRevisionHashLabel]; ok {
		return h
	}
	name := r.GetMetadata().GetName()
	return name[strings.LastIndex(name, "-")+1:]
}
