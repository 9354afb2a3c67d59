package persistentvolume_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/record"
	pv "keel.dev/keel/pkg/controller/volume/persistentvolume"
	"keel.dev/keel/pkg/controller/volume/protection"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// These tests run the PV controller and the protection controllers as
// keel-controller-manager (its own certificate, RBAC with the bootstrap
// policy: any refused request fails the test) against a real apiserver.

const fakeProvisioner = "keel.dev/fake"

// fake is a provisioner that records its calls.
type fake struct {
	mu        sync.Mutex
	nodes     []string // the node of each Provision ("" for none)
	deleted   []string
	failFirst bool
}

func (f *fake) Provision(_ context.Context, claim *corev1.PersistentVolumeClaim, _ *storagev1.StorageClass, node *corev1.Node) (*corev1.PersistentVolume, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failFirst {
		f.failFirst = false
		return nil, errors.New("the disk array is busy")
	}
	f.nodes = append(f.nodes, node.GetMetadata().GetName())
	return &corev1.PersistentVolume{Spec: &corev1.PersistentVolumeSpec{
		Capacity: map[string]*metav1.Quantity{"storage": claim.GetSpec().GetResources().GetRequests()["storage"]},
		HostPath: &corev1.HostPathVolumeSource{Path: "/fake/" + claim.GetMetadata().GetUid()}}}, nil
}

func (f *fake) Delete(_ context.Context, vol *corev1.PersistentVolume) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, vol.GetMetadata().GetName())
	return nil
}

type env struct {
	t     *testing.T
	srv   *testserver.Secure
	ctx   context.Context
	admin *client.Client
	fake  *fake
}

func start(t *testing.T) *env {
	s := testserver.StartSecure(t, nil, nil)
	s.FailOnForbidden()
	c := s.Client(pki.ControllerManagerName)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	rec, err := record.New(record.Config{Sink: record.ClientSink(c), Component: "keel-controller-manager"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rec.Close)
	e := &env{t: t, srv: s, ctx: ctx, admin: s.Client(pki.AdminName), fake: &fake{}}
	f := informer.NewFactory(c, 0)
	ctl := pv.New(c, f, map[string]pv.Provisioner{fakeProvisioner: e.fake}, rec, nil)
	claims := protection.NewClaimController(c, f, nil)
	volumes := protection.NewVolumeController(c, f)
	f.Start(ctx)
	var wg sync.WaitGroup
	for _, run := range []func(){func() { ctl.Run(ctx, 2) }, func() { claims.Run(ctx, 1) }, func() { volumes.Run(ctx, 1) }} {
		wg.Go(run)
	}
	t.Cleanup(func() { cancel(); wg.Wait(); f.Shutdown() })
	return e
}

func (e *env) eventually(what string, cond func() error) {
	e.t.Helper()
	testutil.Eventually(e.t, 30*time.Second, what, cond)
}

func (e *env) class(name, mode string) {
	e.t.Helper()
	_, err := client.For[*storagev1.StorageClass](e.admin, "").Create(e.ctx, &storagev1.StorageClass{Metadata: &metav1.ObjectMeta{Name: name},
		Provisioner: fakeProvisioner, VolumeBindingMode: &mode}, client.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) volume(name, size, class, policy string) {
	e.t.Helper()
	_, err := client.For[*corev1.PersistentVolume](e.admin, "").Create(e.ctx, &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: name},
		Spec: &corev1.PersistentVolumeSpec{Capacity: map[string]*metav1.Quantity{"storage": {String_: size}}, AccessModes: []string{api.ReadWriteOnce},
			StorageClassName: class, PersistentVolumeReclaimPolicy: policy, HostPath: &corev1.HostPathVolumeSource{Path: "/srv/" + name}}}, client.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	// Only Available volumes are matched (as in Kubernetes), so a claim
	// made before the controller marks a new one may take another.
	e.eventually("volume "+name+" Available", func() error {
		v, err := e.getVolume(name)
		if err != nil {
			return err
		}
		if ph := v.GetStatus().GetPhase(); ph != api.VolumeAvailable {
			return fmt.Errorf("phase %q", ph)
		}
		return nil
	})
}

func (e *env) claim(name, size, class string) *corev1.PersistentVolumeClaim {
	e.t.Helper()
	c, err := client.For[*corev1.PersistentVolumeClaim](e.admin, "default").Create(e.ctx, &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: name},
		Spec: &corev1.PersistentVolumeClaimSpec{AccessModes: []string{api.ReadWriteOnce}, StorageClassName: &class,
			Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"storage": {String_: size}}}}}, client.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) getClaim(name string) (*corev1.PersistentVolumeClaim, error) {
	return client.For[*corev1.PersistentVolumeClaim](e.admin, "default").Get(e.ctx, name)
}

func (e *env) getVolume(name string) (*corev1.PersistentVolume, error) {
	return client.For[*corev1.PersistentVolume](e.admin, "").Get(e.ctx, name)
}

// bound waits until claim is Bound to volume, both ways.
func (e *env) bound(claim, volume, capacity string) {
	e.t.Helper()
	e.eventually("claim "+claim+" bound to "+volume, func() error {
		c, err := e.getClaim(claim)
		if err != nil {
			return err
		}
		v, err := e.getVolume(volume)
		if err != nil {
			return err
		}
		st := c.GetStatus()
		if c.GetSpec().GetVolumeName() != volume || st.GetPhase() != api.ClaimBound || st.GetCapacity()["storage"].GetString_() != capacity ||
			c.GetMetadata().GetAnnotations()[pv.AnnBindCompleted] != "yes" {
			return fmt.Errorf("claim: volumeName %q, status %v", c.GetSpec().GetVolumeName(), st)
		}
		if v.GetSpec().GetClaimRef().GetUid() != c.GetMetadata().GetUid() || v.GetStatus().GetPhase() != api.VolumeBound {
			return fmt.Errorf("volume: claimRef %v, phase %s", v.GetSpec().GetClaimRef(), v.GetStatus().GetPhase())
		}
		return nil
	})
}

// event waits for an event about the claim or volume name with reason
// whose message contains msg.
func (e *env) event(name, reason, msg string) {
	e.t.Helper()
	e.eventually(fmt.Sprintf("a %s event about %s", reason, name), func() error {
		var seen []string
		for _, ns := range []string{"default"} {
			l, err := e.admin.Events(ns).List(e.ctx, client.ListOptions{})
			if err != nil {
				return err
			}
			for _, ev := range l.Items {
				if ev.GetInvolvedObject().GetName() != name {
					continue
				}
				if ev.GetReason() == reason && strings.Contains(ev.GetMessage(), msg) {
					return nil
				}
				seen = append(seen, ev.GetReason()+": "+ev.GetMessage())
			}
		}
		return fmt.Errorf("events: %v", seen)
	})
}

func (e *env) gone(what string, get func() error) {
	e.t.Helper()
	e.eventually(what+" gone", func() error {
		if err := get(); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
}

func TestBindsTheSmallestVolumeThatFits(t *testing.T) {
	e := start(t)
	e.volume("small", "1Gi", "manual", api.PersistentVolumeReclaimRetain)
	e.volume("big", "10Gi", "manual", api.PersistentVolumeReclaimRetain)
	e.volume("medium", "5Gi", "manual", api.PersistentVolumeReclaimRetain)
	e.volume("other-class", "2Gi", "", api.PersistentVolumeReclaimRetain)
	e.claim("data", "2Gi", "manual")
	e.bound("data", "medium", "5Gi")
	v, err := e.getVolume("medium")
	if err != nil {
		t.Fatal(err)
	}
	if v.GetMetadata().GetAnnotations()[pv.AnnBoundByController] != "yes" || !slices.Contains(v.GetMetadata().GetFinalizers(), api.PVProtectionFinalizer) {
		t.Errorf("volume metadata = %v", v.GetMetadata())
	}

	// Retain: the claim's deletion releases the volume and keeps it.
	if _, _, err := client.For[*corev1.PersistentVolumeClaim](e.admin, "default").Delete(e.ctx, "data", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.gone("claim data", func() error { _, err := e.getClaim("data"); return err })
	e.eventually("volume medium Released", func() error {
		v, err := e.getVolume("medium")
		if err != nil || v.GetStatus().GetPhase() != api.VolumeReleased {
			return fmt.Errorf("phase %s (%v)", v.GetStatus().GetPhase(), err)
		}
		return nil
	})
	if len(e.fake.deleted) > 0 {
		t.Errorf("the provisioner deleted %v under Retain", e.fake.deleted)
	}
}

func TestMissingClassThenProvisioningAndDelete(t *testing.T) {
	e := start(t)
	c := e.claim("data", "3Gi", "fast")
	e.event("data", pv.EventProvisioningFailed, `storageclass.storage.k8s.io "fast" not found`)
	if got, _ := e.getClaim("data"); got.GetStatus().GetPhase() != api.ClaimPending {
		t.Errorf("claim phase %q, want Pending", got.GetStatus().GetPhase())
	}

	// The class appears; the first provisioning fails and is retried.
	e.fake.mu.Lock()
	e.fake.failFirst = true
	e.fake.mu.Unlock()
	e.class("fast", api.VolumeBindingImmediate)
	name := "pvc-" + c.GetMetadata().GetUid()
	e.bound("data", name, "3Gi")
	e.event("data", pv.EventProvisioningFailed, "the disk array is busy")
	e.event("data", pv.EventProvisioningSucceeded, "Successfully provisioned volume "+name+" using "+fakeProvisioner)
	v, err := e.getVolume(name)
	if err != nil {
		t.Fatal(err)
	}
	if v.GetMetadata().GetAnnotations()[api.AnnProvisionedBy] != fakeProvisioner || v.GetSpec().GetPersistentVolumeReclaimPolicy() != api.PersistentVolumeReclaimDelete ||
		v.GetSpec().GetStorageClassName() != "fast" {
		t.Errorf("provisioned volume = %v", v)
	}
	if got, _ := e.getClaim("data"); got.GetMetadata().GetAnnotations()[pv.AnnStorageProvisioner] != fakeProvisioner {
		t.Errorf("claim annotations = %v", got.GetMetadata().GetAnnotations())
	}

	// Delete: the claim goes, the provisioner deletes the storage, the
	// volume goes.
	if _, _, err := client.For[*corev1.PersistentVolumeClaim](e.admin, "default").Delete(e.ctx, "data", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.gone("volume "+name, func() error { _, err := e.getVolume(name); return err })
	e.fake.mu.Lock()
	defer e.fake.mu.Unlock()
	// A provisioner's Delete must be idempotent: a sync that ran before
	// the volume left the cache may call it again.
	if !slices.Equal(slices.Compact(slices.Clone(e.fake.deleted)), []string{name}) || !slices.Equal(e.fake.nodes, []string{""}) {
		t.Errorf("provisioned on %v, deleted %v", e.fake.nodes, e.fake.deleted)
	}
}

func TestWaitForFirstConsumer(t *testing.T) {
	e := start(t)
	e.class("local", api.VolumeBindingWaitForFirstConsumer)
	if _, err := e.admin.Nodes().Create(e.ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1",
		Labels: map[string]string{api.LabelHostname: "n1"}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := e.claim("data", "1Gi", "local")
	e.event("data", pv.EventWaitForFirstConsumer, "waiting for first consumer to be created before binding")

	// The scheduler chose n1.
	c.Metadata.Annotations = map[string]string{api.AnnSelectedNode: "n1"}
	if _, err := client.For[*corev1.PersistentVolumeClaim](e.admin, "default").Update(e.ctx, c, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.bound("data", "pvc-"+c.GetMetadata().GetUid(), "1Gi")
	e.fake.mu.Lock()
	defer e.fake.mu.Unlock()
	if !slices.Equal(e.fake.nodes, []string{"n1"}) {
		t.Errorf("provisioned on %v, want n1", e.fake.nodes)
	}
}

func TestClaimInUseSurvivesItsDeletion(t *testing.T) {
	e := start(t)
	e.volume("disk", "1Gi", "manual", api.PersistentVolumeReclaimRetain)
	e.claim("data", "1Gi", "manual")
	e.bound("data", "disk", "1Gi")
	if err := testserver.DefaultServiceAccounts(e.ctx, e.srv.Server, "default"); err != nil {
		t.Fatal(err)
	}
	pods := client.For[*corev1.Pod](e.admin, "default")
	if _, err := pods.Create(e.ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "user"}, Spec: &corev1.PodSpec{
		Containers: []*corev1.Container{{Name: "c", Image: "busybox"}},
		Volumes:    []*corev1.Volume{{Name: "d", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.For[*corev1.PersistentVolumeClaim](e.admin, "default").Delete(e.ctx, "data", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.eventually("the claim marked for deletion", func() error {
		c, err := e.getClaim("data")
		if err != nil || c.GetMetadata().GetDeletionTimestamp() == nil || !slices.Contains(c.GetMetadata().GetFinalizers(), api.PVCProtectionFinalizer) {
			return fmt.Errorf("claim %v (%v)", c.GetMetadata(), err)
		}
		return nil
	})
	// The volume, still Bound, keeps its protection too.
	if _, _, err := client.For[*corev1.PersistentVolume](e.admin, "").Delete(e.ctx, "disk", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pods.Delete(e.ctx, "user", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.gone("claim data", func() error { _, err := e.getClaim("data"); return err })
	e.gone("volume disk", func() error { _, err := e.getVolume("disk"); return err })
}
