package rollout_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
	"keel.dev/keel/pkg/manifest"
)

// createDaemonSet creates DaemonSet "agent" running image and, as its
// controller would, one ControllerRevision per image given, numbered from 1.
func createDaemonSet(t *testing.T, k *keelctltest.Cluster, image string, revisions ...string) *appsv1.DaemonSet {
	t.Helper()
	ds := &appsv1.DaemonSet{Metadata: &metav1.ObjectMeta{Name: "agent", Namespace: "default"}, Spec: &appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: webTemplate(image)}}
	ds, err := client.For[*appsv1.DaemonSet](k.C, "default").Create(k.Ctx(), ds, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	createRevisions(t, k, "DaemonSet", ds.GetMetadata(), ds.GetSpec().GetTemplate(), revisions...)
	return ds
}

// createRevisions creates, as the controller of owner (of kind) would,
// one ControllerRevision per image given, numbered from 1, each recording
// template (as stored: defaulted) running that image.
func createRevisions(t *testing.T, k *keelctltest.Cluster, kind string, owner *metav1.ObjectMeta, template *corev1.PodTemplateSpec, images ...string) {
	t.Helper()
	for i, img := range images {
		tmpl := proto.Clone(template).(*corev1.PodTemplateSpec)
		tmpl.Spec.Containers[0].Image = img
		m, err := manifest.ToMap(&appsv1.DaemonSet{Spec: &appsv1.DaemonSetSpec{Template: tmpl}})
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(map[string]any{"spec": m["spec"]})
		cr := &appsv1.ControllerRevision{
			Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", owner.GetName(), i+1), Namespace: owner.GetNamespace(), OwnerReferences: []*metav1.OwnerReference{{
				ApiVersion: "apps/v1", Kind: kind, Name: owner.GetName(), Uid: owner.GetUid(), Controller: proto.Bool(true)}}},
			Data: &metav1.RawExtension{Raw: raw}, Revision: int64(i + 1),
		}
		if _, err := client.For[*appsv1.ControllerRevision](k.C, owner.GetNamespace()).Create(k.Ctx(), cr, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func daemonSetImage(t *testing.T, k *keelctltest.Cluster) string {
	t.Helper()
	ds, err := client.For[*appsv1.DaemonSet](k.C, "default").Get(k.Ctx(), "agent")
	if err != nil {
		t.Fatal(err)
	}
	return ds.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage()
}

func TestDaemonSetRollout(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	createDaemonSet(t, k, "agent:2", "agent:1", "agent:2")

	if out := k.Run("rollout", "history", "ds/agent").OK(t); out != "daemonset.apps/agent\nREVISION   CHANGE-CAUSE\n1          <none>\n2          <none>\n\n" {
		t.Errorf("history: %q", out)
	}
	if out := k.Run("rollout", "history", "daemonset/agent", "--revision=1").OK(t); !strings.HasPrefix(out, "daemonset.apps/agent with revision #1\nPod Template:\n") || !strings.Contains(out, "image: agent:1") {
		t.Errorf("history --revision=1: %q", out)
	}
	k.Run("rollout", "history", "ds/agent", "--revision=5").Fails(t, "unable to find the specified revision 5 of daemonset.apps/agent")

	if out := k.Run("rollout", "undo", "ds/agent").OK(t); out != "daemonset.apps/agent rolled back\n" {
		t.Errorf("undo: %q", out)
	}
	if img := daemonSetImage(t, k); img != "agent:1" {
		t.Errorf("after undo the template runs %s, want agent:1", img)
	}
	if out := k.Run("rollout", "undo", "ds/agent", "--to-revision=1").OK(t); out != "daemonset.apps/agent skipped rollback (current template already matches revision 1)\n" {
		t.Errorf("undo to the current template: %q", out)
	}
	k.Run("rollout", "undo", "ds/agent", "--to-revision=9").Fails(t, "unable to find specified revision 9 in history")

	if out := k.Run("rollout", "restart", "ds/agent").OK(t); out != "daemonset.apps/agent restarted\n" {
		t.Errorf("restart: %q", out)
	}
	ds, err := client.For[*appsv1.DaemonSet](k.C, "default").Get(k.Ctx(), "agent")
	if err != nil {
		t.Fatal(err)
	}
	if ds.GetSpec().GetTemplate().GetMetadata().GetAnnotations()[api.RestartedAtAnnotation] == "" {
		t.Errorf("restart left no %s annotation", api.RestartedAtAnnotation)
	}

	// status reads the controller's status (no controller runs here).
	if out := k.Run("rollout", "status", "ds/agent", "--watch=false").OK(t); out != "Waiting for daemon set spec update to be observed...\n" {
		t.Errorf("status before the controller saw it: %q", out)
	}
	ds.Status = &appsv1.DaemonSetStatus{ObservedGeneration: ds.GetMetadata().GetGeneration(), DesiredNumberScheduled: 3, CurrentNumberScheduled: 3,
		UpdatedNumberScheduled: 1, NumberReady: 3, NumberAvailable: 3}
	if ds, err = client.For[*appsv1.DaemonSet](k.C, "default").UpdateStatus(k.Ctx(), ds, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if out := k.Run("rollout", "status", "ds/agent", "--watch=false").OK(t); out != "Waiting for daemon set \"agent\" rollout to finish: 1 out of 3 new pods have been updated...\n" {
		t.Errorf("status mid-rollout: %q", out)
	}
	ds.Status.UpdatedNumberScheduled = 3
	if ds, err = client.For[*appsv1.DaemonSet](k.C, "default").UpdateStatus(k.Ctx(), ds, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if out := k.Run("rollout", "status", "ds/agent").OK(t); out != "daemon set \"agent\" successfully rolled out\n" {
		t.Errorf("status done: %q", out)
	}
	ds.Spec.UpdateStrategy = &appsv1.DaemonSetUpdateStrategy{Type: api.OnDeleteDaemonSetStrategyType}
	if _, err := client.For[*appsv1.DaemonSet](k.C, "default").Update(k.Ctx(), ds, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	k.Run("rollout", "status", "ds/agent").Fails(t, "rollout status is only available for RollingUpdate strategy type")
}

// TestStatefulSetRolloutHistory: history, undo and restart of a
// StatefulSet read and write it and its ControllerRevisions as for a
// DaemonSet.
func TestStatefulSetRolloutHistory(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	sets := client.For[*appsv1.StatefulSet](k.C, "default")
	set, err := sets.Create(k.Ctx(), &appsv1.StatefulSet{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: &appsv1.StatefulSetSpec{
		ServiceName: "web", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: webTemplate("web:2")}}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	createRevisions(t, k, "StatefulSet", set.GetMetadata(), set.GetSpec().GetTemplate(), "web:1", "web:2")

	if out := k.Run("rollout", "history", "sts/web").OK(t); out != "statefulset.apps/web\nREVISION   CHANGE-CAUSE\n1          <none>\n2          <none>\n\n" {
		t.Errorf("history: %q", out)
	}
	if out := k.Run("rollout", "history", "statefulset/web", "--revision=1").OK(t); !strings.Contains(out, "image: web:1") {
		t.Errorf("history --revision=1: %q", out)
	}
	if out := k.Run("rollout", "undo", "sts/web").OK(t); out != "statefulset.apps/web rolled back\n" {
		t.Errorf("undo: %q", out)
	}
	if set, err = sets.Get(k.Ctx(), "web"); err != nil || set.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage() != "web:1" {
		t.Errorf("after undo: %v, %v; want the template of revision 1", set.GetSpec().GetTemplate().GetSpec().GetContainers(), err)
	}
	if out := k.Run("rollout", "restart", "sts/web").OK(t); out != "statefulset.apps/web restarted\n" {
		t.Errorf("restart: %q", out)
	}
	if set, err = sets.Get(k.Ctx(), "web"); err != nil || set.GetSpec().GetTemplate().GetMetadata().GetAnnotations()[api.RestartedAtAnnotation] == "" {
		t.Errorf("restart left no %s annotation (%v)", api.RestartedAtAnnotation, err)
	}
}
