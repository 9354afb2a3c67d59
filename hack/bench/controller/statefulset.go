package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"keel.dev/keel/hack/bench/benchutil"
	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
)

// stsReplicas is the statefulset-parallel-100 workload's size.
const stsReplicas = 100

// statefulSetRow runs statefulset-parallel-100 *runs times on cl and
// returns its table row.
func (cl *cluster) statefulSetRow(ctx context.Context, nodes int) (string, error) {
	var created, bound, ready []float64
	for r := range *runs {
		ns := fmt.Sprintf("sts-%d", r)
		if err := benchutil.CreateNamespace(ctx, cl.c.API(), ns); err != nil {
			return "", err
		}
		c, b, rd, err := cl.statefulSet(ctx, ns)
		if err != nil {
			return "", fmt.Errorf("statefulset-parallel-%d: %w", stsReplicas, err)
		}
		created, bound, ready = append(created, c), append(bound, b), append(ready, rd)
	}
	return fmt.Sprintf("| %d | %s s | %s s | %s s | %s |", nodes,
		benchutil.Spread(created, "%.2f"), benchutil.Spread(bound, "%.2f"), benchutil.Spread(ready, "%.2f"), k8sRef(stsRef, nodes)), nil
}

// statefulSet creates a Parallel StatefulSet of stsReplicas in ns and
// returns the seconds from its create to the last pod created, the last
// bound, and readyReplicas == stsReplicas.
func (cl *cluster) statefulSet(ctx context.Context, ns string) (created, bound, ready float64, err error) {
	track, err := cl.trackPods(ctx, ns)
	if err != nil {
		return 0, 0, 0, err
	}
	defer track.stop()
	n := int32(stsReplicas)
	set := &appsv1.StatefulSet{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: &appsv1.StatefulSetSpec{Replicas: &n, ServiceName: "web", PodManagementPolicy: api.ParallelPodManagement,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "registry.local/pause:3.9",
					Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"cpu": {String_: "100m"}, "memory": {String_: "128Mi"}}}}}}}},
	}
	sets := client.For[*appsv1.StatefulSet](cl.c, ns)
	start := time.Now()
	if _, err := sets.Create(ctx, set, client.CreateOptions{}); err != nil {
		return 0, 0, 0, err
	}
	err = benchutil.WaitFor(5*time.Minute, func() (bool, error) {
		cur, err := sets.Get(ctx, "web")
		if err != nil {
			return false, err
		}
		return cur.GetStatus().GetReadyReplicas() == n, nil
	})
	readyAt := time.Since(start)
	if err != nil {
		return 0, 0, 0, errors.Join(errors.New("readyReplicas never reached the replicas"), err)
	}
	created, bound, err = track.Since(start, int(n))
	return created, bound, readyAt.Seconds(), err
}

// podTracker follows a namespace's pods (benchutil.PodTimes) until stop.
type podTracker struct {
	benchutil.PodTimes
	stop context.CancelFunc
}

// trackPods starts following the pods of ns; stop ends it.
func (cl *cluster) trackPods(ctx context.Context, ns string) (*podTracker, error) {
	wctx, cancel := context.WithCancel(ctx)
	w, err := cl.c.Pods(ns).Watch(wctx, client.WatchOptions{})
	if err != nil {
		cancel()
		return nil, err
	}
	t := &podTracker{stop: cancel}
	go func() {
		for {
			ev, err := w.Next()
			if err != nil {
				return
			}
			t.Observe(ev.Object.GetMetadata().GetName(), ev.Object.GetSpec().GetNodeName() != "")
		}
	}()
	return t, nil
}
