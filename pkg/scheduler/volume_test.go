package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	pv "keel.dev/keel/pkg/controller/volume/persistentvolume"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/scheduler"
	"keel.dev/keel/pkg/scheduler/plugins"
	"keel.dev/keel/pkg/testutil"
)

// These tests run the scheduler as keel-scheduler (and, for the full
// path, the PV controller as keel-controller-manager) against an
// apiserver with RBAC on: a refused request fails the test.

const fakeProvisioner = "keel.dev/fake"

// nodeProvisioner makes volumes usable only from the node it is given,
// as the local-path provisioner does, and records those nodes.
type nodeProvisioner struct {
	mu    sync.Mutex
	nodes []string
}

func (f *nodeProvisioner) Provision(_ context.Context, claim *corev1.PersistentVolumeClaim, _ *storagev1.StorageClass, node *corev1.Node) (*corev1.PersistentVolume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nodes = append(f.nodes, node.GetMetadata().GetName())
	return &corev1.PersistentVolume{Spec: &corev1.PersistentVolumeSpec{
		Capacity:     map[string]*metav1.Quantity{"storage": claim.GetSpec().GetResources().GetRequests()["storage"]},
		HostPath:     &corev1.HostPathVolumeSource{Path: "/fake/" + claim.GetMetadata().GetUid()},
		NodeAffinity: pinnedTo(node.GetMetadata().GetName())}}, nil
}

func (f *nodeProvisioner) Delete(context.Context, *corev1.PersistentVolume) error { return nil }

func (f *nodeProvisioner) provisioned() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.nodes...)
}

func pinnedTo(node string) *corev1.VolumeNodeAffinity {
	return &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []*corev1.NodeSelectorTerm{{
		MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: "In", Values: []string{node}}}}}}}
}

// startPVController runs the PV controller with the fake provisioner as
// keel-controller-manager until the end of the test.
func (cl *cluster) startPVController() *nodeProvisioner {
	c := cl.srv.Client(pki.ControllerManagerName)
	ctx, cancel := context.WithCancel(cl.ctx)
	prov := &nodeProvisioner{}
	f := informer.NewFactory(c, 0)
	ctl := pv.New(c, f, map[string]pv.Provisioner{fakeProvisioner: prov}, nil, nil)
	f.Start(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { ctl.Run(ctx, 2) })
	cl.t.Cleanup(func() { cancel(); wg.Wait(); f.Shutdown() })
	return prov
}

func (cl *cluster) createClass(name, provisioner string, zones ...string) {
	cl.t.Helper()
	mode := api.VolumeBindingWaitForFirstConsumer
	c := &storagev1.StorageClass{Metadata: &metav1.ObjectMeta{Name: name}, Provisioner: provisioner, VolumeBindingMode: &mode}
	if len(zones) > 0 {
		c.AllowedTopologies = []*corev1.TopologySelectorTerm{{MatchLabelExpressions: []*corev1.TopologySelectorLabelRequirement{
			{Key: "topology.kubernetes.io/zone", Values: zones}}}}
	}
	if _, err := client.For[*storagev1.StorageClass](cl.c, "").Create(cl.ctx, c, client.CreateOptions{}); err != nil {
		cl.t.Fatal(err)
	}
}

// createVolume makes a 1Gi volume of class usable only from node,
// reserved for claim when claim is not "".
func (cl *cluster) createVolume(name, class, node, claim string) {
	cl.t.Helper()
	v := &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: name}, Spec: &corev1.PersistentVolumeSpec{
		Capacity: map[string]*metav1.Quantity{"storage": {String_: "1Gi"}}, AccessModes: []string{"ReadWriteOnce"},
		StorageClassName: class, PersistentVolumeReclaimPolicy: api.PersistentVolumeReclaimRetain,
		HostPath: &corev1.HostPathVolumeSource{Path: "/srv/" + name}, NodeAffinity: pinnedTo(node)}}
	if claim != "" {
		v.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "default", Name: claim}
	}
	if _, err := client.For[*corev1.PersistentVolume](cl.c, "").Create(cl.ctx, v, client.CreateOptions{}); err != nil {
		cl.t.Fatal(err)
	}
}

// createClaim makes a 1Gi claim of class in "default", naming volume
// when volume is not "".
func (cl *cluster) createClaim(name, class, volume string) {
	cl.t.Helper()
	c := &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: name}, Spec: &corev1.PersistentVolumeClaimSpec{
		AccessModes: []string{"ReadWriteOnce"}, StorageClassName: &class, VolumeName: volume,
		Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"storage": {String_: "1Gi"}}}}}
	if _, err := client.For[*corev1.PersistentVolumeClaim](cl.c, "default").Create(cl.ctx, c, client.CreateOptions{}); err != nil {
		cl.t.Fatal(err)
	}
}

func (cl *cluster) getClaim(name string) *corev1.PersistentVolumeClaim {
	cl.t.Helper()
	c, err := client.For[*corev1.PersistentVolumeClaim](cl.c, "default").Get(cl.ctx, name)
	if err != nil {
		cl.t.Fatal(err)
	}
	return c
}

func withClaims(claims ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		for _, c := range claims {
			p.Spec.Volumes = append(p.Spec.Volumes, &corev1.Volume{Name: c, PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c}})
		}
	}
}

// TestPodGoesWhereItsVolumeIs: a pod whose claim is bound to a volume
// usable only from n2 lands on n2; a pod whose claim is missing is
// unschedulable, saying so.
func TestPodGoesWhereItsVolumeIs(t *testing.T) {
	cl := newSecureCluster(t)
	for _, n := range []string{"n1", "n2", "n3"} {
		cl.createNode(nodeSpec{name: n})
	}
	cl.createClass("local", api.NoProvisioner)
	cl.createVolume("disk-n2", "local", "n2", "data")
	cl.createClaim("data", "local", "disk-n2")
	cl.startScheduler(nil)
	for i := range 3 {
		cl.createPod(podSpec{name: fmt.Sprintf("p-%d", i), mutate: withClaims("data")})
		if n := cl.waitBound("default", fmt.Sprintf("p-%d", i)); n != "n2" {
			t.Errorf("p-%d went to %s; its volume is on n2", i, n)
		}
	}
	cl.createPod(podSpec{name: "orphan", mutate: withClaims("nope")})
	if msg := cl.waitUnschedulable("default", "orphan"); !strings.Contains(msg, `persistentvolumeclaim "nope" not found`) {
		t.Errorf("unschedulable message %q", msg)
	}
}

// TestWaitForFirstConsumer runs the whole path with the PV controller: a
// pod's unbound claim of a WaitForFirstConsumer class is annotated with
// the node the scheduler chose, provisioned there and bound, and only
// then is the pod bound; a claim of static local volumes binds the volume
// on the pod's node; a pod waiting for a missing claim is scheduled once
// the claim is made.
func TestWaitForFirstConsumer(t *testing.T) {
	cl := newSecureCluster(t)
	cl.createNode(nodeSpec{name: "n1", labels: map[string]string{"topology.kubernetes.io/zone": "a"}})
	cl.createNode(nodeSpec{name: "n2", labels: map[string]string{"topology.kubernetes.io/zone": "b"}})
	cl.createNode(nodeSpec{name: "n3", labels: map[string]string{"topology.kubernetes.io/zone": "b"}})
	prov := cl.startPVController()
	cl.createClass("zone-b", fakeProvisioner, "b")
	cl.createClass("local", api.NoProvisioner)
	cl.createVolume("disk-n1", "local", "n1", "")
	cl.startScheduler(nil)

	// Provisioned.
	cl.createClaim("made", "zone-b", "")
	cl.createPod(podSpec{name: "web", mutate: withClaims("made")})
	node := cl.waitBound("default", "web")
	if node != "n2" && node != "n3" {
		t.Errorf("web went to %s, outside zone b", node)
	}
	claim := cl.getClaim("made")
	if got := claim.GetMetadata().GetAnnotations()[api.AnnSelectedNode]; got != node {
		t.Errorf("claim's %s = %q, the pod is on %s", api.AnnSelectedNode, got, node)
	}
	if claim.GetStatus().GetPhase() != api.ClaimBound || claim.GetSpec().GetVolumeName() != pv.VolumeName(claim) {
		t.Errorf("claim not bound to its provisioned volume when the pod was bound: %v", claim)
	}
	if got := prov.provisioned(); len(got) != 1 || got[0] != node {
		t.Errorf("provisioned on %v, want [%s]", got, node)
	}

	// A static local volume.
	cl.createClaim("local", "local", "")
	cl.createPod(podSpec{name: "db", mutate: withClaims("local")})
	if n := cl.waitBound("default", "db"); n != "n1" {
		t.Errorf("db went to %s; the only local volume is on n1", n)
	}
	if c := cl.getClaim("local"); c.GetSpec().GetVolumeName() != "disk-n1" || c.GetMetadata().GetAnnotations()[api.AnnSelectedNode] != "n1" {
		t.Errorf("claim local: %v", c)
	}

	// No volume left for another local claim: unschedulable.
	cl.createClaim("local-2", "local", "")
	cl.createPod(podSpec{name: "db-2", mutate: withClaims("local-2")})
	if msg := cl.waitUnschedulable("default", "db-2"); !strings.Contains(msg, "didn't find available persistent volumes to bind") {
		t.Errorf("db-2: %q", msg)
	}

	// A pod whose claim is made later.
	cl.createPod(podSpec{name: "late", mutate: withClaims("later")})
	if msg := cl.waitUnschedulable("default", "late"); !strings.Contains(msg, `persistentvolumeclaim "later" not found`) {
		t.Errorf("late: %q", msg)
	}
	cl.createClaim("later", "zone-b", "")
	if n := cl.waitBound("default", "late"); n != "n2" && n != "n3" {
		t.Errorf("late went to %s, outside zone b", n)
	}
	testutil.Eventually(t, 10*time.Second, "claim later bound", func() error {
		if c := cl.getClaim("later"); c.GetStatus().GetPhase() != api.ClaimBound {
			return fmt.Errorf("phase %s", c.GetStatus().GetPhase())
		}
		return nil
	})
}

// TestVolumeBindingTimesOut: when no PV controller binds the claim, the
// pod is not bound: PreBind gives up after bindTimeoutSeconds, takes its
// selected-node annotation back and the pod is retried; once the claim is
// bound (here by hand), the pod goes to its volume's node.
func TestVolumeBindingTimesOut(t *testing.T) {
	cl := newSecureCluster(t)
	for _, n := range []string{"n1", "n2"} {
		cl.createNode(nodeSpec{name: n})
	}
	cl.createClass("local", api.NoProvisioner)
	cl.createVolume("disk-n2", "local", "n2", "")
	vols := client.For[*corev1.PersistentVolume](cl.c, "")
	vol, err := vols.Get(cl.ctx, "disk-n2")
	if err != nil {
		t.Fatal(err)
	}
	vol.Status = &corev1.PersistentVolumeStatus{Phase: api.VolumeAvailable} // as the PV controller would
	if vol, err = vols.UpdateStatus(cl.ctx, vol, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cl.createClaim("data", "local", "")
	cl.startScheduler(func(c *scheduler.Config) {
		c.Plugins = plugins.DefaultPlugins()
		for i := range c.Plugins {
			if c.Plugins[i].Name == plugins.VolumeBindingName {
				c.Plugins[i].Args = []byte(`{"bindTimeoutSeconds": 1}`)
			}
		}
	})
	cl.createPod(podSpec{name: "web", mutate: withClaims("data")})
	want := `running PreBind plugin "VolumeBinding": binding volumes: context deadline exceeded`
	waitFor(t, 30*time.Second, func() bool {
		evs, err := cl.c.Events("default").List(cl.ctx, client.ListOptions{FieldSelector: "involvedObject.name=web,reason=FailedScheduling"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if strings.Contains(e.GetMessage(), want) {
				return true
			}
		}
		return false
	}, "a FailedScheduling event %q", want)
	if n := cl.getPod("default", "web").GetSpec().GetNodeName(); n != "" {
		t.Fatalf("web bound to %s before its claim was", n)
	}
	// Bind the claim and its volume by hand, as the PV controller would.
	c := cl.getClaim("data")
	vol.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "default", Name: "data", Uid: c.GetMetadata().GetUid()}
	if _, err := vols.Update(cl.ctx, vol, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "claim data updated", func() error {
		c := cl.getClaim("data")
		c.Spec.VolumeName = "disk-n2"
		_, err := client.For[*corev1.PersistentVolumeClaim](cl.c, "default").Update(cl.ctx, c, client.UpdateOptions{})
		return err // a conflict with the scheduler's annotation: again
	})
	if n := cl.waitBound("default", "web"); n != "n2" {
		t.Errorf("web went to %s; its volume is on n2", n)
	}
}
