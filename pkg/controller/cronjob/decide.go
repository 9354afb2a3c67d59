package cronjob

import (
	"fmt"
	"sort"
	"time"

	"github.com/robfig/cron/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/controller"
)

// TooManyMissed is how many missed schedule times make Decide report
// TooManyMissedTimes (it still runs the most recent one), as in Kubernetes.
const TooManyMissed = 100

// nextSlack is added to a wake-up so that the schedule time has passed
// when the CronJob is looked at again.
const nextSlack = 100 * time.Millisecond

// Input is what Decide decides on. Decide does not modify it.
type Input struct {
	CronJob *batchv1.CronJob
	// Jobs are the Jobs the CronJob controls (by controller reference).
	Jobs []*batchv1.Job
	Now  time.Time
}

// Plan is what one sync of a CronJob does, in this order: delete the Jobs
// of Delete (Replace's running Jobs, then finished Jobs beyond the history
// limits; background propagation), record Events, create Create (the Job
// of a scheduled time), write Status (nil: unchanged), and look at the
// CronJob again after RequeueAfter (when positive). If Create fails with
// anything but AlreadyExists, Status is not written: the next sync
// decides again.
type Plan struct {
	Delete       []*batchv1.Job
	Events       []controller.Event
	Create       *batchv1.Job
	Status       *batchv1.CronJobStatus
	RequeueAfter time.Duration
}

// Decide plans one sync of a CronJob:
//
//   - status.active is brought to the CronJob's unfinished Jobs: a
//     finished one leaves it (SawCompletedJob; a Complete one sets
//     lastSuccessfulTime), a missing one leaves it (MissingJob), an
//     unfinished Job not in it joins it;
//   - finished Jobs beyond successfulJobsHistoryLimit and
//     failedJobsHistoryLimit are deleted, the oldest first
//     (SuccessfulDelete);
//   - unless it is being deleted or suspended, the most recent schedule
//     time not yet run, after lastScheduleTime (else creationTimestamp)
//     and within startingDeadlineSeconds, runs — only that one, however
//     many were missed (more than TooManyMissed: TooManyMissedTimes); when
//     the only ones not run are past the deadline, the most recent of them
//     is reported (MissSchedule) and none runs; with Forbid and a Job
//     active it waits (JobAlreadyActive); with Replace the active Jobs
//     are deleted first;
//   - the CronJob is looked at again at its next schedule time.
func Decide(in Input) (p Plan) {
	cj, now := in.CronJob, in.Now
	st := proto.Clone(orEmpty(cj.GetStatus())).(*batchv1.CronJobStatus)
	var finished []*batchv1.Job
	byUID := map[string]*batchv1.Job{}
	for _, j := range in.Jobs {
		byUID[j.GetMetadata().GetUid()] = j
	}
	var active []*corev1.ObjectReference
	for _, ref := range st.GetActive() {
		j, ok := byUID[ref.GetUid()]
		switch {
		case !ok:
			p.Events = append(p.Events, warning("MissingJob", "Active job went missing: "+ref.GetName()))
		case api.JobFinishedCondition(j) != nil:
			// handled below with every finished Job
		default:
			active = append(active, ref)
		}
	}
	for _, j := range in.Jobs {
		done := api.JobFinishedCondition(j)
		if done == nil {
			if !hasRef(active, j) {
				active = append(active, jobRef(j))
			}
			continue
		}
		finished = append(finished, j)
		if hasRef(st.GetActive(), j) {
			p.Events = append(p.Events, normal("SawCompletedJob",
				fmt.Sprintf("Saw completed job: %s, condition: %s", j.GetMetadata().GetName(), done.GetType())))
		}
		if done.GetType() == api.JobComplete {
			if t := j.GetStatus().GetCompletionTime(); t != nil && (st.LastSuccessfulTime == nil || t.AsTime().After(st.LastSuccessfulTime.AsTime())) {
				st.LastSuccessfulTime = t
			}
		}
	}
	st.Active = active
	for _, j := range historyToDelete(finished, cj.GetSpec()) {
		p.Delete = append(p.Delete, j)
		p.Events = append(p.Events, normal("SuccessfulDelete", "Deleted job "+j.GetMetadata().GetName()))
	}
	defer func() {
		if !proto.Equal(st, orEmpty(cj.GetStatus())) {
			p.Status = st
		}
	}()
	if cj.GetMetadata().GetDeletionTimestamp() != nil || cj.GetSpec().GetSuspend() {
		return p
	}
	sched, err := api.ParseCronSchedule(cj.GetSpec().GetSchedule(), cj.GetSpec().GetTimeZone())
	if err != nil {
		// Validation refuses these; a CronJob stored before a rule changed
		// is reported, not retried.
		p.Events = append(p.Events, warning("UnparseableSchedule", fmt.Sprintf("unparseable schedule %q: %v", cj.GetSpec().GetSchedule(), err)))
		return p
	}
	p.RequeueAfter = untilNext(sched, now)
	base := cj.GetMetadata().GetCreationTimestamp().AsTime()
	if t := st.GetLastScheduleTime(); t != nil {
		base = t.AsTime()
	}
	earliest, deadline := base, time.Time{}
	if d := cj.GetSpec().StartingDeadlineSeconds; d != nil {
		deadline = now.Add(-time.Duration(*d) * time.Second)
		if deadline.After(earliest) {
			earliest = deadline
		}
	}
	scheduled, missed := MostRecent(sched, earliest, now)
	if missed == 0 {
		if deadline.After(base) {
			if late, n := MostRecent(sched, base, deadline); n > 0 {
				p.Events = append(p.Events, warning("MissSchedule", "Missed scheduled time to start a job: "+late.UTC().Format(time.RFC3339)))
			}
		}
		return p
	}
	if missed > TooManyMissed {
		p.Events = append(p.Events, warning("TooManyMissedTimes",
			fmt.Sprintf("too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed)))
	}
	name := JobName(cj.GetMetadata().GetName(), scheduled)
	for _, ref := range st.Active {
		if ref.GetName() == name {
			return p // created, its status not written yet
		}
	}
	switch cj.GetSpec().GetConcurrencyPolicy() {
	case api.ConcurrencyForbid:
		if len(st.Active) > 0 {
			p.Events = append(p.Events, normal("JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid"))
			return p
		}
	case api.ConcurrencyReplace:
		for _, ref := range st.Active {
			if j := byUID[ref.GetUid()]; j != nil {
				p.Delete = append(p.Delete, j)
				p.Events = append(p.Events, normal("SuccessfulDelete", "Deleted job "+j.GetMetadata().GetName()))
			}
		}
		st.Active = nil
	}
	p.Create = NewJob(cj, scheduled)
	st.LastScheduleTime = timestamppb.New(scheduled)
	return p
}

// MostRecent returns the most recent time of sched in (earliest, now] and
// how many times of sched fall there (0: none; above TooManyMissed the
// count is an estimate from the schedule's interval).
func MostRecent(sched cron.Schedule, earliest, now time.Time) (time.Time, int) {
	t := sched.Next(earliest)
	if t.IsZero() || t.After(now) {
		return time.Time{}, 0
	}
	n := 1
	for ; n <= TooManyMissed; n++ {
		next := sched.Next(t)
		if next.IsZero() || next.After(now) {
			return t, n
		}
		t = next
	}
	// Too many to walk: find a schedule time close before now by looking
	// back ever further, then walk forward from it.
	interval := sched.Next(t).Sub(t)
	first := sched.Next(earliest)
	estimate := int(now.Sub(first)/interval) + 1
	for back := interval; ; back *= 2 {
		s := sched.Next(now.Add(-back))
		if !s.After(now) {
			for next := sched.Next(s); !next.After(now); next = sched.Next(next) {
				s = next
			}
			return s, max(estimate, TooManyMissed+1)
		}
	}
}

// untilNext is how long from now until just after sched's next time.
func untilNext(sched cron.Schedule, now time.Time) time.Duration {
	next := sched.Next(now)
	if next.IsZero() {
		return 0
	}
	return next.Sub(now) + nextSlack
}

// JobName is the name of the Job a CronJob creates for a scheduled time:
// NAME-<minutes since the Unix epoch>, as in Kubernetes (so one scheduled
// time makes one Job however often the controller tries).
func JobName(cronJob string, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cronJob, scheduled.Unix()/60)
}

// NewJob is the Job cj creates for a scheduled time: its job template's
// labels, annotations and spec, the scheduled-timestamp annotation, and
// cj as its controller.
func NewJob(cj *batchv1.CronJob, scheduled time.Time) *batchv1.Job {
	j := api.JobFromCronJob(cj, JobName(cj.GetMetadata().GetName(), scheduled))
	j.Metadata.OwnerReferences = []*metav1.OwnerReference{controller.NewControllerRef(cj)}
	loc := time.Local
	if tz := cj.GetSpec().GetTimeZone(); tz != "" {
		if l, err := api.LoadTimeZone(tz); err == nil {
			loc = l
		}
	}
	j.Metadata.Annotations[api.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	return j
}

// historyToDelete returns the finished Jobs beyond spec's history limits:
// the oldest (by start time, then name) of the Complete ones beyond
// successfulJobsHistoryLimit and of the Failed ones beyond
// failedJobsHistoryLimit. An unset limit keeps every Job.
func historyToDelete(finished []*batchv1.Job, spec *batchv1.CronJobSpec) []*batchv1.Job {
	var ok, failed []*batchv1.Job
	for _, j := range finished {
		if api.JobFinishedCondition(j).GetType() == api.JobComplete {
			ok = append(ok, j)
		} else {
			failed = append(failed, j)
		}
	}
	var out []*batchv1.Job
	for _, h := range []struct {
		jobs  []*batchv1.Job
		limit *int32
	}{{ok, spec.SuccessfulJobsHistoryLimit}, {failed, spec.FailedJobsHistoryLimit}} {
		if h.limit == nil || len(h.jobs) <= int(*h.limit) {
			continue
		}
		sort.Slice(h.jobs, func(a, b int) bool {
			ta, tb := startOrCreation(h.jobs[a]), startOrCreation(h.jobs[b])
			if !ta.Equal(tb) {
				return ta.Before(tb)
			}
			return h.jobs[a].GetMetadata().GetName() < h.jobs[b].GetMetadata().GetName()
		})
		out = append(out, h.jobs[:len(h.jobs)-int(*h.limit)]...)
	}
	return out
}

func startOrCreation(j *batchv1.Job) time.Time {
	if t := j.GetStatus().GetStartTime(); t != nil {
		return t.AsTime()
	}
	return j.GetMetadata().GetCreationTimestamp().AsTime()
}

// jobRef is the reference status.active holds for j.
func jobRef(j *batchv1.Job) *corev1.ObjectReference {
	m := j.GetMetadata()
	return &corev1.ObjectReference{Kind: "Job", ApiVersion: "batch/v1", Namespace: m.GetNamespace(), Name: m.GetName(),
		Uid: m.GetUid(), ResourceVersion: m.GetResourceVersion()}
}

func hasRef(refs []*corev1.ObjectReference, j *batchv1.Job) bool {
	for _, r := range refs {
		if r.GetUid() == j.GetMetadata().GetUid() {
			return true
		}
	}
	return false
}

func orEmpty(st *batchv1.CronJobStatus) *batchv1.CronJobStatus {
	if st == nil {
		return &batchv1.CronJobStatus{}
	}
	return st
}

func normal(reason, message string) controller.Event {
	return controller.Event{Type: record.Normal, Reason: reason, Message: message}
}

func warning(reason, message string) controller.Event {
	return controller.Event{Type: record.Warning, Reason: reason, Message: message}
}
