package job

import (
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/controller"
)

// Input is what Decide decides on. Decide does not modify it.
type Input struct {
	Job *batchv1.Job
	// Pods are the pods the Job controls, in any state.
	Pods []*corev1.Pod
	// Satisfied: the informer has shown every create and delete of the
	// previous plan; without it no pod is created or deleted, except that
	// a Job that finishes deletes its active pods.
	Satisfied bool
	Now       time.Time
	// PodFailureBackoff is the first delay before a failed pod is
	// replaced (see Backoff).
	PodFailureBackoff time.Duration
}

// Plan is what one sync of a Job does, in this order: delete the pods of
// Delete, create a pod per entry of Create (a completion index, or -1 for
// a pod without one), record Events, write Status, delete the Job itself
// (DeleteJob: ttlSecondsAfterFinished passed), and look at the Job again
// after RequeueAfter (when positive).
type Plan struct {
	Delete []*corev1.Pod
	Create []int
	Events []controller.Event
	// Status is the new status; nil when it is unchanged.
	Status       *batchv1.JobStatus
	DeleteJob    bool
	RequeueAfter time.Duration
}

// Decide plans one sync of a Job:
//
//   - a finished Job (Complete or Failed) is deleted once
//     ttlSecondsAfterFinished has passed since it finished;
//   - more than backoffLimit failed pods fail it (BackoffLimitExceeded),
//     activeDeadlineSeconds passed since startTime fails it
//     (DeadlineExceeded), spec.completions succeeded pods (or, without
//     completions, one succeeded and none active) complete it; a Job that
//     finishes deletes its active pods;
//   - otherwise it keeps min(parallelism, completions − succeeded) pods
//     active (none when suspended, or when a work queue Job has a
//     succeeded pod), replacing failed pods only after Backoff since the
//     last failure, and is looked at again at its deadline.
func Decide(in Input) Plan {
	j, now := in.Job, in.Now
	var p Plan
	if done := api.JobFinishedCondition(j); done != nil {
		if ttl := j.GetSpec().TtlSecondsAfterFinished; ttl != nil {
			at := done.GetLastTransitionTime().AsTime().Add(time.Duration(*ttl) * time.Second)
			if now.Before(at) {
				p.RequeueAfter = at.Sub(now)
			} else {
				p.DeleteJob = true
			}
		}
		return p
	}
	var active []*corev1.Pod
	var succeeded, failed, ready, terminating int32
	var lastFailure time.Time
	var failJob string // the message of a FailJob rule that matched
	for _, pod := range in.Pods {
		switch {
		case pod.GetStatus().GetPhase() == api.PodSucceeded:
			succeeded++
		case pod.GetStatus().GetPhase() == api.PodFailed:
			action, msg := MatchPodFailurePolicy(j.GetSpec().GetPodFailurePolicy(), pod)
			if action == api.PodFailurePolicyIgnore {
				continue // neither counted nor delaying its replacement
			}
			if action == api.PodFailurePolicyFailJob && failJob == "" {
				failJob = msg
			}
			failed++
			if t := finishTime(pod); t.After(lastFailure) {
				lastFailure = t
			}
		case pod.GetMetadata().GetDeletionTimestamp() != nil:
			terminating++
		default:
			active = append(active, pod)
			if api.IsPodReady(pod) {
				ready++
			}
		}
	}
	st := proto.Clone(orEmpty(j.GetStatus())).(*batchv1.JobStatus)
	completions := j.GetSpec().Completions
	// Validation makes an Indexed Job give completions.
	indexed := j.GetSpec().GetCompletionMode() == api.IndexedCompletion && completions != nil
	var done []int // an Indexed Job's succeeded indexes
	if indexed {
		done = succeededIndexes(st.GetCompletedIndexes(), in.Pods, *completions)
		succeeded = int32(len(done))
		st.CompletedIndexes = formatIndexes(done)
	}
	// With backoffLimitPerIndex an index fails on its own (failedIndexes)
	// and gets no more pods; the Job goes on with the others.
	var failedIx []int
	perIndex := indexed && j.GetSpec().BackoffLimitPerIndex != nil
	if perIndex {
		failedIx = failedIndexes(st.GetFailedIndexes(), in.Pods, *completions, j.GetSpec().GetBackoffLimitPerIndex(), j.GetSpec().GetPodFailurePolicy(), done)
		st.FailedIndexes = proto.String(formatIndexes(failedIx))
	}
	st.Succeeded, st.Failed, st.Ready, st.Terminating = succeeded, failed, &ready, &terminating
	suspended := j.GetSpec().GetSuspend()
	if !suspended && st.StartTime == nil {
		st.StartTime = timestamppb.New(now)
	}
	if suspended {
		setCondition(st, api.JobSuspended, true, "JobSuspended", "Job suspended", now)
	} else if setCondition(st, api.JobSuspended, false, "JobResumed", "Job resumed", now) {
		// Resumed: activeDeadlineSeconds counts from now.
		st.StartTime = timestamppb.New(now)
	}

	finish := func(typ, reason, message string) {
		p.Delete = active
		st.Active, st.Ready = 0, proto.Int32(0)
		if typ == api.JobFailed {
			// The active pods deleted now fail with the Job.
			st.Failed += int32(len(active))
		}
		setCondition(st, typ, true, reason, message, now)
		if typ == api.JobComplete {
			st.CompletionTime = timestamppb.New(now)
			p.Events = append(p.Events, controller.Event{Type: record.Normal, Reason: "Completed", Message: "Job completed"})
		} else {
			p.Events = append(p.Events, controller.Event{Type: record.Warning, Reason: reason, Message: message})
		}
	}
	rule := -1 // the success policy rule met, if any
	if indexed {
		rule = successRuleMet(j.GetSpec().GetSuccessPolicy(), done, *completions)
	}
	switch {
	case failJob != "":
		finish(api.JobFailed, api.JobReasonPodFailurePolicy, failJob)
	case failed > j.GetSpec().GetBackoffLimit():
		finish(api.JobFailed, api.JobReasonBackoffLimitExceeded, "Job has reached the specified backoff limit")
	case !suspended && j.GetSpec().ActiveDeadlineSeconds != nil && st.StartTime != nil &&
		!now.Before(st.StartTime.AsTime().Add(time.Duration(*j.GetSpec().ActiveDeadlineSeconds)*time.Second)):
		finish(api.JobFailed, api.JobReasonDeadlineExceeded, "Job was active longer than specified deadline")
	case perIndex && j.GetSpec().MaxFailedIndexes != nil && int32(len(failedIx)) > j.GetSpec().GetMaxFailedIndexes():
		finish(api.JobFailed, api.JobReasonMaxFailedIndexesExceeded, "Job has exceeded the specified maximal number of failed indexes")
	case perIndex && len(failedIx) > 0 && succeeded+int32(len(failedIx)) >= *completions:
		finish(api.JobFailed, api.JobReasonFailedIndexes, "Job has failed indexes")
	case rule >= 0:
		msg := fmt.Sprintf("Matched rules at index %d", rule)
		setCondition(st, api.JobSuccessCriteriaMet, true, api.JobReasonSuccessPolicy, msg, now)
		finish(api.JobComplete, api.JobReasonSuccessPolicy, msg)
	case completions != nil && succeeded >= *completions, completions == nil && succeeded > 0 && len(active) == 0:
		finish(api.JobComplete, "", "")
	default:
		want := int32(0)
		if !suspended {
			want = j.GetSpec().GetParallelism()
			if completions != nil {
				want = min(want, *completions-succeeded-int32(len(failedIx)))
			} else if succeeded > 0 {
				want = 0 // a work queue: once one succeeded, no new pods
			}
		}
		var a actions
		if indexed {
			a = planIndexed(active, slices.Sorted(slices.Values(append(slices.Clone(done), failedIx...))), *completions, want, now)
		} else {
			a = planNonIndexed(active, want, now)
		}
		if failed > 0 && len(a.create) > 0 {
			if wait := lastFailure.Add(Backoff(in.PodFailureBackoff, failed)).Sub(now); wait > 0 {
				p.RequeueAfter = wait
				a.create = nil
			}
		}
		if in.Satisfied {
			p.Create, p.Delete = a.create, a.remove
		}
		if d := j.GetSpec().ActiveDeadlineSeconds; d != nil && !suspended {
			p.RequeueAfter = earliest(p.RequeueAfter, st.StartTime.AsTime().Add(time.Duration(*d)*time.Second).Sub(now))
		}
		st.Active = int32(len(active))
	}
	if !proto.Equal(st, j.GetStatus()) {
		p.Status = st
	}
	return p
}

// Backoff is the delay before replacing a pod after n failures: first,
// doubled for each failure after the first, at most MaxPodFailureBackoff.
func Backoff(first time.Duration, n int32) time.Duration {
	d := first
	for i := int32(1); i < n && d < MaxPodFailureBackoff; i++ {
		d *= 2
	}
	return min(d, MaxPodFailureBackoff)
}

// earliest is the smaller of two positive durations (a non-positive one
// is none).
func earliest(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}

// setCondition sets (or, when false and absent, leaves out) a condition,
// and reports whether its status changed from the opposite one. A
// condition already in that state is left as it is, so that a sync that
// changes nothing writes nothing.
func setCondition(st *batchv1.JobStatus, typ string, on bool, reason, message string, now time.Time) bool {
	status := api.ConditionFalse
	if on {
		status = api.ConditionTrue
	}
	for _, cond := range st.Conditions {
		if cond.GetType() == typ {
			changed := cond.GetStatus() != status
			if changed || cond.GetReason() != reason || cond.GetMessage() != message {
				if changed {
					cond.LastTransitionTime = timestamppb.New(now)
				}
				cond.Status, cond.Reason, cond.Message, cond.LastProbeTime = status, reason, message, timestamppb.New(now)
			}
			return changed
		}
	}
	if on {
		st.Conditions = append(st.Conditions, &batchv1.JobCondition{Type: typ, Status: status, Reason: reason, Message: message,
			LastProbeTime: timestamppb.New(now), LastTransitionTime: timestamppb.New(now)})
	}
	return false
}

// finishTime is when a finished pod's last container ended (its
// creation time when that is unknown).
func finishTime(p *corev1.Pod) time.Time {
	t := p.GetMetadata().GetCreationTimestamp().AsTime()
	for _, s := range p.GetStatus().GetContainerStatuses() {
		if f := s.GetState().GetTerminated().GetFinishedAt(); f != nil && f.AsTime().After(t) {
			t = f.AsTime()
		}
	}
	return t
}

func orEmpty(st *batchv1.JobStatus) *batchv1.JobStatus {
	if st == nil {
		return &batchv1.JobStatus{}
	}
	return st
}

// MatchPodFailurePolicy returns the action of the first rule of pol that
// matches the failed pod (Count when none does, or without a policy) and,
// for a match, a message naming the rule. An exit code rule matches a
// container (the named one, or any) that terminated with a non-zero code
// In (or NotIn) its values; a condition rule matches a pod condition of
// that type whose status is the rule's (True by default).
func MatchPodFailurePolicy(pol *batchv1.PodFailurePolicy, pod *corev1.Pod) (action, message string) {
	who := pod.GetMetadata().GetNamespace() + "/" + pod.GetMetadata().GetName()
	for i, r := range pol.GetRules() {
		if codes := r.GetOnExitCodes(); codes != nil {
			for _, cs := range append(append([]*corev1.ContainerStatus{}, pod.GetStatus().GetInitContainerStatuses()...), pod.GetStatus().GetContainerStatuses()...) {
				term := cs.GetState().GetTerminated()
				if term == nil || term.GetExitCode() == 0 || (codes.ContainerName != nil && codes.GetContainerName() != cs.GetName()) {
					continue
				}
				if in := slices.Contains(codes.GetValues(), term.GetExitCode()); in == (codes.GetOperator() == api.PodFailurePolicyOpIn) {
					return r.GetAction(), fmt.Sprintf("Container %s for pod %s failed with exit code %d matching %s rule at index %d",
						cs.GetName(), who, term.GetExitCode(), r.GetAction(), i)
				}
			}
			continue
		}
		for _, pat := range r.GetOnPodConditions() {
			want := pat.GetStatus()
			if want == "" {
				want = api.ConditionTrue
			}
			for _, c := range pod.GetStatus().GetConditions() {
				if c.GetType() == pat.GetType() && c.GetStatus() == want {
					return r.GetAction(), fmt.Sprintf("Pod %s has condition %s matching %s rule at index %d", who, c.GetType(), r.GetAction(), i)
				}
			}
		}
	}
	return api.PodFailurePolicyCount, ""
}

// successRuleMet returns the index of the first rule of an Indexed Job's
// success policy that its succeeded indexes (done, ascending) meet, or -1
// (also without a policy). A rule with succeededIndexes needs
// succeededCount of those indexes succeeded, or all of them without a
// count; a rule with only succeededCount needs that many indexes
// succeeded.
func successRuleMet(pol *batchv1.SuccessPolicy, done []int, completions int32) int {
	for i, r := range pol.GetRules() {
		n := int32(len(done))
		want := r.GetSucceededCount()
		if r.SucceededIndexes != nil {
			listed := parseIndexes(r.GetSucceededIndexes(), completions)
			n = 0
			for _, ix := range done {
				if _, ok := slices.BinarySearch(listed, ix); ok {
					n++
				}
			}
			if r.SucceededCount == nil {
				want = int32(len(listed))
			}
		}
		if want > 0 && n >= want {
			return i
		}
	}
	return -1
}
