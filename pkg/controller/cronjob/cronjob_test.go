package cronjob_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	clocktesting "k8s.io/utils/clock/testing"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/controller/cronjob"
)

func newCronJob(name, schedule string) *batchv1.CronJob {
	return &batchv1.CronJob{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: &batchv1.CronJobSpec{
		Schedule: schedule,
		JobTemplate: &batchv1.JobTemplateSpec{Spec: &batchv1.JobSpec{Template: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{
			RestartPolicy: api.RestartPolicyOnFailure, Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}}},
	}}
}

// TestCronJobRunsOnSchedule runs the controller against a real apiserver
// on a fake clock the test steps a minute at a time, playing the Job
// controller (each Job completes at once): a Job per minute, named for
// its minute, and only the last three successful ones kept.
func TestCronJobRunsOnSchedule(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	e := controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		ctl := cronjob.New(c, f, clk, nil, nil)
		jobs := make(chan *batchv1.Job, 64)
		f.Jobs().AddEventHandler(informer.HandlerFuncs[*batchv1.Job]{AddFunc: func(j *batchv1.Job) { jobs <- j }})
		return func(ctx context.Context) {
			go ctl.Run(ctx, 2)
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-jobs:
					next := proto.Clone(j).(*batchv1.Job)
					now := timestamppb.New(clk.Now())
					next.Status = &batchv1.JobStatus{StartTime: now, CompletionTime: now, Succeeded: 1,
						Conditions: []*batchv1.JobCondition{{Type: api.JobComplete, Status: api.ConditionTrue, LastTransitionTime: now}}}
					_, _ = c.Jobs("default").UpdateStatus(ctx, next, client.UpdateOptions{})
				}
			}
		}
	})
	cj, err := e.Client.CronJobs("default").Create(e.Ctx, newCronJob("tick", "* * * * *"), client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cj.GetSpec(); got.GetConcurrencyPolicy() != api.ConcurrencyAllow || got.GetSuccessfulJobsHistoryLimit() != 3 || got.GetFailedJobsHistoryLimit() != 1 || got.Suspend == nil {
		t.Fatalf("defaults not applied: %v", got)
	}
	seen := map[string]bool{}
	for i := 1; i <= 5; i++ {
		clk.Step(time.Minute)
		want := cronjob.JobName("tick", clk.Now().Truncate(time.Minute))
		e.Eventually("job "+want, func() error {
			j, err := e.Client.Jobs("default").Get(e.Ctx, want)
			if err != nil {
				return err
			}
			if ref := api.ControllerRef(j.GetMetadata()); ref.GetUid() != cj.GetMetadata().GetUid() {
				return fmt.Errorf("controller %v", ref)
			}
			if ts := j.GetMetadata().GetAnnotations()[api.CronJobScheduledTimestampAnnotation]; ts == "" {
				return fmt.Errorf("no scheduled timestamp annotation")
			}
			return nil
		})
		seen[want] = true
	}
	e.Eventually("history trimmed to 3 and status written", func() error {
		list, err := e.Client.Jobs("default").List(e.Ctx, client.ListOptions{})
		if err != nil {
			return err
		}
		var names []string
		for _, j := range list.Items {
			if !seen[j.GetMetadata().GetName()] {
				return fmt.Errorf("unexpected job %s", j.GetMetadata().GetName())
			}
			names = append(names, j.GetMetadata().GetName())
		}
		sort.Strings(names)
		if len(names) != 3 {
			return fmt.Errorf("jobs %v, want the last 3", names)
		}
		got, err := e.Client.CronJobs("default").Get(e.Ctx, "tick")
		if err != nil {
			return err
		}
		st := got.GetStatus()
		if len(st.GetActive()) != 0 || !st.GetLastScheduleTime().AsTime().Equal(clk.Now().Truncate(time.Minute)) || st.GetLastSuccessfulTime() == nil {
			return fmt.Errorf("status %v", st)
		}
		return nil
	})
	// Suspended: no more Jobs.
	cj, _ = e.Client.CronJobs("default").Get(e.Ctx, "tick")
	cj.Spec.Suspend = proto.Bool(true)
	if _, err := e.Client.CronJobs("default").Update(e.Ctx, cj, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	clk.Step(time.Minute)
	suspendedName := cronjob.JobName("tick", clk.Now().Truncate(time.Minute))
	// Resumed a minute later: only the latest minute runs, not the one
	// missed while suspended.
	clk.Step(time.Minute)
	cj, _ = e.Client.CronJobs("default").Get(e.Ctx, "tick")
	cj.Spec.Suspend = proto.Bool(false)
	if _, err := e.Client.CronJobs("default").Update(e.Ctx, cj, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	latest := cronjob.JobName("tick", clk.Now().Truncate(time.Minute))
	e.Eventually("job "+latest+" after resuming", func() error {
		_, err := e.Client.Jobs("default").Get(e.Ctx, latest)
		return err
	})
	if _, err := e.Client.Jobs("default").Get(e.Ctx, suspendedName); !apierrors.IsNotFound(err) {
		t.Fatalf("the missed minute's job %s: %v, want it never created", suspendedName, err)
	}
}

// TestCronJobBadSchedule: an invalid cron expression is refused with a
// field error naming spec.schedule, and nothing is stored.
func TestCronJobBadSchedule(t *testing.T) {
	e := controllertest.Start(t, func(*client.Client, *informer.Factory) func(context.Context) {
		return func(context.Context) {}
	})
	for _, s := range []string{"61 * * * *", "every day", "TZ=UTC * * * * *"} {
		_, err := e.Client.CronJobs("default").Create(e.Ctx, newCronJob("bad", s), client.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.schedule") {
			t.Errorf("schedule %q: %v, want Invalid naming spec.schedule", s, err)
		}
	}
	if list, err := e.Client.CronJobs("default").List(e.Ctx, client.ListOptions{}); err != nil || len(list.Items) != 0 {
		t.Fatalf("stored: %v %v", list, err)
	}
}
