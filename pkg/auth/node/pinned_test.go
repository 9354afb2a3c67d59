package node_test

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/node"
)

func pinnedVolume(name, nodeName string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: name}, Spec: &corev1.PersistentVolumeSpec{
		NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []*corev1.NodeSelectorTerm{{
			MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: api.LabelHostname, Operator: "In", Values: []string{nodeName}}}}}}}}}
}

func TestPinnedVolumes(t *testing.T) {
	g := node.NewGraph()
	g.ReplaceVolumes([]*corev1.PersistentVolume{pinnedVolume("mine", "n1"), pinnedVolume("theirs", "n2"),
		{Metadata: &metav1.ObjectMeta{Name: "anywhere"}}})
	g.SetVolume(pinnedVolume("later", "n1"))
	g.SetVolume(pinnedVolume("moved", "n1"))
	g.SetVolume(pinnedVolume("moved", "n2"))
	g.SetVolume(pinnedVolume("gone", "n1"))
	g.DeleteVolume("gone")
	z := node.New(g)
	sel := func(s string) labels.Selector {
		l, err := labels.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	for _, tc := range []struct {
		verb, name string
		sel        labels.Selector
		want       bool
	}{
		{"get", "mine", nil, true},
		{"get", "later", nil, true},
		{"update", "mine", nil, true},
		{"watch", "mine", nil, true},
		{"get", "theirs", nil, false},
		{"get", "moved", nil, false},
		{"get", "gone", nil, false},
		{"get", "anywhere", nil, false},
		{"delete", "mine", nil, false},
		{"list", "", nil, false},
		{"list", "", sel(api.LabelLocalPathNode + "=n1"), true},
		{"watch", "", sel(api.LabelLocalPathNode + "=n1,app=x"), true},
		{"list", "", sel(api.LabelLocalPathNode + "=n2"), false},
		{"list", "", sel(api.LabelLocalPathNode + " in (n1,n2)"), false},
		{"list", "", sel(api.LabelLocalPathNode), false},
	} {
		ok, _, err := z.Authorize(context.Background(), auth.Attributes{User: nodeUser("n1"), Verb: tc.verb,
			Resource: "persistentvolumes", Name: tc.name, LabelSelector: tc.sel})
		if err != nil || ok != tc.want {
			t.Errorf("%s %s %v: allowed %v (%v), want %v", tc.verb, tc.name, tc.sel, ok, err, tc.want)
		}
	}
}
