package kubelet

import (
	"context"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/kubelet/kuberuntime"
	"keel.dev/keel/pkg/kubelet/metrics"
	"keel.dev/keel/pkg/kubelet/podsync"
	"keel.dev/keel/pkg/kubelet/volume"
)

// maxPasses bounds the observe-compute-act passes of one sync round: a pod
// starting from nothing needs two (act, then see it running).
const maxPasses = 5

// podWorker owns one pod (one uid): one goroutine syncs it whenever woken
// (pod changed, PLEG event, probe result) and at least every
// SyncFrequency, or sooner when a back-off expires. Wake-ups coalesce: the
// next round always reads the latest pod.
type podWorker struct {
	k   *Kubelet
	uid string
	log *zap.Logger

	mu      sync.Mutex
	pod     *corev1.Pod // latest from the API; nil for an orphan
	deleted bool        // gone from the API
	wakeCh  chan struct{}
	// cutHooks, during a round, cancels the round's hooks when cutShort
	// says the pod's latest state must cut them short (see hookContext);
	// both are nil between rounds.
	cutHooks context.CancelFunc
	cutShort func(pod *corev1.Pod, deleted bool) bool

	// Owned by the worker's goroutine.
	previous    *corev1.PodStatus
	backoff     map[string]podsync.BackoffEntry
	pullBackoff map[string]podsync.PullBackoff
	startErrors map[string]podsync.StartError
	probed      map[string]string // container name → ID given to the prober
	hostPaths   map[string]string // volume name → host path, from the last Setup
	errDelay    time.Duration
	// startPending: the pod was not Running when the worker began, so its
	// start latency is recorded when it gets there.
	startPending bool
	startChecked bool
}

func newPodWorker(k *Kubelet, uid string) *podWorker {
	return &podWorker{
		k: k, uid: uid, log: k.log.With(zap.String("podUID", uid)),
		wakeCh:      make(chan struct{}, 1),
		backoff:     map[string]podsync.BackoffEntry{},
		pullBackoff: map[string]podsync.PullBackoff{},
		startErrors: map[string]podsync.StartError{},
		probed:      map[string]string{},
	}
}

// update records the latest state of the pod and wakes the worker. A nil
// pod keeps the last one known (an orphan has none).
func (w *podWorker) update(pod *corev1.Pod, deleted bool) {
	w.mu.Lock()
	if pod != nil {
		w.pod = pod
		w.log = w.k.log.With(zap.String("pod", pod.GetMetadata().GetNamespace()+"/"+pod.GetMetadata().GetName()), zap.String("podUID", w.uid))
	}
	if deleted {
		w.deleted = true
	}
	if w.cutShort != nil && w.cutShort(w.pod, w.deleted) {
		w.cutHooks()
	}
	w.mu.Unlock()
	w.wake()
}

// terminating tells whether the pod is being (or has been) deleted.
func terminating(pod *corev1.Pod, deleted bool) bool {
	return deleted || pod == nil || pod.GetMetadata().GetDeletionTimestamp() != nil
}

// hookContext returns the context of the hooks a round runs on pod, which
// update cancels when the pod changes so that they must stop: a live pod
// starts terminating (its postStart hook), or a terminating pod's deletion
// becomes more urgent: it is removed from the API or its grace period is
// shortened (its preStop hooks; the containers are then stopped with the
// least grace). done releases it.
func (w *podWorker) hookContext(ctx context.Context, pod *corev1.Pod, deleted bool) (hctx context.Context, done func()) {
	var cutShort func(*corev1.Pod, bool) bool
	switch {
	case !terminating(pod, deleted):
		cutShort = terminating
	case !deleted && pod != nil:
		grace := pod.GetMetadata().GetDeletionGracePeriodSeconds()
		cutShort = func(p *corev1.Pod, d bool) bool {
			return d || p.GetMetadata().GetDeletionGracePeriodSeconds() < grace
		}
	default:
		return ctx, func() {}
	}
	hctx, cancel := context.WithCancel(ctx)
	w.mu.Lock()
	w.cutHooks, w.cutShort = cancel, cutShort
	if cutShort(w.pod, w.deleted) {
		cancel()
	}
	w.mu.Unlock()
	return hctx, func() {
		w.mu.Lock()
		w.cutHooks, w.cutShort = nil, nil
		w.mu.Unlock()
		cancel()
	}
}

func (w *podWorker) wake() {
	select {
	case w.wakeCh <- struct{}{}:
	default:
	}
}

func (w *podWorker) snapshot() (*corev1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.deleted
}

func (w *podWorker) logger() *zap.Logger {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log
}

func (w *podWorker) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wakeCh:
		}
		done, requeue := w.round(ctx)
		if done {
			w.k.workerDone(w.uid)
			return
		}
		if requeue <= 0 || requeue > w.k.cfg.SyncFrequency {
			requeue = w.k.cfg.SyncFrequency
		}
		// Sync again when a token of the pod's volumes is due for refresh.
		if at, ok := w.k.tokens.RefreshAt(w.uid); ok {
			if d := max(at.Sub(w.k.clock.Now()), time.Second); d < requeue {
				requeue = d
			}
		}
		t := w.k.clock.NewTimer(requeue)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-w.wakeCh:
			t.Stop()
			w.wake() // handled at the top of the loop
		case <-t.C():
			w.wake()
		}
	}
}

func (w *podWorker) nextErrDelay() time.Duration {
	if w.errDelay == 0 {
		w.errDelay = time.Second
	} else {
		w.errDelay = min(2*w.errDelay, 30*time.Second)
	}
	return w.errDelay
}

// round syncs the pod: observe, compute, act, until nothing is left to do
// (or an action failed). It tells whether the pod is gone for good, and
// when to sync again.
func (w *podWorker) round(ctx context.Context) (done bool, requeue time.Duration) {
	start := time.Now()
	defer func() { metrics.PodWorkerDuration.Observe(time.Since(start).Seconds()) }()
	pod, deleted := w.snapshot()
	log := w.logger()
	if w.previous == nil && pod != nil && pod.GetStatus() != nil {
		w.previous = proto.Clone(pod.GetStatus()).(*corev1.PodStatus)
	}
	if !w.startChecked && pod != nil {
		w.startChecked = true
		w.startPending = pod.GetStatus().GetPhase() == "" || pod.GetStatus().GetPhase() == api.PodPending
	}
	for name, se := range w.startErrors {
		se.Fresh = false
		w.startErrors[name] = se
	}
	live := !terminating(pod, deleted) && !api.IsPhaseTerminal(w.previous.GetPhase())
	hctx, release := w.hookContext(ctx, pod, deleted)
	defer release()
	// volumesPending: a volume no container may start without is not
	// ready (an unbound claim): the pod waits, its sandbox not created.
	volumesPending := false
	if live && len(pod.GetSpec().GetVolumes()) > 0 {
		// Every sync: configMap and secret contents follow their objects,
		// downward API files the pod's labels and annotations.
		paths, err := w.k.volumes.Setup(ctx, pod)
		w.hostPaths = paths
		if err != nil {
			log.Warn("setting up volumes", zap.Error(err))
			w.event(pod, api.EventTypeWarning, api.EventReasonFailedMount, "%v", err)
			volumesPending = volume.IsPending(err)
		}
	}
	failed := false
	for pass := 0; pass < maxPasses; pass++ {
		obs, err := w.k.observer.Pod(ctx, w.uid)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("reading the pod's state from the runtime", zap.Error(err))
			}
			return false, w.nextErrDelay()
		}
		in, err := w.input(ctx, pod, deleted, obs)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("reading the pod's images and probes", zap.Error(err))
			}
			return false, w.nextErrDelay()
		}
		plan := podsync.Compute(in)
		if volumesPending {
			plan.Actions = withoutStarts(plan.Actions)
		}
		if plan.Status != nil && pod != nil && !deleted {
			w.previous = plan.Status
			w.k.status.set(pod, plan.Status)
			w.recordStart(pod, plan.Status)
		}
		if failed {
			return false, min(w.nextErrDelay(), positive(plan.RequeueAfter))
		}
		if len(plan.Actions) == 0 {
			if volumesPending {
				return false, w.nextErrDelay() // retry the volumes soon
			}
			w.errDelay = 0
			return false, plan.RequeueAfter
		}
		if log.Core().Enabled(zap.DebugLevel) {
			var names []string
			for _, a := range plan.Actions {
				names = append(names, a.String())
			}
			log.Debug("sync", zap.Strings("actions", names))
		}
		if err := w.execute(ctx, hctx, pod, obs, plan); err != nil {
			if ctx.Err() != nil || hctx.Err() != nil {
				return false, 0 // stopped, or hooks cut short: woken again
			}
			log.Warn("sync failed", zap.Error(err))
			failed = true
			continue
		}
		if plan.Done {
			return true, 0
		}
	}
	return false, time.Second
}

// withoutStarts drops the sandbox creations and container starts of a
// plan (the pod's volumes are not ready).
func withoutStarts(actions []podsync.Action) []podsync.Action {
	var out []podsync.Action
	for _, a := range actions {
		switch a.(type) {
		case podsync.CreateSandbox, podsync.StartContainer:
			continue
		}
		out = append(out, a)
	}
	return out
}

func positive(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Hour
	}
	return d
}

// recordStart records the pod's startup latency the first time it is seen
// Running with every container running.
func (w *podWorker) recordStart(pod *corev1.Pod, st *corev1.PodStatus) {
	if !w.startPending || st.GetPhase() != api.PodRunning {
		return
	}
	for _, cs := range st.GetContainerStatuses() {
		if cs.GetState().GetRunning() == nil {
			return
		}
	}
	w.startPending = false
	if ct := pod.GetMetadata().GetCreationTimestamp(); ct != nil {
		metrics.PodStartDuration.Observe(w.k.clock.Since(ct.AsTime()).Seconds())
	}
}

// currentSandbox is the sandbox podsync considers current: the newest.
func currentSandbox(obs podsync.RuntimePod) *podsync.Sandbox {
	var cur *podsync.Sandbox
	for i := range obs.Sandboxes {
		sb := &obs.Sandboxes[i]
		if cur == nil || sb.Attempt > cur.Attempt || (sb.Attempt == cur.Attempt && sb.CreatedAt.After(cur.CreatedAt)) {
			cur = sb
		}
	}
	return cur
}

// input gathers what Compute needs besides the runtime state.
func (w *podWorker) input(ctx context.Context, pod *corev1.Pod, deleted bool, obs podsync.RuntimePod) (podsync.Input, error) {
	in := podsync.Input{
		Pod:         pod,
		Deleted:     deleted || pod == nil,
		Runtime:     obs,
		Backoff:     w.backoff,
		PullBackoff: w.pullBackoff,
		StartErrors: w.startErrors,
		Previous:    w.previous,
		HostIP:      w.k.hostIP,
		Now:         w.k.clock.Now(),
		Config:      w.k.sync,
	}
	if in.Deleted || pod.GetMetadata().GetDeletionTimestamp() != nil {
		return in, nil
	}
	var refs []string
	for _, c := range pod.GetSpec().GetInitContainers() {
		refs = append(refs, c.GetImage())
	}
	for _, c := range pod.GetSpec().GetContainers() {
		refs = append(refs, c.GetImage())
	}
	images, err := kuberuntime.Images(ctx, w.k.rt, refs)
	if err != nil {
		return in, err
	}
	in.Images = images
	in.Probes = w.syncProbes(pod, obs)
	return in, nil
}

// syncProbes tells the prober about the running app containers of the
// current sandbox (and forgets those that stopped), and returns their
// probe states by container ID.
func (w *podWorker) syncProbes(pod *corev1.Pod, obs podsync.RuntimePod) map[string]podsync.Probe {
	sb := currentSandbox(obs)
	running := map[string]string{}
	if sb != nil && sb.Ready {
		app := map[string]bool{}
		for _, c := range pod.GetSpec().GetContainers() {
			app[c.GetName()] = true
		}
		for _, c := range obs.Containers {
			if c.SandboxID == sb.ID && c.State == podsync.StateRunning && app[c.Name] {
				running[c.Name] = c.ID
			}
		}
	}
	podIP := ""
	if sb != nil {
		podIP = sb.IP
	}
	if pod.GetSpec().GetHostNetwork() {
		podIP = w.k.hostIP
	}
	names := make([]string, 0, len(running))
	for name := range running {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if id := running[name]; w.probed[name] != id {
			w.k.prober.AddContainer(pod, name, id, podIP)
			w.probed[name] = id
		}
	}
	for name := range w.probed {
		if _, ok := running[name]; !ok {
			w.k.prober.RemoveContainer(w.uid, name)
			delete(w.probed, name)
		}
	}
	out := make(map[string]podsync.Probe, len(running))
	for name, id := range running {
		failed, msg := w.k.prober.LivenessFailed(w.uid, name)
		out[id] = podsync.Probe{
			Ready:   w.k.prober.Ready(w.uid, name),
			Started: w.k.prober.Started(w.uid, name),
			Failed:  failed,
			Message: msg,
		}
	}
	return out
}

// event records an event about the pod, if the kubelet has a recorder.
func (w *podWorker) event(pod *corev1.Pod, typ, reason, format string, args ...any) {
	if w.k.cfg.Events == nil || pod == nil {
		return
	}
	w.k.cfg.Events.Eventf(pod, typ, reason, format, args...)
}
