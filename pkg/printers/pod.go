package printers

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// PodSummary is what `get pods` shows about a pod's state.
type PodSummary struct {
	// Ready is "ready/total" over the app containers and the sidecars
	// (init containers with restartPolicy Always).
	Ready string
	// Status is the one-word state kubectl shows: the phase, or a more
	// precise reason such as ContainerCreating, CrashLoopBackOff,
	// Init:0/2, Init:Error, Completed, Error, NotReady, Terminating.
	Status string
	// Restarts is the restart count, with how long ago the last restart
	// was when known: "3 (2m ago)".
	Restarts string
}

// SummarizePod computes a pod's READY, STATUS and RESTARTS cells as kubectl
// does.
//
// STATUS starts from status.reason or the phase. While init containers have
// not all finished, it shows the first unfinished one: Init:<reason> when it
// is waiting with a reason or terminated with an error, else Init:N/M (N
// finished of M). Once initialized, the last app container (in order) with
// a waiting or terminated reason sets it (ExitCode:N or Signal:N when a
// terminated container gave none); a pod whose containers say Completed
// while one still runs is Running (NotReady without the Ready condition).
// A pod being deleted reads Terminating (Unknown if its node is
// unreachable) unless it already finished.
func SummarizePod(pod *corev1.Pod, now time.Time) PodSummary {
	spec, st := pod.GetSpec(), pod.GetStatus()
	status := st.GetPhase()
	if st.GetReason() != "" {
		status = st.GetReason()
	}
	for _, c := range st.GetConditions() {
		if c.GetType() == api.PodScheduled && c.GetStatus() == api.ConditionFalse && c.GetReason() == api.PodReasonSchedulingGated {
			status = api.PodReasonSchedulingGated
		}
	}

	sidecars := map[string]bool{}
	for _, c := range spec.GetInitContainers() {
		if c.GetRestartPolicy() == api.ContainerRestartPolicyAlways {
			sidecars[c.GetName()] = true
		}
	}
	total := len(spec.GetContainers()) + len(sidecars)
	ready := 0
	var restarts, sidecarRestarts int32
	var lastRestart, sidecarLastRestart time.Time
	noteRestart := func(cs *corev1.ContainerStatus, count *int32, last *time.Time) {
		*count += cs.GetRestartCount()
		if t := cs.GetLastState().GetTerminated().GetFinishedAt(); isSet(t) && t.AsTime().After(*last) {
			*last = t.AsTime()
		}
	}

	initializing := false
	for i, cs := range st.GetInitContainerStatuses() {
		noteRestart(cs, &restarts, &lastRestart)
		if sidecars[cs.GetName()] {
			noteRestart(cs, &sidecarRestarts, &sidecarLastRestart)
		}
		state := cs.GetState()
		term, wait := state.GetTerminated(), state.GetWaiting()
		if term != nil && term.GetExitCode() == 0 {
			continue // finished
		}
		if sidecars[cs.GetName()] && cs.GetStarted() {
			if cs.GetReady() {
				ready++
			}
			continue // a running sidecar does not hold initialization up
		}
		initializing = true
		switch {
		case term != nil && term.GetReason() != "":
			status = "Init:" + term.GetReason()
		case term != nil && term.GetSignal() != 0:
			status = fmt.Sprintf("Init:Signal:%d", term.GetSignal())
		case term != nil:
			status = fmt.Sprintf("Init:ExitCode:%d", term.GetExitCode())
		case wait != nil && wait.GetReason() != "" && wait.GetReason() != api.ContainerReasonPodInitializing:
			status = "Init:" + wait.GetReason()
		default:
			status = fmt.Sprintf("Init:%d/%d", i, len(spec.GetInitContainers()))
		}
		break
	}

	if !initializing || api.GetPodCondition(st, api.PodInitialized).GetStatus() == api.ConditionTrue {
		// From here on only sidecar restarts count among the init
		// containers' (the others finished long ago).
		restarts, lastRestart = sidecarRestarts, sidecarLastRestart
		running := false
		cs := st.GetContainerStatuses()
		for i := len(cs) - 1; i >= 0; i-- {
			c := cs[i]
			noteRestart(c, &restarts, &lastRestart)
			state := c.GetState()
			term, wait := state.GetTerminated(), state.GetWaiting()
			switch {
			case wait != nil && wait.GetReason() != "":
				status = wait.GetReason()
			case term != nil && term.GetReason() != "":
				status = term.GetReason()
			case term != nil && term.GetSignal() != 0:
				status = fmt.Sprintf("Signal:%d", term.GetSignal())
			case term != nil:
				status = fmt.Sprintf("ExitCode:%d", term.GetExitCode())
			case c.GetReady() && state.GetRunning() != nil:
				running = true
				ready++
			}
		}
		if status == api.ContainerReasonCompleted && running {
			if api.IsPodReady(pod) {
				status = api.PodRunning
			} else {
				status = "NotReady"
			}
		}
	}

	if pod.GetMetadata().GetDeletionTimestamp() != nil {
		switch {
		case st.GetReason() == api.NodeUnreachablePodReason:
			status = api.PodUnknown
		case !api.IsPhaseTerminal(st.GetPhase()):
			status = "Terminating"
		}
	}

	r := fmt.Sprint(restarts)
	if restarts > 0 && !lastRestart.IsZero() {
		r = fmt.Sprintf("%d (%s ago)", restarts, HumanDuration(now.Sub(lastRestart)))
	}
	return PodSummary{Ready: fmt.Sprintf("%d/%d", ready, total), Status: status, Restarts: r}
}

// readinessGates renders "true/total" over the pod's readiness gates, or
// "<none>".
func readinessGates(pod *corev1.Pod) string {
	gates := pod.GetSpec().GetReadinessGates()
	if len(gates) == 0 {
		return "<none>"
	}
	met := 0
	for _, g := range gates {
		if api.GetPodCondition(pod.GetStatus(), g.GetConditionType()).GetStatus() == api.ConditionTrue {
			met++
		}
	}
	return fmt.Sprintf("%d/%d", met, len(gates))
}

// latest returns the later of two timestamps (either may be unset).
func latest(a, b *timestamppb.Timestamp) *timestamppb.Timestamp {
	if !isSet(a) {
		return b
	}
	if !isSet(b) || a.AsTime().After(b.AsTime()) {
		return a
	}
	return b
}
