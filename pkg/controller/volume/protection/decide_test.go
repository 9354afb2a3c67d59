package protection

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

var deleted = timestamppb.New(time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC))

func claim(deleting bool, finalizers ...string) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: "data", Namespace: "default", Finalizers: finalizers}}
	if deleting {
		c.Metadata.DeletionTimestamp = deleted
	}
	return c
}

func pod(ns, phase string, claims ...string) *corev1.Pod {
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", Namespace: ns}, Spec: &corev1.PodSpec{}, Status: &corev1.PodStatus{Phase: phase}}
	for _, c := range claims {
		p.Spec.Volumes = append(p.Spec.Volumes, &corev1.Volume{Name: c, PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c}})
	}
	p.Spec.Volumes = append(p.Spec.Volumes, &corev1.Volume{Name: "scratch", EmptyDir: &corev1.EmptyDirVolumeSource{}})
	return p
}

func TestClaimUpdate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		claim *corev1.PersistentVolumeClaim
		pods  []*corev1.Pod
		want  []string // the finalizers written; nil: no write
	}{
		{name: "added to a live claim", claim: claim(false, "other"), want: []string{"other", api.PVCProtectionFinalizer}},
		{name: "kept on a live claim", claim: claim(false, api.PVCProtectionFinalizer)},
		{name: "not added to a claim being deleted", claim: claim(true)},
		{name: "kept while a running pod uses it", claim: claim(true, api.PVCProtectionFinalizer),
			pods: []*corev1.Pod{pod("default", api.PodRunning, "logs", "data")}},
		{name: "kept while an unscheduled pod may use it", claim: claim(true, api.PVCProtectionFinalizer),
			pods: []*corev1.Pod{pod("default", api.PodPending, "data")}},
		{name: "removed once its pods finished", claim: claim(true, api.PVCProtectionFinalizer, "other"),
			pods: []*corev1.Pod{pod("default", api.PodSucceeded, "data"), pod("default", api.PodFailed, "data")}, want: []string{"other"}},
		{name: "pods of other claims and namespaces do not count", claim: claim(true, api.PVCProtectionFinalizer),
			pods: []*corev1.Pod{pod("default", api.PodRunning, "logs"), pod("other", api.PodRunning, "data")}, want: []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.claim.Metadata.Finalizers)
			next := ClaimUpdate(tc.claim, tc.pods)
			switch {
			case tc.want == nil && next != nil:
				t.Errorf("wrote finalizers %v, want no write", next.Metadata.Finalizers)
			case tc.want != nil && next == nil:
				t.Errorf("no write, want finalizers %v", tc.want)
			case tc.want != nil && len(tc.want)+len(next.Metadata.Finalizers) > 0 && !slices.Equal(next.Metadata.Finalizers, tc.want):
				t.Errorf("finalizers %v, want %v", next.Metadata.Finalizers, tc.want)
			}
			if !slices.Equal(before, tc.claim.Metadata.Finalizers) {
				t.Error("ClaimUpdate modified its input")
			}
		})
	}
}

func TestVolumeUpdate(t *testing.T) {
	vol := func(deleting bool, phase string, finalizers ...string) *corev1.PersistentVolume {
		v := &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: "v", Finalizers: finalizers}, Status: &corev1.PersistentVolumeStatus{Phase: phase}}
		if deleting {
			v.Metadata.DeletionTimestamp = deleted
		}
		return v
	}
	for _, tc := range []struct {
		name string
		vol  *corev1.PersistentVolume
		want []string
	}{
		{name: "added to a live volume", vol: vol(false, "Available"), want: []string{api.PVProtectionFinalizer}},
		{name: "kept on a live volume", vol: vol(false, "Bound", api.PVProtectionFinalizer)},
		{name: "kept while Bound", vol: vol(true, "Bound", api.PVProtectionFinalizer, "keel.dev/local-path-cleanup")},
		{name: "removed once Released", vol: vol(true, "Released", api.PVProtectionFinalizer, "keel.dev/local-path-cleanup"), want: []string{"keel.dev/local-path-cleanup"}},
		{name: "removed from an Available volume", vol: vol(true, "Available", api.PVProtectionFinalizer), want: []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := VolumeUpdate(tc.vol)
			switch {
			case tc.want == nil && next != nil:
				t.Errorf("wrote finalizers %v, want no write", next.Metadata.Finalizers)
			case tc.want != nil && next == nil:
				t.Errorf("no write, want finalizers %v", tc.want)
			case tc.want != nil && len(tc.want)+len(next.Metadata.Finalizers) > 0 && !slices.Equal(next.Metadata.Finalizers, tc.want):
				t.Errorf("finalizers %v, want %v", next.Metadata.Finalizers, tc.want)
			}
		})
	}
}
