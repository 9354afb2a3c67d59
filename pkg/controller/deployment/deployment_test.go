package deployment_test

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/controller/deployment"
	"keel.dev/keel/pkg/controller/replicaset"
)

type env struct{ *controllertest.Env }

// start runs the Deployment and ReplicaSet controllers against a real
// apiserver, and plays the kubelet: every new pod turns Running and Ready.
func start(t *testing.T) *env {
	return &env{controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		d := deployment.New(c, f, nil, nil)
		rs := replicaset.New(c, f, nil, nil)
		ready := make(chan *corev1.Pod, 1024)
		f.Pods().AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{AddFunc: func(p *corev1.Pod) { ready <- p }})
		return func(ctx context.Context) {
			go d.Run(ctx, 2)
			go rs.Run(ctx, 2)
			for {
				select {
				case <-ctx.Done():
					return
				case p := <-ready:
					next := proto.Clone(p).(*corev1.Pod)
					next.Status = &corev1.PodStatus{Phase: api.PodRunning, Conditions: []*corev1.PodCondition{
						{Type: api.PodReady, Status: api.ConditionTrue, LastTransitionTime: timestamppb.Now()}}}
					_, _ = c.Pods(p.GetMetadata().GetNamespace()).UpdateStatus(ctx, next, client.UpdateOptions{})
				}
			}
		}
	})}
}

func webDeployment(strategy string, n int32, image string) *appsv1.Deployment {
	d := &appsv1.Deployment{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &appsv1.DeploymentSpec{
			Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: image}}}},
			Strategy: &appsv1.DeploymentStrategy{Type: strategy},
		},
	}
	return d
}

// observe is one look at the cluster: pods by image, and ReplicaSets.
type observation struct {
	images map[string]int // active pods per image
	ready  int
	rs     []*appsv1.ReplicaSet
	d      *appsv1.Deployment
}

func (e *env) observe() (observation, error) {
	o := observation{images: map[string]int{}}
	pods, err := e.Client.Pods("default").List(e.Ctx, client.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		return o, err
	}
	for _, p := range pods.Items {
		if controller.IsPodActive(p) {
			o.images[p.GetSpec().GetContainers()[0].GetImage()]++
			if api.IsPodReady(p) {
				o.ready++
			}
		}
	}
	l, err := e.Client.ReplicaSets("default").List(e.Ctx, client.ListOptions{})
	if err != nil {
		return o, err
	}
	o.rs = l.Items
	sort.Slice(o.rs, func(i, j int) bool {
		return o.rs[i].GetMetadata().GetAnnotations()[api.DeploymentRevisionAnnotation] < o.rs[j].GetMetadata().GetAnnotations()[api.DeploymentRevisionAnnotation]
	})
	o.d, err = e.Client.Deployments("default").Get(e.Ctx, "web")
	return o, err
}

// rollTo waits until every replica runs image and the Deployment says the
// rollout is complete, checking each observation on the way with check.
func (e *env) rollTo(n int, image string, check func(observation) error) observation {
	e.T.Helper()
	var last observation
	e.Eventually("rollout to "+image, func() error {
		o, err := e.observe()
		if err != nil {
			return err
		}
		last = o
		if err := check(o); err != nil {
			e.T.Fatal(err)
		}
		st := o.d.GetStatus()
		prog := ""
		for _, c := range st.GetConditions() {
			if c.GetType() == api.DeploymentProgressing {
				prog = c.GetReason()
			}
		}
		if len(o.images) != 1 || o.images[image] != n || st.GetUpdatedReplicas() != int32(n) || st.GetAvailableReplicas() != int32(n) ||
			st.GetObservedGeneration() != o.d.GetMetadata().GetGeneration() || prog != "NewReplicaSetAvailable" {
			return fmt.Errorf("pods by image %v, status %v", o.images, st)
		}
		return nil
	})
	return last
}

func (e *env) setImage(image string) {
	e.T.Helper()
	d, err := e.Client.Deployments("default").Get(e.Ctx, "web")
	if err != nil {
		e.T.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = image
	if _, err := e.Client.Deployments("default").Update(e.Ctx, d, client.UpdateOptions{}); err != nil {
		e.T.Fatal(err)
	}
}

func TestRollingUpdateAndRollback(t *testing.T) {
	e := start(t)
	d := webDeployment(api.RollingUpdateDeploymentStrategyType, 4, "busybox:1")
	one := int32(1)
	d.Spec.RevisionHistoryLimit = &one
	if _, err := e.Client.Deployments("default").Create(e.Ctx, d, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// maxSurge 25% of 4 = 1, maxUnavailable 25% of 4 = 1.
	within := func(o observation) error {
		total := 0
		for _, n := range o.images {
			total += n
		}
		if total > 5 {
			return fmt.Errorf("%d pods during the rollout, more than 4 + maxSurge 1: %v", total, o.images)
		}
		return nil
	}
	o := e.rollTo(4, "busybox:1", within)
	if len(o.rs) != 1 || o.rs[0].GetMetadata().GetName() != "web-"+o.rs[0].GetMetadata().GetLabels()[api.DeploymentHashLabel] {
		t.Fatalf("ReplicaSets %v", o.rs)
	}
	first := o.rs[0].GetMetadata().GetName()

	e.setImage("busybox:2")
	o = e.rollTo(4, "busybox:2", within)
	if len(o.rs) != 2 {
		t.Fatalf("%d ReplicaSets after one update, want the new and the old", len(o.rs))
	}
	for _, rs := range o.rs {
		if rs.GetMetadata().GetName() == first && rs.GetSpec().GetReplicas() != 0 {
			t.Errorf("the old ReplicaSet kept %d replicas", rs.GetSpec().GetReplicas())
		}
	}

	// Back to the first template: its ReplicaSet is reused with the next
	// revision, and revisionHistoryLimit 1 keeps one old ReplicaSet.
	e.setImage("busybox:1")
	o = e.rollTo(4, "busybox:1", within)
	e.Eventually("history trimmed to one old ReplicaSet", func() error {
		l, err := e.Client.ReplicaSets("default").List(e.Ctx, client.ListOptions{})
		if err != nil {
			return err
		}
		if len(l.Items) != 2 {
			return fmt.Errorf("%d ReplicaSets", len(l.Items))
		}
		for _, rs := range l.Items {
			if rs.GetMetadata().GetName() == first && rs.GetMetadata().GetAnnotations()[api.DeploymentRevisionAnnotation] != "3" {
				return fmt.Errorf("rolled-back ReplicaSet at revision %s, want 3", rs.GetMetadata().GetAnnotations()[api.DeploymentRevisionAnnotation])
			}
		}
		return nil
	})

	// Scaling changes only the current ReplicaSet.
	cur, err := e.Client.Deployments("default").Get(e.Ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	six := int32(6)
	cur.Spec.Replicas = &six
	if _, err := e.Client.Deployments("default").Update(e.Ctx, cur, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.rollTo(6, "busybox:1", func(observation) error { return nil })
}

func TestRecreateStopsOldPodsFirst(t *testing.T) {
	e := start(t)
	if _, err := e.Client.Deployments("default").Create(e.Ctx, webDeployment(api.RecreateDeploymentStrategyType, 3, "busybox:1"), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	never := func(o observation) error {
		if len(o.images) > 1 {
			return fmt.Errorf("old and new pods at once under Recreate: %v", o.images)
		}
		return nil
	}
	e.rollTo(3, "busybox:1", never)
	e.setImage("busybox:2")
	e.rollTo(3, "busybox:2", never)
}
