// Package cronjob is the CronJob controller: at each time of a CronJob's
// schedule it creates a Job from the CronJob's job template, keeping to
// its concurrency policy, starting deadline and history limits, and keeps
// status.active, lastScheduleTime and lastSuccessfulTime.
//
// sync reads the caches, Decide (pure) plans, and apply performs the plan.
// Time comes from an injectable clock, which also drives the wake-ups at
// schedule times (the queue's delays run on it).
package cronjob

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/controller"
)

// Controller reconciles CronJobs. Create it with New, then Run.
type Controller struct {
	client   *client.Client
	cronJobs *informer.Informer[*batchv1.CronJob]
	jobs     *informer.Informer[*batchv1.Job]
	queue    workqueue.Interface[string]
	rec      record.EventRecorder
	clock    clock.WithTicker
	log      *zap.Logger
}

// New registers the controller's handlers on f's CronJob and Job
// informers. clk is the controller's time (nil: the real clock); rec may
// be nil (no events); log may be nil.
func New(c *client.Client, f *informer.Factory, clk clock.WithTicker, rec record.EventRecorder, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	ctl := &Controller{client: c, cronJobs: f.CronJobs(), jobs: f.Jobs(),
		queue: workqueue.NewWithClock[string]("cronjob", clk), rec: rec, clock: clk, log: log.Named("cronjob")}
	ctl.cronJobs.AddEventHandler(controller.EnqueueHandlers[*batchv1.CronJob](ctl.queue))
	ctl.jobs.AddEventHandler(controller.ChangeHandlers(func(j *batchv1.Job) {
		if ref := api.ControllerRef(j.GetMetadata()); ref != nil && ref.GetKind() == "CronJob" {
			ctl.queue.Add(informer.Key(j.GetMetadata().GetNamespace(), ref.GetName()))
		}
	}))
	return ctl
}

// Run waits for the caches, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.cronJobs.HasSynced, c.jobs.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

func (c *Controller) sync(ctx context.Context, key string) error {
	cj, ok := c.cronJobs.Store().Get(key)
	if !ok {
		return nil
	}
	jobs, err := c.jobs.Store().ByIndex(informer.ControllerUIDIndex, cj.GetMetadata().GetUid())
	if err != nil {
		return err
	}
	// An active Job the cache does not show yet (just created) is read
	// from the apiserver, so that it is not taken for a missing one.
	for _, ref := range cj.GetStatus().GetActive() {
		if !hasUID(jobs, ref.GetUid()) {
			j, err := c.client.Jobs(ref.GetNamespace()).Get(ctx, ref.GetName())
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				return err
			case j.GetMetadata().GetUid() == ref.GetUid():
				jobs = append(jobs, j)
			}
		}
	}
	plan := Decide(Input{CronJob: cj, Jobs: jobs, Now: c.clock.Now()})
	if plan.RequeueAfter > 0 {
		c.queue.AddAfter(key, plan.RequeueAfter)
	}
	return c.apply(ctx, cj, plan)
}

// apply performs plan: deletes, events, the create (recording
// SuccessfulCreate and adding the new Job to status.active, or
// FailedCreate), then the status.
func (c *Controller) apply(ctx context.Context, cj *batchv1.CronJob, plan Plan) error {
	ns := cj.GetMetadata().GetNamespace()
	var errs []error
	for _, j := range plan.Delete {
		_, _, err := c.client.Jobs(ns).Delete(ctx, j.GetMetadata().GetName(), client.DeleteOptions{
			PropagationPolicy: "Background", Preconditions: &client.Preconditions{UID: j.GetMetadata().GetUid()}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("deleting job %s: %w", j.GetMetadata().GetName(), err))
		}
	}
	controller.RecordEvents(c.rec, cj, plan.Events...)
	st := plan.Status
	if plan.Create != nil {
		created, err := c.client.Jobs(ns).Create(ctx, plan.Create, client.CreateOptions{})
		switch {
		case apierrors.IsAlreadyExists(err):
			// Created before (its status write was lost): the Job joins
			// status.active once the cache shows it.
		case err != nil:
			controller.RecordEvents(c.rec, cj, warning("FailedCreate", fmt.Sprintf("Error creating job: %v", err)))
			return errors.Join(append(errs, fmt.Errorf("creating job: %w", err))...)
		default:
			controller.RecordEvents(c.rec, cj, normal("SuccessfulCreate", "Created job "+created.GetMetadata().GetName()))
			st.Active = append(st.Active, jobRef(created))
		}
	}
	if st != nil {
		next := proto.Clone(cj).(*batchv1.CronJob)
		next.Status = st
		if _, err := c.client.CronJobs(ns).UpdateStatus(ctx, next, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("updating status: %w", err))
		}
	}
	return errors.Join(errs...)
}

func hasUID(jobs []*batchv1.Job, uid string) bool {
	for _, j := range jobs {
		if j.GetMetadata().GetUid() == uid {
			return true
		}
	}
	return false
}
