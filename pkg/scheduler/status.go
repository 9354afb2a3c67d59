package scheduler

import (
	"context"
	"sync"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/scheduler/framework"
)

// statusWorkers write pod statuses concurrently.
const statusWorkers = 4

// statusWriter writes the scheduler's pod status changes (the
// PodScheduled=False condition, status.nominatedNodeName) off the
// scheduling loop. Changes to one pod are merged while they wait, and a
// write that would change nothing is skipped. A pod that got bound or
// deleted meanwhile is left alone.
type statusWriter struct {
	api   API
	store *informer.Store[*corev1.Pod]
	log   *zap.Logger

	mu      sync.Mutex
	pending map[string]*statusUpdate
	order   []string
	busy    int
	wake    chan struct{}
	idle    *sync.Cond
}

type statusUpdate struct {
	ns, name, uid   string
	reason, message string // condition; "" reason: leave it
	nominated       *string
}

func newStatusWriter(api API, store *informer.Store[*corev1.Pod], log *zap.Logger) *statusWriter {
	w := &statusWriter{api: api, store: store, log: log, pending: map[string]*statusUpdate{}, wake: make(chan struct{}, statusWorkers)}
	w.idle = sync.NewCond(&w.mu)
	return w
}

func (w *statusWriter) enqueue(pi *framework.PodInfo, change func(u *statusUpdate)) {
	w.mu.Lock()
	u, ok := w.pending[pi.Key]
	if !ok || u.uid != pi.UID {
		u = &statusUpdate{ns: pi.Namespace, name: pi.Name, uid: pi.UID}
		if !ok {
			w.order = append(w.order, pi.Key)
		}
		w.pending[pi.Key] = u
	}
	change(u)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// setCondition asks for PodScheduled=False with reason and message.
func (w *statusWriter) setCondition(pi *framework.PodInfo, reason, message string) {
	w.enqueue(pi, func(u *statusUpdate) { u.reason, u.message = reason, message })
}

// setNomination asks for status.nominatedNodeName = node.
func (w *statusWriter) setNomination(pi *framework.PodInfo, node string) {
	w.enqueue(pi, func(u *statusUpdate) { u.nominated = &node })
}

func (w *statusWriter) next() *statusUpdate {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.order) == 0 {
		return nil
	}
	key := w.order[0]
	w.order = w.order[1:]
	u := w.pending[key]
	delete(w.pending, key)
	w.busy++
	return u
}

func (w *statusWriter) done() {
	w.mu.Lock()
	w.busy--
	if w.busy == 0 && len(w.order) == 0 {
		w.idle.Broadcast()
	}
	w.mu.Unlock()
}

// run writes until ctx ends.
func (w *statusWriter) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range statusWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				u := w.next()
				if u == nil {
					select {
					case <-ctx.Done():
						return
					case <-w.wake:
						continue
					}
				}
				w.write(ctx, u)
				w.done()
			}
		}()
	}
	wg.Wait()
	w.mu.Lock()
	w.idle.Broadcast()
	w.mu.Unlock()
}

// flush waits until nothing is pending or ctx ends.
func (w *statusWriter) flush(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		w.idle.Broadcast()
		w.mu.Unlock()
	})
	defer stop()
	w.mu.Lock()
	for (len(w.order) > 0 || w.busy > 0) && ctx.Err() == nil {
		w.idle.Wait()
	}
	w.mu.Unlock()
}

func (w *statusWriter) write(ctx context.Context, u *statusUpdate) {
	pod, ok := w.store.GetByName(u.ns, u.name)
	for attempt := 0; attempt < 3 && ok; attempt++ {
		if pod.GetMetadata().GetUid() != u.uid || assigned(pod) || pod.GetMetadata().GetDeletionTimestamp() != nil {
			return
		}
		updated, changed := applyStatus(pod, u)
		if !changed {
			return
		}
		_, err := w.api.UpdatePodStatus(ctx, updated)
		switch {
		case err == nil, apierrors.IsNotFound(err), ctx.Err() != nil:
			return
		case !apierrors.IsConflict(err):
			w.log.Warn("updating pod status failed", zap.String("pod", u.ns+"/"+u.name), zap.Error(err))
			return
		}
		var gerr error
		pod, gerr = w.api.GetPod(ctx, u.ns, u.name)
		ok = gerr == nil
	}
}

// applyStatus returns a copy of pod with u applied, and whether anything
// changed.
func applyStatus(pod *corev1.Pod, u *statusUpdate) (*corev1.Pod, bool) {
	st := pod.GetStatus()
	cond := api.GetPodCondition(st, api.PodScheduled)
	needCond := u.reason != "" && (cond == nil || cond.GetStatus() != api.ConditionFalse || cond.GetReason() != u.reason || cond.GetMessage() != u.message)
	needNom := u.nominated != nil && st.GetNominatedNodeName() != *u.nominated
	if !needCond && !needNom {
		return nil, false
	}
	out := proto.Clone(pod).(*corev1.Pod)
	if out.Status == nil {
		out.Status = &corev1.PodStatus{}
	}
	if needNom {
		out.Status.NominatedNodeName = *u.nominated
	}
	if needCond {
		now := timestamppb.Now()
		nc := &corev1.PodCondition{Type: api.PodScheduled, Status: api.ConditionFalse, Reason: u.reason, Message: u.message, LastProbeTime: now, LastTransitionTime: now}
		if cond != nil && cond.GetStatus() == api.ConditionFalse {
			nc.LastTransitionTime = cond.GetLastTransitionTime()
		}
		replaced := false
		for i, c := range out.Status.Conditions {
			if c.GetType() == api.PodScheduled {
				out.Status.Conditions[i] = nc
				replaced = true
			}
		}
		if !replaced {
			out.Status.Conditions = append(out.Status.Conditions, nc)
		}
	}
	return out, true
}
