// Package volumematch matches PersistentVolumeClaims to PersistentVolumes
// as Kubernetes does: the PV controller binds by it, and the scheduler's
// volume plugins check by it which nodes a pod's unbound claims could use.
package volumematch

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/labelselector"
	"keel.dev/keel/pkg/nodeaffinity"
)

// FindMatch returns the volume that claim should bind to, nil if none: a
// volume reserved for the claim (spec.claimRef naming it) if it is large
// enough; else, unless binding is delayed (WaitForFirstConsumer) and no
// node is selected, the Available, unreserved volume of the claim's class
// and volume mode that has every access mode the claim asks for, matches
// its selector, is at least as large as its request, and (with node) may
// be used from node. Among those, volumes with fewer access modes come
// first, then smaller ones, then by name. Volumes being deleted are never
// chosen. An invalid claim (selector or request) is an error.
func FindMatch(claim *corev1.PersistentVolumeClaim, volumes []*corev1.PersistentVolume, delay bool, node *corev1.Node) (*corev1.PersistentVolume, error) {
	request, err := claimRequest(claim)
	if err != nil {
		return nil, err
	}
	var sel labels.Selector
	if s := claim.GetSpec().GetSelector(); s != nil {
		if sel, err = labelselector.Parse(s); err != nil {
			return nil, fmt.Errorf("spec.selector: %v", err)
		}
	}
	class := ClaimClass(claim)
	var best *corev1.PersistentVolume
	var bestSize resource.Quantity
	for _, v := range volumes {
		if v.GetMetadata().GetDeletionTimestamp() != nil || volumeMode(v.GetSpec().VolumeMode) != volumeMode(claim.GetSpec().VolumeMode) {
			continue
		}
		size, ok := volumeSize(v)
		if !ok || size.Cmp(request) < 0 {
			continue
		}
		if BoundToClaim(v, claim) {
			return v, nil
		}
		if v.GetSpec().GetClaimRef() != nil || (delay && node == nil) || v.GetStatus().GetPhase() != api.VolumeAvailable ||
			v.GetSpec().GetStorageClassName() != class || !hasAccessModes(v, claim.GetSpec().GetAccessModes()) ||
			(sel != nil && !sel.Matches(labels.Set(v.GetMetadata().GetLabels()))) {
			continue
		}
		if node != nil {
			if ok, err := VolumeFitsNode(v, node); err != nil || !ok {
				continue
			}
		}
		if best == nil || better(v, size, best, bestSize) {
			best, bestSize = v, size
		}
	}
	return best, nil
}

// better orders candidate volumes for FindMatch.
func better(a *corev1.PersistentVolume, sa resource.Quantity, b *corev1.PersistentVolume, sb resource.Quantity) bool {
	if c := cmp.Compare(len(a.GetSpec().GetAccessModes()), len(b.GetSpec().GetAccessModes())); c != 0 {
		return c < 0
	}
	if c := sa.Cmp(sb); c != 0 {
		return c < 0
	}
	return a.GetMetadata().GetName() < b.GetMetadata().GetName()
}

// CheckSatisfies reports why vol cannot serve claim, which names it in
// spec.volumeName: it is too small, of another class or volume mode, or
// lacks an access mode the claim asks for.
func CheckSatisfies(vol *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim) error {
	request, err := claimRequest(claim)
	if err != nil {
		return err
	}
	if size, ok := volumeSize(vol); !ok || size.Cmp(request) < 0 {
		return errors.New("requested PV is too small")
	}
	if vol.GetSpec().GetStorageClassName() != ClaimClass(claim) {
		return errors.New("storageClassName does not match")
	}
	if volumeMode(vol.GetSpec().VolumeMode) != volumeMode(claim.GetSpec().VolumeMode) {
		return errors.New("incompatible volumeMode")
	}
	if !hasAccessModes(vol, claim.GetSpec().GetAccessModes()) {
		return errors.New("incompatible accessMode")
	}
	return nil
}

// VolumeFitsNode reports whether vol's node affinity lets node use it (a
// volume without one fits every node).
func VolumeFitsNode(vol *corev1.PersistentVolume, node *corev1.Node) (bool, error) {
	req := vol.GetSpec().GetNodeAffinity().GetRequired()
	if req == nil {
		return true, nil
	}
	for _, t := range req.GetNodeSelectorTerms() {
		term, err := nodeaffinity.NewNodeTerm(t)
		if err != nil {
			return false, fmt.Errorf("spec.nodeAffinity: %w", err)
		}
		if term.Matches(node.GetMetadata().GetName(), node.GetMetadata().GetLabels()) {
			return true, nil
		}
	}
	return false, nil
}

// ClaimClass is the StorageClass a claim asks for ("" for none).
func ClaimClass(claim *corev1.PersistentVolumeClaim) string {
	return claim.GetSpec().GetStorageClassName()
}

// claimRequest is the storage a claim asks for (zero when unset).
func claimRequest(claim *corev1.PersistentVolumeClaim) (resource.Quantity, error) {
	q, ok := claim.GetSpec().GetResources().GetRequests()["storage"]
	if !ok {
		return resource.Quantity{}, nil
	}
	v, err := resource.ParseQuantity(q.GetString_())
	if err != nil {
		return resource.Quantity{}, fmt.Errorf("spec.resources.requests[storage]: %q: %v", q.GetString_(), err)
	}
	return v, nil
}

// volumeSize is a volume's capacity; ok is false when it has none that
// parses.
func volumeSize(vol *corev1.PersistentVolume) (resource.Quantity, bool) {
	q, ok := vol.GetSpec().GetCapacity()["storage"]
	if !ok {
		return resource.Quantity{}, false
	}
	v, err := resource.ParseQuantity(q.GetString_())
	return v, err == nil
}

func volumeMode(m *string) string {
	if m == nil || *m == "" {
		return api.PersistentVolumeFilesystem
	}
	return *m
}

// hasAccessModes reports whether vol offers every mode in want.
func hasAccessModes(vol *corev1.PersistentVolume, want []string) bool {
	for _, m := range want {
		if !slices.Contains(vol.GetSpec().GetAccessModes(), m) {
			return false
		}
	}
	return true
}

// BoundToClaim reports whether vol's claimRef names claim: its namespace
// and name, and its uid unless the reference leaves it empty (a
// reservation made before the claim existed).
func BoundToClaim(vol *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim) bool {
	ref := vol.GetSpec().GetClaimRef()
	m := claim.GetMetadata()
	return ref != nil && ref.GetNamespace() == m.GetNamespace() && ref.GetName() == m.GetName() &&
		(ref.GetUid() == "" || ref.GetUid() == m.GetUid())
}
