// Package scheduler is keel-scheduler: it watches pods and nodes, and binds
// each pending pod to the best feasible node.
//
// Structure. One goroutine, the scheduling loop, owns the cache (nodes and
// placed pods), the queue and the nominations. Informer handlers do not
// touch them: they parse each object into a framework.PodInfo (on the
// informer's goroutine) and append the change to an inbox that the loop
// drains between cycles. A cycle is the framework's pure function of the
// cache (read-only during the cycle) and the pod to a Decision; the loop
// then performs its effects: it assumes the pod on the chosen node in the
// cache at once (so the next cycle sees it) and binds it on a separate
// goroutine, whose outcome comes back through the inbox (a failed binding
// forgets the assumption and re-queues the pod with back-off); or it parks
// the pod, records a FailedScheduling event and writes the PodScheduled=
// False condition (reason Unschedulable) on a status-writer goroutine; or,
// for a preemption, it nominates the node, deletes the victims gracefully
// and writes status.nominatedNodeName.
//
// Only pods with spec.schedulerName equal to Config.SchedulerName, no
// spec.nodeName and no deletionTimestamp are scheduled.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/scheduler/cache"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/scheduler/metrics"
	"keel.dev/keel/pkg/scheduler/plugins"
	"keel.dev/keel/pkg/scheduler/queue"
)

// DefaultSchedulerName is the spec.schedulerName pods get by default.
const DefaultSchedulerName = api.DefaultSchedulerName

// API is the scheduler's I/O seam to the apiserver.
type API interface {
	Bind(ctx context.Context, pod *corev1.Pod, node string) error
	GetPod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	UpdatePodStatus(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error)
	// DeletePod deletes a pod gracefully (its own grace period), if it
	// still has the same uid.
	DeletePod(ctx context.Context, pod *corev1.Pod) error
	// UpdateClaim updates a PersistentVolumeClaim (VolumeBinding's
	// selected-node annotation), carrying its resourceVersion.
	UpdateClaim(ctx context.Context, claim *corev1.PersistentVolumeClaim) error
}

// ClientAPI is API over a client.
func ClientAPI(c *client.Client) API { return clientAPI{c} }

type clientAPI struct{ c *client.Client }

func (a clientAPI) Bind(ctx context.Context, pod *corev1.Pod, node string) error {
	m := pod.GetMetadata()
	_, err := a.c.Pods(m.GetNamespace()).Bind(ctx, m.GetName(), node, m.GetUid())
	return err
}

func (a clientAPI) GetPod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	return a.c.Pods(ns).Get(ctx, name)
}

func (a clientAPI) UpdatePodStatus(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	return a.c.Pods(pod.GetMetadata().GetNamespace()).UpdateStatus(ctx, pod, client.UpdateOptions{})
}

func (a clientAPI) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	m := pod.GetMetadata()
	_, _, err := a.c.Pods(m.GetNamespace()).Delete(ctx, m.GetName(), client.DeleteOptions{Preconditions: &client.Preconditions{UID: m.GetUid()}})
	return err
}

func (a clientAPI) UpdateClaim(ctx context.Context, claim *corev1.PersistentVolumeClaim) error {
	_, err := client.For[*corev1.PersistentVolumeClaim](a.c, claim.GetMetadata().GetNamespace()).Update(ctx, claim, client.UpdateOptions{})
	return err
}

// DefaultBindConcurrency is the default bound on bindings in flight. It
// stays below the apiserver's seats for the scheduler (priority level
// workload-high: 118 of the default 600), so that a backlog waits here, at
// the apiserver's pace, rather than in the apiserver's bounded queue, whose
// overflow is refused and retried after a hint (a third fewer binds per
// second with 256 in flight in sched-backlog-100).
const DefaultBindConcurrency = 100

// Config configures a Scheduler.
type Config struct {
	// Informers is the process's informer factory; the scheduler asks it
	// for pods, nodes and namespaces. The caller starts it.
	Informers *informer.Factory
	// API performs the scheduler's writes (ClientAPI).
	API API
	// Recorder records events (nil: none).
	Recorder record.EventRecorder
	// SchedulerName selects the pods to schedule (default
	// "default-scheduler").
	SchedulerName string
	// Plugins to run (default plugins.DefaultPlugins()).
	Plugins []framework.PluginConfig
	// Parallelism bounds the goroutines of one cycle (default 16).
	Parallelism int
	// PercentageOfNodesToScore: see framework.Options (0: adaptive).
	PercentageOfNodesToScore int32
	// Queue timing (defaults 1s, 10s, 60s).
	InitialBackoff, MaxBackoff, MaxInUnschedulable time.Duration
	// BindConcurrency bounds bindings in flight (default
	// DefaultBindConcurrency); the loop waits when they are all busy.
	BindConcurrency int
	// BindTimeout bounds one bind call (default 30s).
	BindTimeout time.Duration
	// ScheduledEvents records a Normal "Scheduled" event for every bound
	// pod, as Kubernetes does.
	ScheduledEvents bool
	// Clock drives the queue (default: real).
	Clock clock.WithTicker
	// Rand breaks ties (default: random seed).
	Rand *rand.Rand
	// Metrics (default: unregistered).
	Metrics *metrics.Metrics
	Logger  *zap.Logger
}

// Scheduler is one scheduler. Create it with New, run it with Run.
type Scheduler struct {
	cfg     Config
	log     *zap.Logger
	clock   clock.WithTicker
	metrics *metrics.Metrics

	pods       *informer.Informer[*corev1.Pod]
	nodes      *informer.Informer[*corev1.Node]
	namespaces *informer.Informer[*corev1.Namespace]
	claims     *informer.Informer[*corev1.PersistentVolumeClaim]
	volumes    *informer.Informer[*corev1.PersistentVolume]
	classes    *informer.Informer[*storagev1.StorageClass]
	csiNodes   *informer.Informer[*storagev1.CSINode]

	// Owned by the loop.
	fwk       *framework.Framework
	cache     *cache.Cache
	queue     *queue.Queue
	nominator *nominator

	inbox   inbox
	bindSem chan struct{}
	io      sync.WaitGroup // bindings, deletions
	status  *statusWriter
	running atomic.Bool
	ready   atomic.Bool
	gen     atomic.Uint64 // runs so far
	stats   loopStats
}

type loopStats struct {
	cycles, scheduled, unschedulable, errors atomic.Int64
}

// New builds a scheduler; nothing runs until Run.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Informers == nil || cfg.API == nil {
		return nil, errors.New("scheduler: Informers and API are required")
	}
	if cfg.SchedulerName == "" {
		cfg.SchedulerName = DefaultSchedulerName
	}
	if cfg.Plugins == nil {
		cfg.Plugins = plugins.DefaultPlugins()
	}
	if cfg.BindConcurrency <= 0 {
		cfg.BindConcurrency = DefaultBindConcurrency
	}
	if cfg.BindTimeout <= 0 {
		cfg.BindTimeout = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	s := &Scheduler{
		cfg:        cfg,
		log:        cfg.Logger,
		clock:      cfg.Clock,
		metrics:    cfg.Metrics,
		pods:       cfg.Informers.Pods(),
		nodes:      cfg.Informers.Nodes(),
		namespaces: cfg.Informers.Namespaces(),
		claims:     informer.For[*corev1.PersistentVolumeClaim](cfg.Informers),
		volumes:    informer.For[*corev1.PersistentVolume](cfg.Informers),
		classes:    informer.For[*storagev1.StorageClass](cfg.Informers),
		csiNodes:   informer.For[*storagev1.CSINode](cfg.Informers),
		bindSem:    make(chan struct{}, cfg.BindConcurrency),
	}
	s.inbox.wake = make(chan struct{}, 1)
	s.status = newStatusWriter(cfg.API, s.pods.Store(), s.log)
	if err := s.reset(); err != nil {
		return nil, err
	}
	return s, nil
}

// reset makes a fresh cache, queue and framework (each Run starts from
// the informers' current state).
func (s *Scheduler) reset() error {
	s.cache = cache.New()
	s.nominator = newNominator()
	reg := plugins.NewRegistry(plugins.Deps{
		Bind: func(ctx context.Context, pod *framework.PodInfo, node string) error {
			return s.cfg.API.Bind(ctx, pod.Pod, node)
		},
		Storage:     storageStores{s.claims.Store(), s.volumes.Store(), s.classes.Store(), s.csiNodes.Store()},
		UpdateClaim: s.cfg.API.UpdateClaim,
	})
	fwk, err := framework.New(framework.Options{
		Registry:                 reg,
		Plugins:                  s.cfg.Plugins,
		Snapshot:                 s.cache,
		Nominator:                s.nominator,
		Parallelism:              s.cfg.Parallelism,
		PercentageOfNodesToScore: s.cfg.PercentageOfNodesToScore,
		Rand:                     s.cfg.Rand,
	})
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	s.fwk = fwk
	s.queue = queue.New(queue.Config{
		Clock:              s.clock,
		InitialBackoff:     s.cfg.InitialBackoff,
		MaxBackoff:         s.cfg.MaxBackoff,
		MaxInUnschedulable: s.cfg.MaxInUnschedulable,
		Events:             fwk.EventsToRegister(),
	})
	return nil
}

// ValidatePlugins builds the plugins of ps (with their arguments) without
// running anything, so a daemon can refuse a bad configuration before it
// connects anywhere.
func ValidatePlugins(ps []framework.PluginConfig) error {
	reg := plugins.NewRegistry(plugins.Deps{
		Bind:        func(context.Context, *framework.PodInfo, string) error { return nil },
		Storage:     &plugins.StaticStorage{},
		UpdateClaim: func(context.Context, *corev1.PersistentVolumeClaim) error { return nil },
	})
	_, err := framework.New(framework.Options{Registry: reg, Plugins: ps, Snapshot: framework.NewStaticSnapshot(nil, nil)})
	return err
}

// Ready reports whether Run has loaded the cluster's state and schedules.
func (s *Scheduler) Ready() bool { return s.ready.Load() }

// Run schedules until ctx ends: it registers its informer handlers (the
// factory must be started), waits until they have delivered the cluster's
// current state, then runs the scheduling loop. Bindings in flight are
// cancelled and waited for before it returns. A Scheduler runs once at a
// time; after Run returns it may run again (for example when leadership
// is regained), starting from a fresh cache.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("scheduler: already running")
	}
	defer s.running.Store(false)
	// Each run starts from a fresh cache and queue, filled by the
	// handlers' replay of the informers' contents; events of an earlier
	// run (a late handler call, a binding's outcome) are ignored.
	gen := s.gen.Add(1)
	if gen > 1 {
		if err := s.reset(); err != nil {
			return err
		}
		s.inbox.take()
	}
	push := func(e event) {
		e.gen = gen
		s.inbox.push(e)
	}
	regs := []informer.Registration{
		s.pods.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
			AddFunc:    func(p *corev1.Pod) { push(event{kind: podAdd, pod: framework.NewPodInfo(p)}) },
			UpdateFunc: func(o, n *corev1.Pod) { push(event{kind: podUpdate, old: o, pod: framework.NewPodInfo(n)}) },
			DeleteFunc: func(p *corev1.Pod) { push(event{kind: podDelete, pod: framework.NewPodInfo(p)}) },
		}),
		s.nodes.AddEventHandler(informer.HandlerFuncs[*corev1.Node]{
			AddFunc:    func(n *corev1.Node) { push(event{kind: nodeAdd, node: n}) },
			UpdateFunc: func(o, n *corev1.Node) { push(event{kind: nodeUpdate, oldNode: o, node: n}) },
			DeleteFunc: func(n *corev1.Node) { push(event{kind: nodeDelete, node: n}) },
		}),
		s.namespaces.AddEventHandler(informer.HandlerFuncs[*corev1.Namespace]{
			AddFunc:    func(n *corev1.Namespace) { push(event{kind: nsSet, ns: n}) },
			UpdateFunc: func(_, n *corev1.Namespace) { push(event{kind: nsSet, ns: n}) },
			DeleteFunc: func(n *corev1.Namespace) { push(event{kind: nsDelete, ns: n}) },
		}),
	}
	storageRegs := s.registerStorage(push)
	defer func() {
		s.pods.RemoveEventHandler(regs[0])
		s.nodes.RemoveEventHandler(regs[1])
		s.namespaces.RemoveEventHandler(regs[2])
		s.claims.RemoveEventHandler(storageRegs[0])
		s.volumes.RemoveEventHandler(storageRegs[1])
		s.classes.RemoveEventHandler(storageRegs[2])
		s.csiNodes.RemoveEventHandler(storageRegs[3])
	}()
	regs = append(regs, storageRegs...)
	synced := make([]func() bool, len(regs))
	for i, r := range regs {
		synced[i] = r.HasSynced
	}
	if !informer.WaitForCacheSync(ctx, synced...) {
		return ctx.Err()
	}
	statusCtx, stopStatus := context.WithCancel(context.Background())
	statusDone := make(chan struct{})
	go func() { defer close(statusDone); s.status.run(statusCtx) }()
	s.log.Info("scheduling", zap.String("schedulerName", s.cfg.SchedulerName))
	s.drain(ctx)
	s.ready.Store(true)
	s.loop(ctx)
	s.ready.Store(false)
	s.io.Wait()
	// Let the status writer finish what it has (bounded), then stop it.
	wctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	s.status.flush(wctx)
	cancel()
	stopStatus()
	<-statusDone
	return nil
}

func (s *Scheduler) loop(ctx context.Context) {
	for ctx.Err() == nil {
		s.drain(ctx)
		s.queue.Flush()
		s.metrics.SetPending(s.queue.Len())
		qp := s.queue.Pop()
		if qp == nil {
			s.wait(ctx)
			continue
		}
		s.scheduleOne(ctx, qp)
	}
}

// wait blocks until the inbox has something, the queue's next wake-up, or
// ctx ends.
func (s *Scheduler) wait(ctx context.Context) {
	var timerC <-chan time.Time
	if t, ok := s.queue.NextWakeup(); ok {
		d := t.Sub(s.clock.Now())
		if d <= 0 {
			return
		}
		timer := s.clock.NewTimer(d)
		defer timer.Stop()
		timerC = timer.C()
	}
	select {
	case <-ctx.Done():
	case <-s.inbox.wake:
	case <-timerC:
	}
}

// scheduleOne runs one cycle for qp and carries out its decision.
func (s *Scheduler) scheduleOne(ctx context.Context, qp *queue.QueuedPodInfo) {
	pi := qp.PodInfo
	if s.cache.Has(pi.UID) {
		return // already placed (a stale queue entry)
	}
	s.stats.cycles.Add(1)
	s.cache.Prepare()
	start := time.Now()
	d := s.fwk.Schedule(ctx, pi)
	s.metrics.Algorithm.Observe(time.Since(start).Seconds())
	switch {
	case d.Err != nil:
		s.metrics.Attempts.WithLabelValues(metrics.Error).Inc()
		s.stats.errors.Add(1)
		s.log.Warn("scheduling failed", zap.String("pod", pi.Key), zap.Error(d.Err))
		s.failed(qp, api.PodReasonSchedulerError, d.Err.Error(), true)
	case d.FitError != nil:
		s.metrics.Attempts.WithLabelValues(metrics.Unschedulable).Inc()
		s.stats.unschedulable.Add(1)
		qp.UnschedulablePlugins = d.FitError.Diagnosis.UnschedulablePlugins
		msg := d.FitError.Error()
		s.log.Debug("unschedulable", zap.String("pod", pi.Key), zap.String("reason", msg))
		if d.Preemption != nil {
			s.preempt(ctx, pi, d.Preemption)
		}
		s.failed(qp, api.PodReasonUnschedulable, msg, false)
	default:
		s.assumeAndBind(ctx, qp, d)
	}
}

// failed parks (or backs off) a pod that was not placed, records a
// FailedScheduling event and sets its PodScheduled condition.
func (s *Scheduler) failed(qp *queue.QueuedPodInfo, reason, msg string, backoff bool) {
	s.queue.AddUnschedulable(qp, backoff)
	if s.cfg.Recorder != nil {
		s.cfg.Recorder.Eventf(qp.Pod, record.Warning, "FailedScheduling", "%s", msg)
	}
	s.status.setCondition(qp.PodInfo, reason, msg)
}

func (s *Scheduler) assumeAndBind(ctx context.Context, qp *queue.QueuedPodInfo, d framework.Decision) {
	pi, node := qp.PodInfo, d.Node
	if err := s.cache.AssumePod(pi, node); err != nil {
		s.metrics.Attempts.WithLabelValues(metrics.Error).Inc()
		s.failed(qp, api.PodReasonSchedulerError, err.Error(), true)
		return
	}
	if st := s.fwk.RunReserve(ctx, d.State, pi, node); !st.IsSuccess() {
		s.cache.ForgetPod(pi.UID)
		s.metrics.Attempts.WithLabelValues(metrics.Error).Inc()
		s.failed(qp, api.PodReasonSchedulerError, "reserve: "+st.Message(), true)
		return
	}
	s.nominator.delete(pi.UID)
	select {
	case s.bindSem <- struct{}{}:
	case <-ctx.Done():
		s.cache.ForgetPod(pi.UID)
		return
	}
	gen := s.gen.Load()
	s.io.Add(1)
	go func() {
		defer s.io.Done()
		defer func() { <-s.bindSem }()
		start := time.Now()
		// PreBind bounds its own waits (VolumeBinding's bindTimeoutSeconds).
		st := s.fwk.RunPreBind(ctx, d.State, pi, node)
		if st.IsSuccess() {
			bctx, cancel := context.WithTimeout(ctx, s.cfg.BindTimeout)
			st = s.fwk.RunBind(bctx, d.State, pi, node)
			cancel()
		}
		s.metrics.Binding.Observe(time.Since(start).Seconds())
		s.inbox.push(event{kind: bindDone, gen: gen, bind: &bindResult{qp: qp, node: node, state: d.State, err: st.AsError()}})
	}()
}

// bound handles a binding's outcome.
func (s *Scheduler) bound(ctx context.Context, b *bindResult) {
	pi := b.qp.PodInfo
	if b.err == nil {
		s.metrics.Attempts.WithLabelValues(metrics.Scheduled).Inc()
		s.metrics.E2E.Observe(s.clock.Since(b.qp.InitialAttemptTimestamp).Seconds())
		s.stats.scheduled.Add(1)
		if s.cfg.ScheduledEvents && s.cfg.Recorder != nil {
			s.cfg.Recorder.Eventf(pi.Pod, record.Normal, "Scheduled", "Successfully assigned %s to %s", pi.Key, b.node)
		}
		return
	}
	s.metrics.Attempts.WithLabelValues(metrics.Error).Inc()
	s.stats.errors.Add(1)
	s.fwk.RunUnreserve(ctx, b.state, pi, b.node)
	s.cache.ForgetPod(pi.UID)
	// Re-queue only a pod that is still pending: not bound meanwhile (by
	// us, with a lost answer, or by someone else), not deleted.
	latest, ok := s.pods.Store().GetByName(pi.Namespace, pi.Name)
	if !ok || latest.GetMetadata().GetUid() != pi.UID || latest.GetSpec().GetNodeName() != "" ||
		latest.GetMetadata().GetDeletionTimestamp() != nil || s.cache.Has(pi.UID) {
		return
	}
	s.log.Info("binding failed; retrying", zap.String("pod", pi.Key), zap.String("node", b.node), zap.Error(b.err))
	if latest.GetMetadata().GetResourceVersion() != pi.Pod.GetMetadata().GetResourceVersion() {
		b.qp.PodInfo = framework.NewPodInfo(latest)
	}
	if ctx.Err() != nil {
		return
	}
	if s.cfg.Recorder != nil && !apierrors.IsConflict(b.err) {
		s.cfg.Recorder.Eventf(pi.Pod, record.Warning, "FailedScheduling", "Binding rejected: %v", b.err)
	}
	s.queue.Requeue(b.qp)
}

// preempt carries out a preemption decision: it nominates the node for the
// pod (lower-priority pods nominated there lose their nomination), deletes
// the victims gracefully and records events.
func (s *Scheduler) preempt(ctx context.Context, pi *framework.PodInfo, r *framework.PostFilterResult) {
	node := r.NominatedNodeName
	for _, np := range s.nominator.NominatedPodsForNode(node) {
		if np.UID != pi.UID && np.Priority < pi.Priority {
			s.nominator.delete(np.UID)
			s.status.setNomination(np, "")
		}
	}
	s.nominator.add(pi, node)
	s.status.setNomination(pi, node)
	s.metrics.PreemptionAttempts.Inc()
	s.metrics.Victims.Observe(float64(len(r.Victims)))
	s.log.Info("preempting", zap.String("pod", pi.Key), zap.String("node", node), zap.Int("victims", len(r.Victims)))
	for _, v := range r.Victims {
		if s.cfg.Recorder != nil {
			s.cfg.Recorder.Eventf(v.Pod, record.Normal, "Preempted", "Preempted by pod %s (priority %d) on node %s", pi.Key, pi.Priority, node)
		}
		if v.Terminating {
			continue
		}
		victim := v.Pod
		s.io.Add(1)
		go func() {
			defer s.io.Done()
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := s.cfg.API.DeletePod(dctx, victim); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				s.log.Warn("deleting a preemption victim failed", zap.String("pod", victim.GetMetadata().GetNamespace()+"/"+victim.GetMetadata().GetName()), zap.Error(err))
			}
		}()
	}
}

// Stats are counters for tests and debugging.
type Stats struct {
	Cycles, Scheduled, Unschedulable, Errors int64
}

// Stats returns the scheduler's counters.
func (s *Scheduler) Stats() Stats {
	return Stats{Cycles: s.stats.cycles.Load(), Scheduled: s.stats.scheduled.Load(), Unschedulable: s.stats.unschedulable.Load(), Errors: s.stats.errors.Load()}
}

// podChanged reports whether an update of a pending pod may change where
// it fits (anything but its status and bookkeeping metadata).
func podChanged(old, new *corev1.Pod) bool {
	if old == nil {
		return true
	}
	om, nm := old.GetMetadata(), new.GetMetadata()
	if !equalMaps(om.GetLabels(), nm.GetLabels()) {
		return true
	}
	return !proto.Equal(old.GetSpec(), new.GetSpec())
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
