package prober

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// Kind is the kind of a probe.
type Kind int

const (
	Liveness Kind = iota
	Readiness
	Startup
)

func (k Kind) String() string {
	switch k {
	case Liveness:
		return "Liveness"
	case Readiness:
		return "Readiness"
	case Startup:
		return "Startup"
	}
	return "Unknown"
}

// Update reports a change of a container's probe state:
//
//   - Kind Readiness: Ready(PodUID, ContainerName) changed: Result is
//     Success when the container is now ready, Failure when it no longer
//     is. Also sent when a container becomes ready because it has no
//     readiness probe (at AddContainer, or once its startup probe passed),
//     and with Failure when AddContainer replaces a ready instance.
//   - Kind Startup, Success: the startup probe passed (Started is now true).
//   - Kind Startup, Failure: the startup probe failed failureThreshold times
//     in a row; the container must be restarted (LivenessFailed is now true).
//   - Kind Liveness, Failure: the liveness probe failed failureThreshold
//     times in a row; the container must be restarted (LivenessFailed is
//     now true).
//
// Message is the last probe's output or failure reason.
type Update struct {
	PodUID, ContainerName, ContainerID string
	Kind                               Kind
	Result                             Result
	Message                            string
}

// updateBuffer is the capacity of the Updates channel. Updates beyond it
// queue inside the Manager (never dropped, never blocking a worker).
const updateBuffer = 64

// Manager runs the probes of the containers it is told about, with
// Kubernetes' semantics:
//
//   - Each probe of a container gets a worker goroutine. Its first run is
//     initialDelaySeconds after AddContainer (taken as the container's start),
//     then one every periodSeconds; each run is bounded by timeoutSeconds.
//   - A result counts once successThreshold (readiness only; 1 otherwise)
//     consecutive successes or failureThreshold consecutive failures are
//     seen. Runs that could not be made (Unknown, e.g. the runtime did not
//     answer) are ignored.
//   - A startup probe gates the others: liveness and readiness probes are
//     skipped until it has passed; it stops once it passed. When it fails
//     failureThreshold times the container counts as failed (LivenessFailed)
//     and its probes stop.
//   - A container is not ready until its readiness probe passes; without a
//     readiness probe it is ready as soon as it is started (startup passed).
//   - When the liveness probe reaches failureThreshold, LivenessFailed
//     reports it and the container's liveness probing is on hold until the
//     kubelet calls AddContainer with a new container ID (the restarted
//     container), which starts everything afresh.
//
// Probe results are delivered as Updates on one channel, in order per
// container, and the state is readable at any time with Ready, Started and
// LivenessFailed. All methods are safe for concurrent use.
type Manager struct {
	prober *Prober
	clock  clock.Clock
	log    *zap.Logger

	mu         sync.Mutex
	containers map[string]map[string]*container // pod UID → container name → state
	queue      []Update
	stopped    bool

	wake chan struct{} // signals the forwarder; capacity 1
	out  chan Update
	done chan struct{} // closed by Stop
	wg   sync.WaitGroup
}

// container is the probe state of one container instance.
type container struct {
	podUID, name, id string
	pod              *corev1.Pod
	spec             *corev1.Container
	podIP            string

	started        bool // startup probe passed (true without one)
	ready          bool
	failed         bool // liveness or startup reached failureThreshold
	failedMessage  string
	stop           chan struct{} // closed when this instance is replaced or removed
	readinessProbe bool
}

// NewManager returns a Manager that runs probes with p, times them with
// clock (clock.RealClock{} in production) and logs to log (nil: no logs).
func NewManager(p *Prober, clk clock.Clock, log *zap.Logger) *Manager {
	if log == nil {
		log = zap.NewNop()
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	m := &Manager{
		prober:     p,
		clock:      clk,
		log:        log,
		containers: map[string]map[string]*container{},
		wake:       make(chan struct{}, 1),
		out:        make(chan Update, updateBuffer),
		done:       make(chan struct{}),
	}
	m.wg.Add(1)
	go m.forward()
	return m
}

// Updates returns the channel of probe state changes (see Update). It is
// closed by Stop.
func (m *Manager) Updates() <-chan Update { return m.out }

// Stop ends every worker and closes the Updates channel; later calls of the
// other methods do nothing (the query methods still answer).
func (m *Manager) Stop() {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.stopped = true
	for _, cs := range m.containers {
		for _, c := range cs {
			close(c.stop)
		}
	}
	m.containers = map[string]map[string]*container{}
	close(m.done)
	m.mu.Unlock()
	m.wg.Wait()
}

// forward moves queued updates to the output channel.
func (m *Manager) forward() {
	defer m.wg.Done()
	defer close(m.out)
	for {
		m.mu.Lock()
		var u Update
		have := len(m.queue) > 0
		if have {
			u = m.queue[0]
			m.queue[0] = Update{}
			m.queue = m.queue[1:]
		}
		m.mu.Unlock()
		if !have {
			select {
			case <-m.wake:
				continue
			case <-m.done:
				return
			}
		}
		select {
		case m.out <- u:
		case <-m.done:
			return
		}
	}
}

// emitLocked queues an update; m.mu must be held.
func (m *Manager) emitLocked(c *container, kind Kind, result Result, msg string) {
	m.queue = append(m.queue, Update{PodUID: c.podUID, ContainerName: c.name, ContainerID: c.id, Kind: kind, Result: result, Message: msg})
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, c := range pod.GetSpec().GetContainers() {
		if c.GetName() == name {
			return c
		}
	}
	// Sidecars (init containers with restartPolicy Always) are probed too.
	for _, c := range pod.GetSpec().GetInitContainers() {
		if c.GetName() == name {
			return c
		}
	}
	return nil
}

// AddContainer starts probing container containerName of pod, whose running
// instance is containerID, at podIP. Call it for every container once it has
// started, with or without probes (Ready and Started answer false for
// containers never added). Calling it again with the same container ID only
// updates podIP; with another ID (the container was restarted) the old
// instance's workers stop and the new one starts from scratch: not ready,
// not started, liveness not failed.
func (m *Manager) AddContainer(pod *corev1.Pod, containerName, containerID, podIP string) {
	podUID := pod.GetMetadata().GetUid()
	spec := findContainer(pod, containerName)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return
	}
	if spec == nil {
		m.log.Warn("prober: container not in the pod spec", zap.String("podUID", podUID), zap.String("container", containerName))
		return
	}
	cs := m.containers[podUID]
	if cs == nil {
		cs = map[string]*container{}
		m.containers[podUID] = cs
	}
	old := cs[containerName]
	if old != nil {
		if old.id == containerID {
			old.podIP = podIP
			return
		}
		close(old.stop)
	}
	pod = proto.Clone(pod).(*corev1.Pod)
	spec = findContainer(pod, containerName)
	c := &container{
		podUID: podUID, name: containerName, id: containerID,
		pod: pod, spec: spec, podIP: podIP,
		started:        spec.GetStartupProbe() == nil,
		readinessProbe: spec.GetReadinessProbe() != nil,
		stop:           make(chan struct{}),
	}
	c.ready = c.started && !c.readinessProbe
	cs[containerName] = c
	if c.ready {
		m.emitLocked(c, Readiness, Success, "")
	} else if old != nil && old.ready {
		m.emitLocked(c, Readiness, Failure, "container restarted")
	}
	start := m.clock.Now()
	for _, w := range []struct {
		kind  Kind
		probe *corev1.Probe
	}{{Startup, spec.GetStartupProbe()}, {Liveness, spec.GetLivenessProbe()}, {Readiness, spec.GetReadinessProbe()}} {
		if w.probe == nil {
			continue
		}
		wk := &worker{m: m, c: c, kind: w.kind, probe: w.probe, start: start}
		m.wg.Add(1)
		go wk.run()
	}
}

// RemoveContainer stops probing a container and forgets its state.
func (m *Manager) RemoveContainer(podUID, containerName string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cs := m.containers[podUID]
	if c := cs[containerName]; c != nil {
		close(c.stop)
		delete(cs, containerName)
	}
	if len(cs) == 0 {
		delete(m.containers, podUID)
	}
}

// RemovePod stops probing every container of a pod and forgets them.
func (m *Manager) RemovePod(podUID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.containers[podUID] {
		close(c.stop)
	}
	delete(m.containers, podUID)
}

func (m *Manager) get(podUID, containerName string) *container {
	return m.containers[podUID][containerName]
}

// Ready reports whether the container is ready: started, and its readiness
// probe passed (or it has none). False for a container never added.
func (m *Manager) Ready(podUID, containerName string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.get(podUID, containerName)
	return c != nil && c.ready
}

// Started reports whether the container's startup probe passed (true when
// it has none). False for a container never added.
func (m *Manager) Started(podUID, containerName string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.get(podUID, containerName)
	return c != nil && c.started
}

// LivenessFailed reports whether the current instance of the container
// failed its liveness probe (or its startup probe) failureThreshold times
// in a row, and the last failure's message. The kubelet restarts such a
// container and calls AddContainer with the new ID, which clears this.
func (m *Manager) LivenessFailed(podUID, containerName string) (bool, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.get(podUID, containerName)
	if c == nil || !c.failed {
		return false, ""
	}
	return true, c.failedMessage
}

// worker runs one probe of one container instance.
type worker struct {
	m     *Manager
	c     *container
	kind  Kind
	probe *corev1.Probe
	start time.Time

	successes, failures int32
}

func (w *worker) period() time.Duration {
	if s := w.probe.GetPeriodSeconds(); s > 0 {
		return time.Duration(s) * time.Second
	}
	return 10 * time.Second
}

func (w *worker) successThreshold() int32 {
	if w.kind != Readiness {
		return 1 // liveness and startup must be 1, as validation requires
	}
	if s := w.probe.GetSuccessThreshold(); s > 0 {
		return s
	}
	return 1
}

func (w *worker) failureThreshold() int32 {
	if s := w.probe.GetFailureThreshold(); s > 0 {
		return s
	}
	return 3
}

func (w *worker) run() {
	defer w.m.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	clk := w.m.clock
	next := w.start.Add(time.Duration(w.probe.GetInitialDelaySeconds()) * time.Second)
	for {
		if d := next.Sub(clk.Now()); d > 0 {
			t := clk.NewTimer(d)
			select {
			case <-t.C():
			case <-w.c.stop:
				t.Stop()
				return
			}
		} else {
			select {
			case <-w.c.stop:
				return
			default:
			}
		}
		if !w.once(ctx) {
			return
		}
		next = clk.Now().Add(w.period())
	}
}

// once runs the probe once if it should run now and records the result; it
// returns false when the worker is done.
func (w *worker) once(ctx context.Context) bool {
	m, c := w.m, w.c
	m.mu.Lock()
	select {
	case <-c.stop:
		m.mu.Unlock()
		return false
	default:
	}
	switch {
	case c.failed && w.kind != Readiness:
		m.mu.Unlock()
		return false // on hold until the container is replaced
	case w.kind == Startup && c.started:
		m.mu.Unlock()
		return false
	case w.kind != Startup && !c.started:
		m.mu.Unlock()
		return true // gated by the startup probe
	}
	pod, spec, id, ip := c.pod, c.spec, c.id, c.podIP
	m.mu.Unlock()

	result, msg, err := m.prober.Probe(ctx, pod, spec, w.probe, id, ip)
	if err != nil || result == Unknown {
		if ctx.Err() == nil {
			m.log.Info("probe could not run", zap.String("kind", w.kind.String()), zap.String("podUID", c.podUID),
				zap.String("container", c.name), zap.Error(err))
		}
		return true
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-c.stop:
		return false
	default:
	}
	if result == Success {
		w.successes++
		w.failures = 0
	} else {
		w.failures++
		w.successes = 0
		m.log.Debug("probe failed", zap.String("kind", w.kind.String()), zap.String("podUID", c.podUID),
			zap.String("container", c.name), zap.Int32("failures", w.failures), zap.String("message", msg))
	}
	switch w.kind {
	case Readiness:
		if !c.ready && w.successes >= w.successThreshold() {
			c.ready = true
			m.emitLocked(c, Readiness, Success, msg)
		} else if c.ready && w.failures >= w.failureThreshold() {
			c.ready = false
			m.emitLocked(c, Readiness, Failure, msg)
		}
	case Liveness:
		if w.failures >= w.failureThreshold() {
			c.failed, c.failedMessage = true, "Liveness probe failed: "+msg
			m.emitLocked(c, Liveness, Failure, msg)
			return false
		}
	case Startup:
		if w.successes >= 1 {
			c.started = true
			m.emitLocked(c, Startup, Success, msg)
			if !c.readinessProbe {
				c.ready = true
				m.emitLocked(c, Readiness, Success, "")
			}
			return false
		}
		if w.failures >= w.failureThreshold() {
			c.failed, c.failedMessage = true, "Startup probe failed: "+msg
			m.emitLocked(c, Startup, Failure, msg)
			return false
		}
	}
	return true
}
