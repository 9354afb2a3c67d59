package podsync

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// Waiting reasons, as Kubernetes reports them.
const (
	ReasonContainerCreating  = "ContainerCreating"
	ReasonPodInitializing    = "PodInitializing"
	ReasonCrashLoopBackOff   = "CrashLoopBackOff"
	ReasonErrImagePull       = "ErrImagePull"
	ReasonImagePullBackOff   = "ImagePullBackOff"
	ReasonErrImageNeverPull  = "ErrImageNeverPull"
	ReasonCreateContainerErr = "CreateContainerError"
	// ReasonCreateContainerConfigError: the container's env or volumes
	// name a ConfigMap or Secret (or key) that cannot be read.
	ReasonCreateContainerConfigError = "CreateContainerConfigError"
	ReasonRunContainerError          = "RunContainerError"
	ReasonDeadlineExceeded           = "DeadlineExceeded"
)

// Hash returns the hash of a container spec that StartContainer records on
// the instance (Container.Hash): a running instance whose hash differs from
// its spec's (the pod's image was changed) is restarted.
func Hash(c *corev1.Container) string {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return ""
	}
	h := fnv.New64a()
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// Compute is the pod sync: see the package doc. It never modifies its input.
func Compute(in Input) Plan {
	s := newSyncer(in)
	if in.Pod == nil || in.Deleted {
		return s.terminate(s.orphanGrace(), "pod deleted", false)
	}
	if in.Pod.GetMetadata().GetDeletionTimestamp() != nil {
		s.evaluate(false)
		st := s.status()
		plan := s.terminate(deletionGrace(in.Pod), "pod is being deleted", true)
		if !plan.Done {
			plan.Status = st
		}
		return plan
	}
	return s.sync()
}

// syncer holds one Compute call's derived views of its input.
type syncer struct {
	in   Input
	cfg  Config
	pod  *corev1.Pod
	spec *corev1.PodSpec
	now  time.Time

	sandbox *Sandbox                // the newest sandbox, nil if none
	byName  map[string][]*Container // every instance by name, newest first

	// Results of evaluate.
	starts      []Action // CreateSandbox and StartContainer actions
	kills       []Action
	waiting     map[string]*corev1.ContainerStateWaiting
	initDone    bool
	initFailed  bool // an init container failed and will not be restarted
	newSandbox  bool
	requeueAt   time.Time
	deadlineHit bool
}

func newSyncer(in Input) *syncer {
	s := &syncer{in: in, cfg: in.Config, pod: in.Pod, spec: in.Pod.GetSpec(), now: in.Now,
		byName: map[string][]*Container{}, waiting: map[string]*corev1.ContainerStateWaiting{}}
	if s.spec == nil {
		s.spec = &corev1.PodSpec{}
	}
	for i := range in.Runtime.Sandboxes {
		sb := &in.Runtime.Sandboxes[i]
		if s.sandbox == nil || newerSandbox(sb, s.sandbox) {
			s.sandbox = sb
		}
	}
	for i := range in.Runtime.Containers {
		c := &in.Runtime.Containers[i]
		s.byName[c.Name] = append(s.byName[c.Name], c)
	}
	for _, list := range s.byName {
		sort.Slice(list, func(i, j int) bool { return newerContainer(list[i], list[j]) })
	}
	return s
}

func newerSandbox(a, b *Sandbox) bool {
	if a.Attempt != b.Attempt {
		return a.Attempt > b.Attempt
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

func newerContainer(a, b *Container) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	if a.Attempt != b.Attempt {
		return a.Attempt > b.Attempt
	}
	return a.ID > b.ID
}

func (s *syncer) requeue(at time.Time) {
	if !at.After(s.now) {
		return
	}
	if s.requeueAt.IsZero() || at.Before(s.requeueAt) {
		s.requeueAt = at
	}
}

func (s *syncer) plan() Plan {
	p := Plan{}
	if !s.requeueAt.IsZero() {
		p.RequeueAfter = s.requeueAt.Sub(s.now)
	}
	return p
}

// current returns the newest instance of name in the current sandbox.
func (s *syncer) current(name string) *Container {
	if s.sandbox == nil {
		return nil
	}
	for _, c := range s.byName[name] {
		if c.SandboxID == s.sandbox.ID {
			return c
		}
	}
	return nil
}

// latest returns the newest instance of name in any sandbox.
func (s *syncer) latest(name string) *Container {
	if l := s.byName[name]; len(l) > 0 {
		return l[0]
	}
	return nil
}

// prevStatus returns the previous status of a container, if any.
func (s *syncer) prevStatus(name string, init bool) *corev1.ContainerStatus {
	list := s.in.Previous.GetContainerStatuses()
	if init {
		list = s.in.Previous.GetInitContainerStatuses()
	}
	for _, cs := range list {
		if cs.GetName() == name {
			return cs
		}
	}
	return nil
}

// nextAttempt is the restart count of a new instance of a container.
func (s *syncer) nextAttempt(name string, init bool) uint32 {
	if l := s.latest(name); l != nil {
		return l.Attempt + 1
	}
	// The instances are gone (the runtime lost them): continue the count
	// the API shows.
	if ps := s.prevStatus(name, init); ps != nil && (ps.GetState().GetRunning() != nil || ps.GetState().GetTerminated() != nil || ps.GetLastState().GetTerminated() != nil) {
		return uint32(ps.GetRestartCount()) + 1
	}
	return 0
}

func deletionGrace(pod *corev1.Pod) time.Duration {
	if g := pod.GetMetadata().DeletionGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return TerminationGrace(pod)
}

// TerminationGrace is the pod's terminationGracePeriodSeconds (Kubernetes'
// default when unset): the time a container is given to stop, preStop hook
// included, when the kubelet kills it outside a deletion.
func TerminationGrace(pod *corev1.Pod) time.Duration {
	if g := pod.GetSpec().TerminationGracePeriodSeconds; g != nil {
		return time.Duration(*g) * time.Second
	}
	return api.DefaultTerminationGracePeriodSeconds * time.Second
}

func (s *syncer) orphanGrace() time.Duration {
	if s.pod != nil {
		// Gone from the API: force-deleted, or removed after its graceful
		// deletion ran out; either way no grace is left, whatever grace
		// period the last state the kubelet saw carried (a terminating
		// pod force-deleted is last seen with its longer one).
		return 0
	}
	return s.cfg.OrphanGrace
}

// killPod plans stopping everything that runs, or nil when nothing does.
func (s *syncer) killPod(grace time.Duration, reason string) *KillPod {
	kp := &KillPod{Reason: reason}
	for _, list := range s.byName {
		for _, c := range list {
			if c.State == StateRunning || c.State == StateUnknown {
				kp.Containers = append(kp.Containers, KillContainer{ID: c.ID, Name: c.Name, Grace: grace, Reason: reason})
			}
		}
	}
	sort.Slice(kp.Containers, func(i, j int) bool { return kp.Containers[i].Name < kp.Containers[j].Name })
	for _, sb := range s.in.Runtime.Sandboxes {
		if sb.Ready {
			kp.Sandboxes = append(kp.Sandboxes, sb.ID)
		}
	}
	sort.Strings(kp.Sandboxes)
	if len(kp.Containers) == 0 && len(kp.Sandboxes) == 0 {
		return nil
	}
	return kp
}

// terminate stops everything, then cleans up (and deletes the pod from the
// API when deleteFromAPI).
func (s *syncer) terminate(grace time.Duration, reason string, deleteFromAPI bool) Plan {
	p := s.plan()
	if kp := s.killPod(grace, reason); kp != nil {
		p.Actions = []Action{*kp}
		return p
	}
	p.Actions = []Action{CleanupPod{}}
	if deleteFromAPI {
		p.Actions = append(p.Actions, DeletePod{})
	}
	p.Done = true
	p.RequeueAfter = 0
	return p
}

func (s *syncer) terminalBefore() bool {
	return api.IsPhaseTerminal(s.in.Previous.GetPhase())
}

// sync is the sync of a live pod.
func (s *syncer) sync() Plan {
	// activeDeadlineSeconds counts from the pod's start on this node.
	if d := s.spec.ActiveDeadlineSeconds; d != nil && !s.terminalBefore() {
		start := s.startTime()
		deadline := start.Add(time.Duration(*d) * time.Second)
		if !s.now.Before(deadline) {
			s.deadlineHit = true
		} else {
			s.requeue(deadline)
		}
	}
	terminal := s.terminalBefore() || s.deadlineHit
	s.evaluate(!terminal)
	st := s.status()
	p := s.plan()
	p.Status = st
	if api.IsPhaseTerminal(st.Phase) {
		// Nothing more runs: stop what is left and release the network;
		// the containers stay for their logs until the pod is deleted.
		if kp := s.killPod(TerminationGrace(s.pod), "pod "+st.Phase); kp != nil {
			p.Actions = append(p.Actions, *kp)
		}
		p.RequeueAfter = 0
		return p
	}
	p.Actions = append(p.Actions, s.kills...)
	p.Actions = append(p.Actions, s.starts...)
	if !s.newSandbox {
		p.Actions = append(p.Actions, s.garbage()...)
	}
	return p
}

// evaluate walks the sandbox, the init containers and the app containers,
// planning starts and kills (only when allowStart) and recording the
// waiting state each container is in.
func (s *syncer) evaluate(allowStart bool) {
	sb := s.sandbox
	if sb == nil || !sb.Ready {
		s.initDone = len(s.spec.InitContainers) == 0
		if !allowStart {
			return
		}
		if sb != nil && s.spec.RestartPolicy == api.RestartPolicyNever && s.anyRan() {
			// A pod that never restarts does not get a new sandbox: its
			// containers died with the old one.
			return
		}
		reason := ""
		if sb != nil {
			reason = "the sandbox is not ready"
			if kp := s.killPod(TerminationGrace(s.pod), "the sandbox is not ready"); kp != nil {
				s.kills = append(s.kills, *kp)
			}
		}
		var attempt uint32
		if sb != nil {
			attempt = sb.Attempt + 1
		}
		s.newSandbox = true
		s.starts = append(s.starts, CreateSandbox{Attempt: attempt, Reason: reason})
		if len(s.spec.InitContainers) > 0 {
			s.startOrWait(s.spec.InitContainers[0], true, nil, s.nextAttempt(s.spec.InitContainers[0].Name, true))
			return
		}
		for _, c := range s.spec.Containers {
			s.startOrWait(c, false, nil, s.nextAttempt(c.Name, false))
		}
		return
	}

	// Init containers, in order, each to a successful exit. Once an app
	// container exists in this sandbox they are done (they may have been
	// removed since).
	s.initDone = true
	anyApp := false
	for _, c := range s.spec.Containers {
		if s.current(c.Name) != nil {
			anyApp = true
			break
		}
	}
	if !anyApp {
		for _, ic := range s.spec.InitContainers {
			inst := s.current(ic.Name)
			if inst != nil && inst.State == StateExited && inst.ExitCode == 0 {
				continue
			}
			s.initDone = false
			switch {
			case inst == nil:
				if allowStart {
					s.startOrWait(ic, true, nil, s.nextAttempt(ic.Name, true))
				}
			case inst.State == StateCreated:
				if allowStart {
					s.kills = append(s.kills, RemoveContainer{ID: inst.ID, Name: inst.Name})
					s.startOrWait(ic, true, nil, inst.Attempt)
				}
			case inst.State == StateExited:
				if s.spec.RestartPolicy == api.RestartPolicyNever {
					s.initFailed = true
				} else if allowStart {
					s.startOrWait(ic, true, inst, inst.Attempt+1)
				}
			}
			break
		}
	}
	if !s.initDone {
		return
	}

	for _, c := range s.spec.Containers {
		inst := s.current(c.Name)
		switch {
		case inst == nil:
			if allowStart {
				s.startOrWait(c, false, nil, s.nextAttempt(c.Name, false))
			}
		case inst.State == StateCreated:
			if allowStart {
				s.kills = append(s.kills, RemoveContainer{ID: inst.ID, Name: inst.Name})
				s.startOrWait(c, false, nil, inst.Attempt)
			}
		case inst.State == StateRunning:
			if !allowStart {
				continue
			}
			if inst.Hash != "" && inst.Hash != Hash(c) {
				s.kills = append(s.kills, KillContainer{ID: inst.ID, Name: c.Name, Grace: TerminationGrace(s.pod),
					Reason: "SpecChanged", Message: "Container " + c.Name + " definition changed, will be restarted"})
			} else if pr := s.in.Probes[inst.ID]; pr.Failed {
				s.kills = append(s.kills, KillContainer{ID: inst.ID, Name: c.Name, Grace: probeGrace(s.pod, c),
					Reason: "Unhealthy", Message: "Container " + c.Name + " failed liveness probe, will be restarted: " + pr.Message})
			}
		case inst.State == StateExited:
			if allowStart && shouldRestart(s.spec.RestartPolicy, inst.ExitCode) {
				s.startOrWait(c, false, inst, inst.Attempt+1)
			}
		}
	}
}

// probeGrace is the grace period of a container killed by its probe.
func probeGrace(pod *corev1.Pod, c *corev1.Container) time.Duration {
	if lp := c.GetLivenessProbe(); lp != nil && lp.TerminationGracePeriodSeconds != nil {
		return time.Duration(lp.GetTerminationGracePeriodSeconds()) * time.Second
	}
	return TerminationGrace(pod)
}

func shouldRestart(policy string, exitCode int32) bool {
	switch policy {
	case api.RestartPolicyNever:
		return false
	case api.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

func (s *syncer) anyRan() bool {
	for _, list := range s.byName {
		if len(list) > 0 {
			return true
		}
	}
	return false
}

// startOrWait plans a start of c (a restart of the exited instance prev,
// when not nil) unless a back-off or the image holds it; then it records
// why c waits.
func (s *syncer) startOrWait(c *corev1.Container, init bool, prev *Container, attempt uint32) {
	var next *BackoffEntry
	if prev != nil {
		entry, ok := s.in.Backoff[c.Name]
		ran := prev.FinishedAt.Sub(prev.StartedAt)
		switch {
		case !ok || ran >= s.cfg.BackoffReset:
			// The first restart, or one after a long run: at once.
			next = &BackoffEntry{Delay: s.cfg.BackoffInitial, LastExit: prev.FinishedAt}
		default:
			readyAt := prev.FinishedAt.Add(entry.Delay)
			if s.now.Before(readyAt) {
				s.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: ReasonCrashLoopBackOff,
					Message: fmt.Sprintf("back-off %v restarting failed container=%s pod=%s", entry.Delay, c.Name, s.podRef())}
				s.requeue(readyAt)
				return
			}
			d := entry.Delay * 2
			if d > s.cfg.BackoffMax {
				d = s.cfg.BackoffMax
			}
			next = &BackoffEntry{Delay: d, LastExit: prev.FinishedAt}
		}
	}
	pull, ok := s.image(c)
	if !ok {
		return
	}
	s.starts = append(s.starts, StartContainer{Name: c.Name, Init: init, Attempt: attempt, Image: c.Image, Pull: pull, Backoff: next})
}

func (s *syncer) podRef() string {
	m := s.pod.GetMetadata()
	return fmt.Sprintf("%s_%s(%s)", m.GetName(), m.GetNamespace(), m.GetUid())
}

// image decides whether c's image must be pulled; false when c cannot
// start now (the waiting state says why).
func (s *syncer) image(c *corev1.Container) (pull, ok bool) {
	policy := c.ImagePullPolicy
	if policy == "" {
		policy = api.DefaultPullPolicy(c.Image)
	}
	_, present := s.in.Images[c.Image]
	switch policy {
	case api.PullNever:
		if !present {
			s.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: ReasonErrImageNeverPull,
				Message: fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)}
			return false, false
		}
		return false, true
	case api.PullIfNotPresent:
		if present {
			return false, true
		}
	}
	if pb, inBackoff := s.in.PullBackoff[c.Image]; inBackoff && s.now.Before(pb.Until) {
		if se := s.in.StartErrors[c.Name]; se.Fresh && se.Reason == ReasonErrImagePull {
			s.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: ReasonErrImagePull, Message: se.Message}
		} else {
			s.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: ReasonImagePullBackOff,
				Message: fmt.Sprintf("Back-off pulling image %q: %s", c.Image, pb.Message)}
		}
		s.requeue(pb.Until)
		return false, false
	}
	return true, true
}

// garbage plans the removal of container instances older than the
// previous one of each name, and of old sandboxes left empty.
func (s *syncer) garbage() []Action {
	var out []Action
	kept := map[string]bool{}
	names := make([]string, 0, len(s.byName))
	for name := range s.byName {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for i, c := range s.byName[name] {
			if i < 2 || c.State != StateExited {
				kept[c.SandboxID] = true
				continue
			}
			out = append(out, RemoveContainer{ID: c.ID, Name: c.Name})
		}
	}
	sbs := append([]Sandbox(nil), s.in.Runtime.Sandboxes...)
	sort.Slice(sbs, func(i, j int) bool { return sbs[i].ID < sbs[j].ID })
	for _, sb := range sbs {
		if s.sandbox != nil && sb.ID == s.sandbox.ID {
			continue
		}
		switch {
		case sb.Ready:
			out = append(out, StopSandbox{ID: sb.ID})
		case !kept[sb.ID]:
			out = append(out, RemoveSandbox{ID: sb.ID})
		}
	}
	return out
}
