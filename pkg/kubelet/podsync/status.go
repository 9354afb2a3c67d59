package podsync

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func (s *syncer) startTime() time.Time {
	if st := s.in.Previous.GetStartTime(); st != nil {
		return st.AsTime()
	}
	return s.now
}

// ContainerID is how a container ID appears in the API: runtime://id.
func ContainerID(runtimeName, id string) string {
	if id == "" {
		return ""
	}
	return runtimeName + "://" + id
}

// status computes the PodStatus after evaluate.
func (s *syncer) status() *corev1.PodStatus {
	st := &corev1.PodStatus{
		HostIp:            s.in.HostIP,
		StartTime:         ts(s.startTime()),
		QosClass:          s.pod.GetStatus().GetQosClass(),
		NominatedNodeName: s.pod.GetStatus().GetNominatedNodeName(),
	}
	if st.QosClass == "" {
		st.QosClass = api.QOSClass(s.spec)
	}
	if s.in.HostIP != "" {
		st.HostIps = []*corev1.HostIP{{Ip: s.in.HostIP}}
	}
	switch {
	case s.spec.HostNetwork:
		st.PodIp = s.in.HostIP
	case s.sandbox != nil && s.sandbox.Ready && s.sandbox.IP != "":
		st.PodIp = s.sandbox.IP
	default:
		st.PodIp = s.in.Previous.GetPodIp()
	}
	if st.PodIp != "" {
		st.PodIps = []*corev1.PodIP{{Ip: st.PodIp}}
	}
	for _, c := range s.spec.InitContainers {
		st.InitContainerStatuses = append(st.InitContainerStatuses, s.containerStatus(c, true))
	}
	for _, c := range s.spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, s.containerStatus(c, false))
	}
	st.Phase = s.phase(st)
	if s.terminalBefore() {
		st.Phase = s.in.Previous.GetPhase()
		st.Reason, st.Message = s.in.Previous.GetReason(), s.in.Previous.GetMessage()
	} else if s.deadlineHit {
		st.Phase = api.PodFailed
		st.Reason = ReasonDeadlineExceeded
		st.Message = fmt.Sprintf("Pod was active on the node longer than the specified deadline")
	}
	st.Conditions = s.conditions(st)
	return st
}

// phase is Kubernetes' getPhase over the computed container statuses.
func (s *syncer) phase(st *corev1.PodStatus) string {
	policy := s.spec.RestartPolicy
	if s.initFailed && policy == api.RestartPolicyNever {
		return api.PodFailed
	}
	if !s.initDone {
		return api.PodPending
	}
	var running, waiting, stopped, succeeded int
	for _, cs := range st.ContainerStatuses {
		switch {
		case cs.State.GetRunning() != nil:
			running++
		case cs.State.GetTerminated() != nil:
			stopped++
			if cs.State.GetTerminated().GetExitCode() == 0 {
				succeeded++
			}
		case cs.State.GetWaiting() != nil:
			if cs.LastState.GetTerminated() != nil {
				stopped++
			} else {
				waiting++
			}
		}
	}
	switch {
	case waiting > 0:
		return api.PodPending
	case running > 0:
		return api.PodRunning
	case stopped > 0:
		switch {
		case policy == api.RestartPolicyAlways || policy == "":
			return api.PodRunning
		case stopped == succeeded:
			return api.PodSucceeded
		case policy == api.RestartPolicyNever:
			return api.PodFailed
		default: // OnFailure: the failed ones restart
			return api.PodRunning
		}
	}
	return api.PodPending
}

func (s *syncer) terminated(c *Container) *corev1.ContainerState {
	reason := c.Reason
	if reason == "" {
		reason = "Completed"
		if c.ExitCode != 0 {
			reason = "Error"
		}
	}
	return &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode:    c.ExitCode,
		Reason:      reason,
		Message:     c.Message,
		StartedAt:   ts(c.StartedAt),
		FinishedAt:  ts(c.FinishedAt),
		ContainerId: ContainerID(s.cfg.RuntimeName, c.ID),
	}}
}

func (s *syncer) containerStatus(spec *corev1.Container, init bool) *corev1.ContainerStatus {
	cs := &corev1.ContainerStatus{Name: spec.Name, Image: spec.Image}
	insts := s.byName[spec.Name]
	var cur, prev *Container
	if len(insts) > 0 {
		cur = insts[0]
	}
	if len(insts) > 1 && insts[1].State == StateExited {
		prev = insts[1]
	}
	started := false
	if cur == nil {
		// Not created yet. The runtime may have lost older instances:
		// keep the count and last state the API shows.
		if ps := s.prevStatus(spec.Name, init); ps != nil {
			cs.RestartCount = ps.RestartCount
			if t := ps.GetState().GetTerminated(); t != nil {
				cs.LastState = &corev1.ContainerState{Terminated: proto.Clone(t).(*corev1.ContainerStateTerminated)}
			} else if t := ps.GetLastState().GetTerminated(); t != nil {
				cs.LastState = &corev1.ContainerState{Terminated: proto.Clone(t).(*corev1.ContainerStateTerminated)}
			}
		}
		cs.State = &corev1.ContainerState{Waiting: s.waitingFor(spec.Name, init)}
		cs.Started = &started
		return cs
	}
	cs.RestartCount = int32(cur.Attempt)
	if cur.Image != "" {
		cs.Image = cur.Image
	}
	cs.ImageId = cur.ImageRef
	cs.ContainerId = ContainerID(s.cfg.RuntimeName, cur.ID)
	if prev != nil {
		cs.LastState = s.terminated(prev)
	}
	switch cur.State {
	case StateRunning:
		cs.State = &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ts(cur.StartedAt)}}
		pr := s.in.Probes[cur.ID]
		started = pr.Started
		cs.Ready = pr.Ready && pr.Started
	case StateExited:
		if w := s.waiting[spec.Name]; w != nil {
			cs.State = &corev1.ContainerState{Waiting: w}
			cs.LastState = s.terminated(cur)
		} else {
			cs.State = s.terminated(cur)
			if init && cur.ExitCode == 0 {
				cs.Ready = true
			}
		}
	default:
		w := s.waiting[spec.Name]
		if w == nil {
			w = &corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}
		}
		cs.State = &corev1.ContainerState{Waiting: w}
	}
	cs.Started = &started
	return cs
}

// waitingFor is the waiting state of a container with no instance.
func (s *syncer) waitingFor(name string, init bool) *corev1.ContainerStateWaiting {
	if w := s.waiting[name]; w != nil {
		return w
	}
	if se, ok := s.in.StartErrors[name]; ok && se.Reason != "" {
		return &corev1.ContainerStateWaiting{Reason: se.Reason, Message: se.Message}
	}
	if init {
		return &corev1.ContainerStateWaiting{Reason: ReasonPodInitializing}
	}
	if !s.initDone {
		return &corev1.ContainerStateWaiting{Reason: ReasonPodInitializing}
	}
	return &corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}
}

func (s *syncer) conditions(st *corev1.PodStatus) []*corev1.PodCondition {
	prev := map[string]*corev1.PodCondition{}
	for _, c := range s.in.Previous.GetConditions() {
		prev[c.GetType()] = c
	}
	mk := func(typ string, ok bool, reason, message string) *corev1.PodCondition {
		status := api.ConditionFalse
		if ok {
			status = api.ConditionTrue
			reason, message = "", ""
		}
		c := &corev1.PodCondition{Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: ts(s.now)}
		if p := prev[typ]; p != nil && p.GetStatus() == status && p.GetLastTransitionTime() != nil {
			c.LastTransitionTime = p.LastTransitionTime
		}
		return c
	}
	var out []*corev1.PodCondition
	// PodScheduled is the scheduler's; the kubelet only adds it when
	// missing (a pod bound by hand).
	var scheduled *corev1.PodCondition
	if c := api.GetPodCondition(s.pod.GetStatus(), api.PodScheduled); c != nil {
		scheduled = proto.Clone(c).(*corev1.PodCondition)
	} else {
		scheduled = mk(api.PodScheduled, true, "", "")
	}
	out = append(out, scheduled)

	var incomplete []string
	for _, cs := range st.InitContainerStatuses {
		if t := cs.GetState().GetTerminated(); t == nil || t.GetExitCode() != 0 {
			incomplete = append(incomplete, cs.Name)
		}
	}
	if s.initDone {
		out = append(out, mk(api.PodInitialized, true, "", ""))
	} else {
		out = append(out, mk(api.PodInitialized, false, api.ContainersNotInitialized, fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " "))))
	}

	terminal := api.IsPhaseTerminal(st.Phase)
	var unready []string
	for _, cs := range st.ContainerStatuses {
		if !cs.Ready {
			unready = append(unready, cs.Name)
		}
	}
	var ready *corev1.PodCondition
	switch {
	case terminal:
		out = append(out, mk(api.ContainersReady, false, api.PodCompleted, ""))
		ready = mk(api.PodReady, false, api.PodCompleted, "")
	case len(unready) > 0:
		msg := fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
		out = append(out, mk(api.ContainersReady, false, api.ContainersNotReady, msg))
		ready = mk(api.PodReady, false, api.ContainersNotReady, msg)
	default:
		out = append(out, mk(api.ContainersReady, true, "", ""))
		ready = mk(api.PodReady, true, "", "")
		// Readiness gates: conditions others set on the pod.
		var missing []string
		for _, g := range s.spec.ReadinessGates {
			if api.GetPodCondition(s.pod.GetStatus(), g.GetConditionType()).GetStatus() != api.ConditionTrue {
				missing = append(missing, g.GetConditionType())
			}
		}
		if len(missing) > 0 {
			ready = mk(api.PodReady, false, api.ReadinessGatesNotReady, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", missing[0]))
		}
	}
	out = append(out, ready)
	// Conditions others own (readiness gates, DisruptionTarget...) stay.
	for _, c := range s.pod.GetStatus().GetConditions() {
		switch c.GetType() {
		case api.PodScheduled, api.PodInitialized, api.ContainersReady, api.PodReady:
		default:
			out = append(out, proto.Clone(c).(*corev1.PodCondition))
		}
	}
	return out
}
