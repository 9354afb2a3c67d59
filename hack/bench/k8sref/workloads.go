package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"

	"keel.dev/keel/hack/bench/benchutil"
)

// stsReplicas is the size of statefulset-parallel-100.
const stsReplicas = 100

// template is the pod template of every workload: app=LABEL, one container
// requesting cpu and memory, nothing that runs it (kwok plays the kubelet).
func template(label, cpu, memory string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": label}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.local/pause:3.9",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)}}}}},
	}
}

// table prints a workload's heading and rows.
func table(heading, columns string, rows ...string) {
	fmt.Printf("## %s\n| nodes | %s |\n|%s\n", heading, columns, strings.Repeat("---|", strings.Count(columns, "|")+2))
	fmt.Println(strings.Join(rows, "\n"))
	fmt.Println()
}

// deployRows runs deploy-REPLICAS -runs times.
func (cl *cluster) deployRows(ctx context.Context) error {
	var created, bound, ready []float64
	n := int32(*replicas)
	for r := range *runs {
		ns := fmt.Sprintf("deploy-%d", r)
		if err := cl.namespace(ctx, ns); err != nil {
			return err
		}
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec: appsv1.DeploymentSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: template("web", "100m", "128Mi")}}
		c, b, rd, err := cl.timeReady(ctx, ns, int(n), func() error {
			_, err := cl.apps.Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
			return err
		}, func() (int32, error) {
			cur, err := cl.apps.Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			return cur.Status.ReadyReplicas, err
		})
		if err != nil {
			return fmt.Errorf("deploy-%d: %w", n, err)
		}
		created, bound, ready = append(created, c), append(bound, b), append(ready, rd)
	}
	table(fmt.Sprintf("deploy-%d: a Deployment of %d replicas, from its create to readyReplicas == %d", n, n, n),
		"all pods created | all bound | readyReplicas reached",
		fmt.Sprintf("| %d | %s s | %s s | %s s |", *nodes, benchutil.Spread(created, "%.2f"), benchutil.Spread(bound, "%.2f"), benchutil.Spread(ready, "%.2f")))
	return nil
}

// statefulSetRows runs statefulset-parallel-100 -runs times.
func (cl *cluster) statefulSetRows(ctx context.Context) error {
	var created, bound, ready []float64
	n := int32(stsReplicas)
	for r := range *runs {
		ns := fmt.Sprintf("sts-%d", r)
		if err := cl.namespace(ctx, ns); err != nil {
			return err
		}
		// The governing Service the set names; made before the clock starts.
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "web"}}}
		if _, err := cl.core.Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return err
		}
		set := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec: appsv1.StatefulSetSpec{Replicas: &n, ServiceName: "web", PodManagementPolicy: appsv1.ParallelPodManagement,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: template("web", "100m", "128Mi")}}
		c, b, rd, err := cl.timeReady(ctx, ns, int(n), func() error {
			_, err := cl.apps.StatefulSets(ns).Create(ctx, set, metav1.CreateOptions{})
			return err
		}, func() (int32, error) {
			cur, err := cl.apps.StatefulSets(ns).Get(ctx, "web", metav1.GetOptions{})
			return cur.Status.ReadyReplicas, err
		})
		if err != nil {
			return fmt.Errorf("statefulset-parallel-%d: %w", n, err)
		}
		created, bound, ready = append(created, c), append(bound, b), append(ready, rd)
	}
	table(fmt.Sprintf("statefulset-parallel-%d: a Parallel StatefulSet of %d replicas, from its create to readyReplicas == %d", n, n, n),
		"all pods created | all bound | readyReplicas reached",
		fmt.Sprintf("| %d | %s s | %s s | %s s |", *nodes, benchutil.Spread(created, "%.2f"), benchutil.Spread(bound, "%.2f"), benchutil.Spread(ready, "%.2f")))
	return nil
}

// timeReady follows the pods of ns, calls create, and polls readyReplicas
// until it is n; it returns the seconds from create to the last pod
// created, the last bound, and readyReplicas == n.
func (cl *cluster) timeReady(ctx context.Context, ns string, n int, create func() error, readyReplicas func() (int32, error)) (created, bound, ready float64, err error) {
	track, err := cl.trackPods(ctx, ns)
	if err != nil {
		return 0, 0, 0, err
	}
	defer track.stop()
	start := time.Now()
	if err := create(); err != nil {
		return 0, 0, 0, err
	}
	err = benchutil.WaitFor(5*time.Minute, func() (bool, error) {
		r, err := readyReplicas()
		return int(r) == n, err
	})
	readyAt := time.Since(start)
	if err != nil {
		return 0, 0, 0, errors.Join(errors.New("readyReplicas never reached the replicas"), err)
	}
	created, bound, err = track.since(start, n)
	return created, bound, readyAt.Seconds(), err
}

// podTracker follows a namespace's pods (benchutil.PodTimes) until stop.
type podTracker struct {
	benchutil.PodTimes
	stop context.CancelFunc
	mu   sync.Mutex
	err  error // why the watch ended early
}

// trackPods starts following the pods of ns; stop ends it. A watch the
// apiserver ends is resumed from the last resourceVersion seen.
func (cl *cluster) trackPods(ctx context.Context, ns string) (*podTracker, error) {
	wctx, cancel := context.WithCancel(ctx)
	w, err := cl.core.Pods(ns).Watch(wctx, metav1.ListOptions{})
	if err != nil {
		cancel()
		return nil, err
	}
	t := &podTracker{stop: cancel}
	fail := func(err error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.err = err
	}
	go func() {
		rv := ""
		for {
			for ev := range w.ResultChan() {
				if ev.Type == watch.Error {
					fail(apierrors.FromObject(ev.Object))
					w.Stop()
					return
				}
				if pod, ok := ev.Object.(*corev1.Pod); ok {
					rv = pod.ResourceVersion
					t.Observe(pod.Name, pod.Spec.NodeName != "")
				}
			}
			if wctx.Err() != nil {
				return
			}
			if w, err = cl.core.Pods(ns).Watch(wctx, metav1.ListOptions{ResourceVersion: rv}); err != nil {
				fail(err)
				return
			}
		}
	}()
	return t, nil
}

// since is PodTimes.Since, naming why the watch ended when it did early.
func (t *podTracker) since(start time.Time, n int) (created, bound float64, err error) {
	created, bound, err = t.Since(start, n)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil && t.err != nil {
		err = fmt.Errorf("%w (the watch ended: %v)", err, t.err)
	}
	return created, bound, err
}

// daemonSetRows runs daemonset-rollout -runs times.
func (cl *cluster) daemonSetRows(ctx context.Context) error {
	var ready, updated []float64
	for r := range *runs {
		ns := fmt.Sprintf("daemonset-%d", r)
		if err := cl.namespace(ctx, ns); err != nil {
			return err
		}
		rd, up, err := cl.daemonSet(ctx, ns)
		if err != nil {
			return fmt.Errorf("daemonset-rollout: %w", err)
		}
		ready, updated = append(ready, rd), append(updated, up)
	}
	table("daemonset-rollout: a DaemonSet on every node, from its create to numberReady == nodes; then a template change (RollingUpdate, maxUnavailable 10%) until every node runs an updated, available pod",
		"all pods ready | rolling update done",
		fmt.Sprintf("| %d | %s s | %s s |", *nodes, benchutil.Spread(ready, "%.2f"), benchutil.Spread(updated, "%.2f")))
	return nil
}

// daemonSet creates the DaemonSet of hack/bench/controller in ns and
// returns the seconds from its create to every node running a ready pod,
// and from a change of its template to every node running an updated,
// available pod.
func (cl *cluster) daemonSet(ctx context.Context, ns string) (ready, updated float64, err error) {
	dss := cl.apps.DaemonSets(ns)
	maxUnavailable := intstr.FromString("10%")
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: template("agent", "10m", "16Mi"),
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &maxUnavailable}}}}
	n := int32(*nodes)
	// done: the controller saw the latest spec and every node runs an
	// updated pod that is ready (available: minReadySeconds is 0).
	done := func() (bool, error) {
		cur, err := dss.Get(ctx, "agent", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st := cur.Status
		return st.ObservedGeneration == cur.Generation && st.DesiredNumberScheduled == n &&
			st.UpdatedNumberScheduled == n && st.NumberAvailable == n && st.NumberReady == n, nil
	}
	start := time.Now()
	if _, err := dss.Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		return 0, 0, err
	}
	if err := benchutil.WaitFor(10*time.Minute, done); err != nil {
		return 0, 0, errors.Join(errors.New("numberReady never reached the nodes"), err)
	}
	ready = time.Since(start).Seconds()
	start = time.Now()
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := dss.Get(ctx, "agent", metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.Template.Annotations = map[string]string{"bench/rollout": "2"}
		_, err = dss.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	if err := benchutil.WaitFor(10*time.Minute, done); err != nil {
		return 0, 0, errors.Join(errors.New("the rolling update never finished"), err)
	}
	return ready, time.Since(start).Seconds(), nil
}
