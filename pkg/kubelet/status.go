package kubelet

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	k8sworkqueue "k8s.io/client-go/util/workqueue"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/kubelet/metrics"
)

// statusManager writes pod statuses to the apiserver: the workers hand it
// the status they computed (set), and StatusWorkers goroutines write the
// latest one of each pod when it differs from what the API has, retrying
// failures (apiserver down) with a per-pod back-off of 100ms doubling to
// 10s. A status never overtakes a newer one: only the latest is kept.
type statusManager struct {
	k     *Kubelet
	queue workqueue.Interface[string]

	mu      sync.Mutex
	pending map[string]pendingStatus // by pod uid
}

type pendingStatus struct {
	namespace, name string
	status          *corev1.PodStatus
}

func newStatusManager(k *Kubelet) *statusManager {
	rl := k8sworkqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 10*time.Second)
	return &statusManager{k: k, queue: workqueue.NewWithRateLimiter[string]("pod-status", rl), pending: map[string]pendingStatus{}}
}

// set records the status computed for pod; it is written unless the API
// already has it.
func (m *statusManager) set(pod *corev1.Pod, st *corev1.PodStatus) {
	uid := pod.GetMetadata().GetUid()
	m.mu.Lock()
	if p, ok := m.pending[uid]; ok && proto.Equal(p.status, st) {
		m.mu.Unlock()
		return
	}
	if _, ok := m.pending[uid]; !ok && proto.Equal(pod.GetStatus(), st) {
		m.mu.Unlock()
		return
	}
	m.pending[uid] = pendingStatus{namespace: pod.GetMetadata().GetNamespace(), name: pod.GetMetadata().GetName(), status: st}
	m.mu.Unlock()
	m.queue.Add(uid)
}

// forget drops what is pending for a pod that is gone.
func (m *statusManager) forget(uid string) {
	m.mu.Lock()
	delete(m.pending, uid)
	m.mu.Unlock()
}

func (m *statusManager) run(ctx context.Context) {
	workqueue.Run(ctx, m.queue, m.k.cfg.StatusWorkers, m.sync)
}

func (m *statusManager) sync(ctx context.Context, uid string) error {
	m.mu.Lock()
	p, ok := m.pending[uid]
	m.mu.Unlock()
	if !ok {
		return nil
	}
	err := m.write(ctx, uid, p)
	switch {
	case err == nil:
		metrics.StatusUpdates.WithLabelValues("ok").Inc()
	case apierrors.IsNotFound(err):
		err = nil // the pod is gone: nothing to write
	default:
		metrics.StatusUpdates.WithLabelValues("error").Inc()
		if ctx.Err() == nil {
			m.k.log.Info("writing a pod status failed; will retry", zap.String("pod", p.namespace+"/"+p.name), zap.Error(err))
		}
		return err
	}
	m.mu.Lock()
	if cur, ok := m.pending[uid]; ok && cur.status == p.status {
		delete(m.pending, uid)
	}
	m.mu.Unlock()
	return nil
}

// write writes one status, from the informer's copy of the pod, re-reading
// it on a conflict.
func (m *statusManager) write(ctx context.Context, uid string, p pendingStatus) error {
	pods := m.k.client.Pods(p.namespace)
	cur, ok := m.k.pods.Store().GetByName(p.namespace, p.name)
	for attempt := 0; ; attempt++ {
		if !ok || cur.GetMetadata().GetUid() != uid {
			fresh, err := pods.Get(ctx, p.name)
			if err != nil {
				return err
			}
			if fresh.GetMetadata().GetUid() != uid {
				return apierrors.NotFound("pods", p.name)
			}
			cur, ok = fresh, true
		}
		if proto.Equal(cur.GetStatus(), p.status) {
			return nil
		}
		if api.IsPodTerminal(cur) && cur.GetStatus().GetPhase() != p.status.GetPhase() {
			return nil // never leave a terminal phase (someone else set it)
		}
		next := proto.Clone(cur).(*corev1.Pod)
		next.Status = p.status
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := pods.UpdateStatus(wctx, next, client.UpdateOptions{})
		cancel()
		if !apierrors.IsConflict(err) || attempt >= 3 {
			return err
		}
		metrics.StatusUpdates.WithLabelValues("conflict").Inc()
		ok = false // re-read
	}
}
