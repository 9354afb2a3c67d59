package garbagecollector_test

import (
	"context"
	"fmt"
	"testing"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/controller/garbagecollector"
)

type env struct{ *controllertest.Env }

// start runs the garbage collector (and nothing else) against a real
// apiserver.
func start(t *testing.T) *env {
	return &env{controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		gc := garbagecollector.New(c, f, nil)
		return func(ctx context.Context) { gc.Run(ctx, 2) }
	})}
}

func (e *env) owner(name string) *appsv1.ReplicaSet {
	e.T.Helper()
	one := int32(1)
	rs, err := e.Client.ReplicaSets("default").Create(e.Ctx, &appsv1.ReplicaSet{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &appsv1.ReplicaSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}},
	}, client.CreateOptions{})
	if err != nil {
		e.T.Fatal(err)
	}
	return rs
}

func (e *env) pod(name string, owners ...*metav1.OwnerReference) *corev1.Pod {
	e.T.Helper()
	p, err := e.Client.Pods("default").Create(e.Ctx, &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", OwnerReferences: owners},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}},
	}, client.CreateOptions{})
	if err != nil {
		e.T.Fatal(err)
	}
	return p
}

func (e *env) gone(get func() error) func() error {
	return func() error {
		err := get()
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("still there")
	}
}

func (e *env) podGone(name string) func() error {
	return e.gone(func() error { _, err := e.Client.Pods("default").Get(e.Ctx, name); return err })
}

func (e *env) rsGone(name string) func() error {
	return e.gone(func() error { _, err := e.Client.ReplicaSets("default").Get(e.Ctx, name); return err })
}

func (e *env) deleteRS(name, policy string) {
	e.T.Helper()
	if _, _, err := e.Client.ReplicaSets("default").Delete(e.Ctx, name, client.DeleteOptions{PropagationPolicy: policy}); err != nil {
		e.T.Fatal(err)
	}
}

func TestBackgroundDeletionRemovesDependents(t *testing.T) {
	e := start(t)
	rs := e.owner("web")
	e.pod("web-1", controller.NewControllerRef(rs))
	e.pod("web-2", controller.NewControllerRef(rs))
	e.pod("bystander")
	e.deleteRS("web", "")
	e.Eventually("web-1 deleted with its owner", e.podGone("web-1"))
	e.Eventually("web-2 deleted with its owner", e.podGone("web-2"))
	if _, err := e.Client.Pods("default").Get(e.Ctx, "bystander"); err != nil {
		t.Fatalf("an unowned pod was touched: %v", err)
	}
}

func TestOrphanDeletionKeepsDependents(t *testing.T) {
	e := start(t)
	rs := e.owner("api")
	e.pod("api-1", controller.NewControllerRef(rs))
	e.deleteRS("api", api.DeletePropagationOrphan)
	e.Eventually("the orphaning owner removed", e.rsGone("api"))
	e.Eventually("api-1 orphaned", func() error {
		p, err := e.Client.Pods("default").Get(e.Ctx, "api-1")
		if err != nil {
			return err
		}
		if refs := p.GetMetadata().GetOwnerReferences(); len(refs) != 0 {
			return fmt.Errorf("owner references %v", refs)
		}
		return nil
	})
}

func TestForegroundDeletionRemovesDependentsFirst(t *testing.T) {
	e := start(t)
	rs := e.owner("db")
	// The owner is deleted right after its dependents are created: the
	// graph may not hold them yet, and the owner must still wait for them.
	const n = 20
	for i := range n {
		e.pod(fmt.Sprintf("db-%d", i), controller.NewControllerRef(rs))
	}
	e.deleteRS("db", api.DeletePropagationForeground)
	e.Eventually("the foreground owner removed", e.rsGone("db"))
	for i := range n {
		if err := e.podGone(fmt.Sprintf("db-%d", i))(); err != nil {
			t.Fatalf("the owner went before its blocking dependent: db-%d %v", i, err)
		}
	}
}

func TestDanglingReferences(t *testing.T) {
	e := start(t)
	live := e.owner("live")
	// The name of a live ReplicaSet but another uid: an owner that is gone.
	stale := controller.NewControllerRef(live)
	stale.Uid = "00000000-0000-0000-0000-000000000001"
	e.pod("stale-owner", stale)
	e.Eventually("a pod whose only owner is gone is deleted", e.podGone("stale-owner"))

	// One owner gone, another live: the pod stays, without the dangling
	// reference.
	alive := controller.NewControllerRef(live)
	f := false
	alive.Controller = &f
	e.pod("two-owners", alive, stale)
	e.Eventually("the dangling reference dropped", func() error {
		p, err := e.Client.Pods("default").Get(e.Ctx, "two-owners")
		if err != nil {
			return err
		}
		refs := p.GetMetadata().GetOwnerReferences()
		if len(refs) != 1 || refs[0].GetUid() != live.GetMetadata().GetUid() {
			return fmt.Errorf("owner references %v", refs)
		}
		return nil
	})
}

func TestReleasedDependentOutlivesItsOwner(t *testing.T) {
	e := start(t)
	rs := e.owner("batch")
	const n = 10
	for i := range n {
		e.pod(fmt.Sprintf("batch-%d", i), controller.NewControllerRef(rs))
	}
	// Release every pod (as a controller does when labels stop matching),
	// then delete the owner at once: the graph may still show the old
	// references when the owner's deletion arrives.
	for i := range n {
		p, err := e.Client.Pods("default").Get(e.Ctx, fmt.Sprintf("batch-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		p.Metadata.OwnerReferences = nil
		if _, err := e.Client.Pods("default").Update(e.Ctx, p, client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.deleteRS("batch", "")
	e.Eventually("the owner removed", e.rsGone("batch"))
	// A pod whose owner is gone is deleted within one pass; a released pod
	// must still be there after the graph has caught up with a later write.
	e.pod("marker", controller.NewControllerRef(rs))
	e.Eventually("a pod naming the deleted owner collected", e.podGone("marker"))
	for i := range n {
		if _, err := e.Client.Pods("default").Get(e.Ctx, fmt.Sprintf("batch-%d", i)); err != nil {
			t.Fatalf("a released pod was collected with its former owner: %v", err)
		}
	}
}
