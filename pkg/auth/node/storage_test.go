package node_test

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/node"
)

func claimPod(ns, name, nodeName, claim string) *corev1.Pod {
	p := pod(ns, name, nodeName)
	p.Spec.Volumes = append(p.Spec.Volumes, &corev1.Volume{Name: "data",
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}})
	return p
}

func boundClaim(ns, name, volume string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: &corev1.PersistentVolumeClaimSpec{VolumeName: volume}}
}

func attachment(name, nodeName string) *storagev1.VolumeAttachment {
	return &storagev1.VolumeAttachment{Metadata: &metav1.ObjectMeta{Name: name},
		Spec: &storagev1.VolumeAttachmentSpec{NodeName: nodeName}}
}

// TestStorage: a node reads the claims its pods mount, the volumes those
// claims are bound to and the attachments to it, by name or by the label
// naming it (list and watch); it keeps
// only its own CSINode.
func TestStorage(t *testing.T) {
	g := node.NewGraph()
	g.SetPod(claimPod("ns", "a", "n1", "data-a"))
	g.SetPod(claimPod("ns", "b", "n2", "data-b"))
	g.ReplaceClaims([]*corev1.PersistentVolumeClaim{boundClaim("ns", "data-a", "pv-a"), boundClaim("ns", "data-b", "pv-b")})
	g.SetClaim(boundClaim("ns", "unused", "pv-u"))
	g.ReplaceAttachments([]*storagev1.VolumeAttachment{attachment("va-1", "n1"), attachment("va-2", "n2")})
	g.SetAttachment(attachment("va-3", "n1"))
	g.DeleteAttachment("", "va-3")
	z := node.New(g)
	for _, tc := range []struct {
		sel  string
		want bool
	}{{"keel.dev/attachment-node=n1", true}, {"keel.dev/attachment-node=n2", false}, {"keel.dev/attachment-node in (n1,n2)", false}, {"", false}} {
		sel, err := labels.Parse(tc.sel)
		if err != nil {
			t.Fatal(err)
		}
		for _, verb := range []string{"list", "watch"} {
			ok, _, err := z.Authorize(context.Background(), auth.Attributes{User: nodeUser("n1"), Verb: verb, APIGroup: "storage.k8s.io", Resource: "volumeattachments", LabelSelector: sel})
			if err != nil || ok != tc.want {
				t.Errorf("%s volumeattachments -l %q: allowed %v (%v), want %v", verb, tc.sel, ok, err, tc.want)
			}
		}
	}
	for _, tc := range []struct {
		verb, group, resource, ns, name string
		want                            bool
	}{
		{"get", "", "persistentvolumeclaims", "ns", "data-a", true},
		{"get", "", "persistentvolumeclaims", "ns", "data-b", false},
		{"list", "", "persistentvolumeclaims", "ns", "", false},
		{"update", "", "persistentvolumeclaims", "ns", "data-a", false},
		{"get", "", "persistentvolumes", "", "pv-a", true},
		{"get", "", "persistentvolumes", "", "pv-b", false},
		{"get", "", "persistentvolumes", "", "pv-u", false},
		{"delete", "", "persistentvolumes", "", "pv-a", false},
		{"get", "storage.k8s.io", "volumeattachments", "", "va-1", true},
		{"get", "storage.k8s.io", "volumeattachments", "", "va-2", false},
		{"get", "storage.k8s.io", "volumeattachments", "", "va-3", false},
		{"list", "storage.k8s.io", "csinodes", "", "", true},
		{"update", "storage.k8s.io", "csinodes", "", "n1", true},
		{"update", "storage.k8s.io", "csinodes", "", "n2", false},
		{"list", "storage.k8s.io", "csidrivers", "", "", true},
		{"create", "storage.k8s.io", "csidrivers", "", "", false},
	} {
		ok, _, err := z.Authorize(context.Background(), auth.Attributes{User: nodeUser("n1"), Verb: tc.verb,
			APIGroup: tc.group, Resource: tc.resource, Namespace: tc.ns, Name: tc.name})
		if err != nil || ok != tc.want {
			t.Errorf("%s %s/%s %s/%s: allowed %v (%v), want %v", tc.verb, tc.group, tc.resource, tc.ns, tc.name, ok, err, tc.want)
		}
	}
	g.DeleteClaim("ns", "data-a")
	if ok, _, _ := z.Authorize(context.Background(), auth.Attributes{User: nodeUser("n1"), Verb: "get", Resource: "persistentvolumes", Name: "pv-a"}); ok {
		t.Error("a deleted claim's volume is still readable")
	}
}
