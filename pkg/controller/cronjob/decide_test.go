package cronjob

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// t0 is the CronJob's creation: 2026-12-07 10:00:30 UTC.
var t0 = time.Date(2026, 12, 7, 10, 0, 30, 0, time.UTC)

func at(hh, mm int) time.Time { return time.Date(2026, 12, 7, hh, mm, 0, 0, time.UTC) }

func cronJob(schedule string, f ...func(*batchv1.CronJobSpec, *batchv1.CronJobStatus)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		Metadata: &metav1.ObjectMeta{Name: "hello", Namespace: "default", Uid: "cj-uid", CreationTimestamp: timestamppb.New(t0)},
		Spec: &batchv1.CronJobSpec{Schedule: schedule, ConcurrencyPolicy: proto.String(api.ConcurrencyAllow),
			SuccessfulJobsHistoryLimit: proto.Int32(3), FailedJobsHistoryLimit: proto.Int32(1),
			JobTemplate: &batchv1.JobTemplateSpec{
				Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "hello"}},
				Spec: &batchv1.JobSpec{Template: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{RestartPolicy: "OnFailure",
					Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}}}},
		Status: &batchv1.CronJobStatus{},
	}
	for _, fn := range f {
		fn(cj.Spec, cj.Status)
	}
	return cj
}

// job is a Job of the CronJob for scheduled time s: state "" runs,
// Complete or Failed finished.
func job(s time.Time, state string) *batchv1.Job {
	name := JobName("hello", s)
	j := &batchv1.Job{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, CreationTimestamp: timestamppb.New(s)},
		Status: &batchv1.JobStatus{StartTime: timestamppb.New(s)}}
	if state != "" {
		j.Status.Conditions = []*batchv1.JobCondition{{Type: state, Status: api.ConditionTrue}}
		if state == api.JobComplete {
			j.Status.CompletionTime = timestamppb.New(s.Add(10 * time.Second))
		}
	}
	return j
}

func active(jobs ...*batchv1.Job) func(*batchv1.CronJobSpec, *batchv1.CronJobStatus) {
	return func(_ *batchv1.CronJobSpec, st *batchv1.CronJobStatus) {
		for _, j := range jobs {
			st.Active = append(st.Active, jobRef(j))
		}
	}
}

func lastScheduled(t time.Time) func(*batchv1.CronJobSpec, *batchv1.CronJobStatus) {
	return func(_ *batchv1.CronJobSpec, st *batchv1.CronJobStatus) { st.LastScheduleTime = timestamppb.New(t) }
}

func TestDecide(t *testing.T) {
	running := job(at(10, 5), "")
	cases := []struct {
		name    string
		cj      *batchv1.CronJob
		jobs    []*batchv1.Job
		now     time.Time
		create  time.Time // zero: no Job created
		deletes []string
		events  []string // reasons
		active  []string
		next    time.Duration
	}{
		{name: "before the first time", cj: cronJob("*/5 * * * *"), now: at(10, 4),
			next: time.Minute + nextSlack},
		{name: "first time", cj: cronJob("*/5 * * * *"), now: at(10, 5).Add(time.Second),
			create: at(10, 5), next: 5*time.Minute - time.Second + nextSlack},
		{name: "macro @hourly", cj: cronJob("@hourly"), now: at(11, 0), create: at(11, 0), next: time.Hour + nextSlack},
		{name: "already created, status not seen yet", cj: cronJob("*/5 * * * *", active(running)), jobs: []*batchv1.Job{running},
			now: at(10, 5).Add(2 * time.Second), active: []string{running.Metadata.Name}, next: 5*time.Minute - 2*time.Second + nextSlack},
		{name: "done for this time", cj: cronJob("*/5 * * * *", lastScheduled(at(10, 5))), now: at(10, 7), next: 3*time.Minute + nextSlack},
		{name: "missed runs: only the most recent", cj: cronJob("*/5 * * * *", lastScheduled(at(10, 5))), now: at(10, 31),
			create: at(10, 30), next: 4*time.Minute + nextSlack},
		{name: "too many missed", cj: cronJob("* * * * *"), now: at(12, 0).Add(30 * time.Second),
			create: at(12, 0), events: []string{"TooManyMissedTimes"}, next: 30*time.Second + nextSlack},
		{name: "deadline bounds the look-back", cj: cronJob("* * * * *", func(s *batchv1.CronJobSpec, _ *batchv1.CronJobStatus) {
			s.StartingDeadlineSeconds = proto.Int64(90)
		}), now: at(12, 0).Add(30 * time.Second), create: at(12, 0), next: 30*time.Second + nextSlack},
		{name: "deadline passed", cj: cronJob("0 * * * *", func(s *batchv1.CronJobSpec, _ *batchv1.CronJobStatus) {
			s.StartingDeadlineSeconds = proto.Int64(120)
		}), now: at(11, 5), events: []string{"MissSchedule"}, next: 55*time.Minute + nextSlack},
		{name: "deadline not passed", cj: cronJob("0 * * * *", func(s *batchv1.CronJobSpec, _ *batchv1.CronJobStatus) {
			s.StartingDeadlineSeconds = proto.Int64(120)
		}), now: at(11, 1), create: at(11, 0), next: 59*time.Minute + nextSlack},
		{name: "Allow runs beside the active one", cj: cronJob("*/5 * * * *", active(running), lastScheduled(at(10, 5))), jobs: []*batchv1.Job{running},
			now: at(10, 10), create: at(10, 10), active: []string{running.Metadata.Name}, next: 5*time.Minute + nextSlack},
		{name: "Forbid waits", cj: cronJob("*/5 * * * *", active(running), lastScheduled(at(10, 5)), func(s *batchv1.CronJobSpec, _ *batchv1.CronJobStatus) {
			s.ConcurrencyPolicy = proto.String(api.ConcurrencyForbid)
		}), jobs: []*batchv1.Job{running}, now: at(10, 10), events: []string{"JobAlreadyActive"}, active: []string{running.Metadata.Name}, next: 5*time.Minute + nextSlack},
		{name: "Replace deletes the active one", cj: cronJob("*/5 * * * *", active(running), lastScheduled(at(10, 5)), func(s *batchv1.CronJobSpec, _ *batchv1.CronJobStatus) {
			s.ConcurrencyPolicy = proto.String(api.ConcurrencyReplace)
		}), jobs: []*batchv1.Job{running}, now: at(10, 10), create: at(10, 10), deletes: []string{running.Metadata.Name},
			events: []string{"SuccessfulDelete"}, next: 5*time.Minute + nextSlack},
		{name: "suspended", cj: cronJob("*/5 * * * *", func(s *batchv1.CronJobSpec, _ *batchv1.CronJobStatus) { s.Suspend = proto.Bool(true) }),
			now: at(10, 10)},
		{name: "completed job leaves active", cj: cronJob("*/5 * * * *", active(job(at(10, 5), "")), lastScheduled(at(10, 5))),
			jobs: []*batchv1.Job{job(at(10, 5), api.JobComplete)}, now: at(10, 6), events: []string{"SawCompletedJob"}, next: 4*time.Minute + nextSlack},
		{name: "missing job leaves active", cj: cronJob("*/5 * * * *", active(running), lastScheduled(at(10, 5))),
			now: at(10, 6), events: []string{"MissingJob"}, next: 4*time.Minute + nextSlack},
		{name: "unlisted running job joins active", cj: cronJob("*/5 * * * *", lastScheduled(at(10, 5))), jobs: []*batchv1.Job{running},
			now: at(10, 6), active: []string{running.Metadata.Name}, next: 4*time.Minute + nextSlack},
		{name: "history limits", cj: cronJob("*/5 * * * *", lastScheduled(at(10, 35))), jobs: []*batchv1.Job{
			job(at(10, 5), api.JobComplete), job(at(10, 10), api.JobFailed), job(at(10, 15), api.JobComplete), job(at(10, 20), api.JobComplete),
			job(at(10, 25), api.JobFailed), job(at(10, 30), api.JobComplete), job(at(10, 35), api.JobComplete)},
			now: at(10, 36), deletes: []string{JobName("hello", at(10, 5)), JobName("hello", at(10, 15)), JobName("hello", at(10, 10))},
			events: []string{"SuccessfulDelete", "SuccessfulDelete", "SuccessfulDelete"}, next: 4*time.Minute + nextSlack},
		{name: "time zone", cj: cronJob("0 9 * * *", func(s *batchv1.CronJobSpec, _ *batchv1.CronJobStatus) { s.TimeZone = proto.String("Asia/Tokyo") }),
			now: time.Date(2026, 12, 8, 0, 0, 10, 0, time.UTC), create: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC), next: 24*time.Hour - 10*time.Second + nextSlack},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := proto.Clone(c.cj)
			p := Decide(Input{CronJob: c.cj, Jobs: c.jobs, Now: c.now})
			if !proto.Equal(before, c.cj) {
				t.Fatal("Decide modified its input")
			}
			switch {
			case c.create.IsZero() && p.Create != nil:
				t.Errorf("created %s, want none", p.Create.Metadata.Name)
			case !c.create.IsZero() && p.Create == nil:
				t.Errorf("created nothing, want the job of %s", c.create)
			case p.Create != nil:
				if want := fmt.Sprintf("hello-%d", c.create.Unix()/60); p.Create.Metadata.Name != want {
					t.Errorf("created %s, want %s", p.Create.Metadata.Name, want)
				}
				ts, _ := time.Parse(time.RFC3339, p.Create.Metadata.Annotations[api.CronJobScheduledTimestampAnnotation])
				if !ts.Equal(c.create) || !p.Status.LastScheduleTime.AsTime().Equal(c.create) {
					t.Errorf("scheduled-timestamp %v, lastScheduleTime %v, want %s", ts, p.Status.LastScheduleTime.AsTime(), c.create)
				}
				if ref := p.Create.Metadata.OwnerReferences; len(ref) != 1 || ref[0].GetUid() != "cj-uid" || !ref[0].GetController() {
					t.Errorf("owner references %v", ref)
				}
				if p.Create.Metadata.Labels["app"] != "hello" || p.Create.Spec.Template == nil {
					t.Errorf("job not from the template: %v", p.Create)
				}
			}
			var deletes, events, act []string
			for _, j := range p.Delete {
				deletes = append(deletes, j.Metadata.Name)
			}
			for _, e := range p.Events {
				events = append(events, e.Reason)
			}
			st := c.cj.Status
			if p.Status != nil {
				st = p.Status
			}
			for _, r := range st.Active {
				act = append(act, r.GetName())
			}
			for what, got := range map[string][2][]string{"deletes": {deletes, c.deletes}, "events": {events, c.events}, "active": {act, c.active}} {
				if strings.Join(got[0], ",") != strings.Join(got[1], ",") {
					t.Errorf("%s %v, want %v", what, got[0], got[1])
				}
			}
			if p.RequeueAfter != c.next {
				t.Errorf("requeue after %v, want %v", p.RequeueAfter, c.next)
			}
		})
	}
}

func TestDecideLastSuccessfulTime(t *testing.T) {
	done := job(at(10, 5), api.JobComplete)
	p := Decide(Input{CronJob: cronJob("*/5 * * * *", active(job(at(10, 5), "")), lastScheduled(at(10, 5))), Jobs: []*batchv1.Job{done}, Now: at(10, 6)})
	if p.Status == nil || !p.Status.LastSuccessfulTime.AsTime().Equal(done.Status.CompletionTime.AsTime()) || len(p.Status.Active) != 0 {
		t.Fatalf("status %v", p.Status)
	}
	// Nothing new: nothing written.
	cj := cronJob("*/5 * * * *", lastScheduled(at(10, 5)))
	cj.Status.LastSuccessfulTime = done.Status.CompletionTime
	if p := Decide(Input{CronJob: cj, Jobs: []*batchv1.Job{done}, Now: at(10, 6)}); p.Status != nil {
		t.Fatalf("status written again: %v", p.Status)
	}
}

func TestMostRecentManyMissed(t *testing.T) {
	sched, err := api.ParseCronSchedule("* * * * *", "")
	if err != nil {
		t.Fatal(err)
	}
	got, n := MostRecent(sched, at(0, 0), at(23, 59).Add(30*time.Second))
	if !got.Equal(at(23, 59)) || n != 24*60-1 {
		t.Fatalf("most recent %v (%d missed), want 23:59 (1439)", got, n)
	}
	if _, n := MostRecent(sched, at(10, 0), at(10, 0).Add(59*time.Second)); n != 0 {
		t.Fatalf("%d missed within the minute", n)
	}
}
