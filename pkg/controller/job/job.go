// Package job is the Job controller: it runs a Job's pods until
// spec.completions of them have succeeded (at most spec.parallelism at
// once), or fails the Job after more than spec.backoffLimit pod failures
// or past spec.activeDeadlineSeconds; it suspends and resumes Jobs, and
// deletes finished Jobs after ttlSecondsAfterFinished.
//
// In Indexed completion mode each pod has a completion index in
// [0, completions) (annotation and label batch.kubernetes.io/job-completion-index,
// env JOB_COMPLETION_INDEX, hostname <job>-<index>, name <job>-<index>-…):
// at most parallelism pods are active, at most one per index, the lowest
// missing indexes first, and the Job is complete once every index has a
// Succeeded pod. The succeeded indexes are kept in status.completedIndexes
// ("1,3-5,7"), and status.succeeded counts them. Failed pods count toward
// backoffLimit as in NonIndexed mode; backoffLimitPerIndex,
// maxFailedIndexes and status.failedIndexes are not implemented.
//
// Counts come from the Job's pods as the informer shows them: a finished
// pod deleted before its Job finishes is no longer counted (except the
// succeeded indexes of an Indexed Job, which status.completedIndexes
// remembers).
//
// sync reads the caches and decides (planNonIndexed, planIndexed are pure);
// apply performs the creates and deletes, under expectations.
package job

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/controller"
)

// DefaultPodFailureBackoff is the delay before a Job replaces a failed pod,
// doubled for each further failure up to MaxPodFailureBackoff, as in
// Kubernetes.
const (
	DefaultPodFailureBackoff = 10 * time.Second
	MaxPodFailureBackoff     = 6 * time.Minute
)

// Controller reconciles Jobs. Create it with New, then Run.
type Controller struct {
	client     *client.Client
	jobs       *informer.Informer[*batchv1.Job]
	pods       *informer.Informer[*corev1.Pod]
	queue      workqueue.Interface[string]
	exp        *controller.Expectations
	podControl controller.PodControl
	rec        record.EventRecorder
	clock      clock.Clock
	log        *zap.Logger
	// PodFailureBackoff is the first delay before replacing a failed pod
	// (DefaultPodFailureBackoff). Set it before Run.
	PodFailureBackoff time.Duration
}

// New registers the controller's handlers on f's Job and Pod informers.
// rec may be nil (no events); log may be nil.
func New(c *client.Client, f *informer.Factory, rec record.EventRecorder, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	exp := controller.NewExpectations(nil)
	ctl := &Controller{client: c, jobs: f.Jobs(), pods: f.Pods(), queue: workqueue.New[string]("job"),
		exp: exp, podControl: controller.PodControl{Client: c, Recorder: rec, Expectations: exp}, rec: rec, clock: clock.RealClock{}, log: log.Named("job"),
		PodFailureBackoff: DefaultPodFailureBackoff}
	ctl.jobs.AddEventHandler(informer.HandlerFuncs[*batchv1.Job]{
		AddFunc:    func(j *batchv1.Job) { ctl.queue.Add(informer.KeyOf(j)) },
		UpdateFunc: func(_, j *batchv1.Job) { ctl.queue.Add(informer.KeyOf(j)) },
		DeleteFunc: func(j *batchv1.Job) { ctl.exp.Forget(informer.KeyOf(j)) },
	})
	ctl.pods.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
		AddFunc: func(p *corev1.Pod) {
			if key, ok := ctl.owner(p); ok {
				ctl.exp.CreationObserved(key)
				ctl.queue.Add(key)
			}
		},
		UpdateFunc: func(_, p *corev1.Pod) {
			if key, ok := ctl.owner(p); ok {
				if p.GetMetadata().GetDeletionTimestamp() != nil {
					ctl.exp.DeletionObserved(key, p.GetMetadata().GetUid())
				}
				ctl.queue.Add(key)
			}
		},
		DeleteFunc: func(p *corev1.Pod) {
			if key, ok := ctl.owner(p); ok {
				ctl.exp.DeletionObserved(key, p.GetMetadata().GetUid())
				ctl.queue.Add(key)
			}
		},
	})
	return ctl
}

// Run waits for the caches, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.jobs.HasSynced, c.pods.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

func (c *Controller) owner(p *corev1.Pod) (string, bool) {
	ref := api.ControllerRef(p.GetMetadata())
	if ref == nil || ref.GetKind() != "Job" {
		return "", false
	}
	return informer.Key(p.GetMetadata().GetNamespace(), ref.GetName()), true
}

// finished returns the Job's Complete or Failed condition, if true.
func finished(j *batchv1.Job) *batchv1.JobCondition {
	for _, cond := range j.GetStatus().GetConditions() {
		if (cond.GetType() == "Complete" || cond.GetType() == "Failed") && cond.GetStatus() == "True" {
			return cond
		}
	}
	return nil
}

func (c *Controller) sync(ctx context.Context, key string) error {
	j, ok := c.jobs.Store().Get(key)
	if !ok {
		c.exp.Forget(key)
		return nil
	}
	now := c.clock.Now()
	if done := finished(j); done != nil {
		return c.expire(ctx, j, now)
	}
	var owned []*corev1.Pod
	pods, _ := c.pods.Store().ByIndex(informer.ControllerUIDIndex, j.GetMetadata().GetUid())
	owned = append(owned, pods...)
	var active []*corev1.Pod
	var succeeded, failed, ready, terminating int32
	var lastFailure time.Time
	for _, p := range owned {
		switch {
		case p.GetStatus().GetPhase() == "Succeeded":
			succeeded++
		case p.GetStatus().GetPhase() == "Failed":
			failed++
			if t := finishTime(p); t.After(lastFailure) {
				lastFailure = t
			}
		case p.GetMetadata().GetDeletionTimestamp() != nil:
			terminating++
		default:
			active = append(active, p)
			if controller.IsPodReady(p) {
				ready++
			}
		}
	}
	st := proto.Clone(orEmpty(j.GetStatus())).(*batchv1.JobStatus)
	completions := j.GetSpec().Completions
	// Validation makes an Indexed Job give completions.
	indexed := j.GetSpec().GetCompletionMode() == "Indexed" && completions != nil
	var done []int // an Indexed Job's succeeded indexes
	if indexed {
		done = succeededIndexes(st.GetCompletedIndexes(), owned, *completions)
		succeeded = int32(len(done))
		st.CompletedIndexes = formatIndexes(done)
	}
	st.Succeeded, st.Failed, st.Ready, st.Terminating = succeeded, failed, &ready, &terminating
	suspended := j.GetSpec().GetSuspend()
	if !suspended && st.StartTime == nil {
		st.StartTime = timestamppb.New(now)
	}
	if suspended {
		setCondition(st, "Suspended", true, "JobSuspended", "Job suspended", now)
	} else {
		setCondition(st, "Suspended", false, "JobResumed", "Job resumed", now)
	}

	var err error
	switch {
	case failed > j.GetSpec().GetBackoffLimit():
		err = c.finish(ctx, j, st, active, "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit", now)
	case !suspended && j.GetSpec().ActiveDeadlineSeconds != nil && st.StartTime != nil &&
		!now.Before(st.StartTime.AsTime().Add(time.Duration(*j.GetSpec().ActiveDeadlineSeconds)*time.Second)):
		err = c.finish(ctx, j, st, active, "Failed", "DeadlineExceeded", "Job was active longer than specified deadline", now)
	case completions != nil && succeeded >= *completions, completions == nil && succeeded > 0 && len(active) == 0:
		err = c.finish(ctx, j, st, active, "Complete", "", "", now)
	default:
		want := int32(0)
		if !suspended {
			want = j.GetSpec().GetParallelism()
			if completions != nil {
				want = min(want, *completions-succeeded)
			} else if succeeded > 0 {
				want = 0 // a work queue: once one succeeded, no new pods
			}
		}
		var plan actions
		if indexed {
			plan = planIndexed(active, done, *completions, want, now)
		} else {
			plan = planNonIndexed(active, want, now)
		}
		if failed > 0 && len(plan.create) > 0 {
			if wait := lastFailure.Add(c.backoff(failed)).Sub(now); wait > 0 {
				c.queue.AddAfter(key, wait)
				plan.create = nil
			}
		}
		if (len(plan.create) > 0 || len(plan.remove) > 0) && c.exp.Satisfied(key) {
			err = c.apply(ctx, key, j, plan)
		}
		if d := j.GetSpec().ActiveDeadlineSeconds; d != nil && !suspended {
			c.queue.AddAfter(key, st.StartTime.AsTime().Add(time.Duration(*d)*time.Second).Sub(now))
		}
		st.Active = int32(len(active))
	}
	return errors.Join(err, c.writeStatus(ctx, j, st))
}

// backoff is the delay before replacing a pod after n failures.
func (c *Controller) backoff(n int32) time.Duration {
	d := c.PodFailureBackoff
	for i := int32(1); i < n && d < MaxPodFailureBackoff; i++ {
		d *= 2
	}
	return min(d, MaxPodFailureBackoff)
}

// apply performs plan: it expects its creates and deletes, then makes
// them (the creates concurrently).
func (c *Controller) apply(ctx context.Context, key string, j *batchv1.Job, plan actions) error {
	uids := make([]string, len(plan.remove))
	for i, p := range plan.remove {
		uids[i] = p.GetMetadata().GetUid()
	}
	c.exp.Expect(key, len(plan.create), uids)
	created := make([]error, len(plan.create))
	var wg sync.WaitGroup
	for i, ix := range plan.create {
		wg.Go(func() { created[i] = c.createPod(ctx, key, j, ix) })
	}
	var errs []error
	for _, p := range plan.remove {
		errs = append(errs, c.podControl.Delete(ctx, key, j, p))
	}
	wg.Wait()
	return errors.Join(append(errs, created...)...)
}

// createPod creates a pod of j from its template: with completion index
// ix, or without one when ix < 0.
func (c *Controller) createPod(ctx context.Context, key string, j *batchv1.Job, ix int) error {
	if ix < 0 {
		return c.podControl.Create(ctx, key, j, j.GetSpec().GetTemplate())
	}
	return c.podControl.CreatePod(ctx, key, j, indexedPod(j, ix))
}

func (c *Controller) deletePods(ctx context.Context, key string, j *batchv1.Job, pods []*corev1.Pod) error {
	uids := make([]string, len(pods))
	for i, p := range pods {
		uids[i] = p.GetMetadata().GetUid()
	}
	c.exp.Expect(key, 0, uids)
	var errs []error
	for _, p := range pods {
		errs = append(errs, c.podControl.Delete(ctx, key, j, p))
	}
	return errors.Join(errs...)
}

// finish marks the Job Complete or Failed and deletes its active pods.
func (c *Controller) finish(ctx context.Context, j *batchv1.Job, st *batchv1.JobStatus, active []*corev1.Pod, typ, reason, message string, now time.Time) error {
	err := c.deletePods(ctx, informer.KeyOf(j), j, active)
	st.Active = 0
	setCondition(st, typ, true, reason, message, now)
	if typ == "Complete" {
		st.CompletionTime = timestamppb.New(now)
		c.event(j, record.Normal, "Completed", "Job completed")
	} else {
		c.event(j, record.Warning, reason, "%s", message)
	}
	return err
}

// expire deletes a finished Job once ttlSecondsAfterFinished has passed
// (its pods go with it, through the garbage collector).
func (c *Controller) expire(ctx context.Context, j *batchv1.Job, now time.Time) error {
	ttl := j.GetSpec().TtlSecondsAfterFinished
	if ttl == nil {
		return nil
	}
	at := finished(j).GetLastTransitionTime().AsTime().Add(time.Duration(*ttl) * time.Second)
	if now.Before(at) {
		c.queue.AddAfter(informer.KeyOf(j), at.Sub(now))
		return nil
	}
	_, _, err := c.client.Jobs(j.GetMetadata().GetNamespace()).Delete(ctx, j.GetMetadata().GetName(),
		client.DeleteOptions{Preconditions: &client.Preconditions{UID: j.GetMetadata().GetUid()}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting finished job: %w", err)
	}
	return nil
}

func (c *Controller) writeStatus(ctx context.Context, j *batchv1.Job, st *batchv1.JobStatus) error {
	if proto.Equal(st, j.GetStatus()) {
		return nil
	}
	next := proto.Clone(j).(*batchv1.Job)
	next.Status = st
	if _, err := c.client.Jobs(j.GetMetadata().GetNamespace()).UpdateStatus(ctx, next, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating status: %w", err)
	}
	return nil
}

func (c *Controller) event(j *batchv1.Job, typ, reason, format string, args ...any) {
	if c.rec != nil {
		c.rec.Eventf(j, typ, reason, format, args...)
	}
}

// setCondition sets (or, when false and absent, leaves out) a condition.
// A condition already in that state is left as it is, so that a sync
// that changes nothing writes nothing.
func setCondition(st *batchv1.JobStatus, typ string, on bool, reason, message string, now time.Time) {
	status := map[bool]string{true: "True", false: "False"}[on]
	for _, cond := range st.Conditions {
		if cond.GetType() == typ {
			if cond.GetStatus() != status || cond.GetReason() != reason || cond.GetMessage() != message {
				if cond.GetStatus() != status {
					cond.LastTransitionTime = timestamppb.New(now)
				}
				cond.Status, cond.Reason, cond.Message, cond.LastProbeTime = status, reason, message, timestamppb.New(now)
			}
			return
		}
	}
	if on {
		st.Conditions = append(st.Conditions, &batchv1.JobCondition{Type: typ, Status: status, Reason: reason, Message: message,
			LastProbeTime: timestamppb.New(now), LastTransitionTime: timestamppb.New(now)})
	}
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
