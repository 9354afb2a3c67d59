// Package job is the Job controller: it runs a Job's pods until
// spec.completions of them have succeeded (at most spec.parallelism at
// once), or fails the Job after more than spec.backoffLimit pod failures,
// past spec.activeDeadlineSeconds (its active pods are deleted and count
// as failed), or when a spec.podFailurePolicy FailJob rule matches a
// failed pod (an Ignore rule's pods are not counted); it suspends Jobs
// (deleting their active pods) and resumes them (startTime restarts), and
// deletes finished Jobs after ttlSecondsAfterFinished.
//
// In Indexed completion mode each pod has a completion index in
// [0, completions) (annotation and label batch.kubernetes.io/job-completion-index,
// env JOB_COMPLETION_INDEX, hostname <job>-<index>, name <job>-<index>-…):
// at most parallelism pods are active, at most one per index, the lowest
// missing indexes first, and the Job is complete once every index has a
// Succeeded pod. The succeeded indexes are kept in status.completedIndexes
// ("1,3-5,7"), and status.succeeded counts them. Failed pods count toward
// backoffLimit as in NonIndexed mode. With backoffLimitPerIndex an index
// whose failed pods exceed it (or whose pod matched a FailIndex rule of
// the pod failure policy) fails on its own: it is kept in
// status.failedIndexes and gets no more pods. More failed indexes than
// maxFailedIndexes fail the Job (MaxFailedIndexesExceeded), and so does
// every index having finished with some failed (FailedIndexes).
//
// Counts come from the Job's pods as the informer shows them: a finished
// pod deleted before its Job finishes is no longer counted (except the
// succeeded indexes of an Indexed Job, which status.completedIndexes
// remembers).
//
// sync reads the caches, Decide (pure) plans, and apply performs the plan
// through a narrow writer, under expectations.
package job

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
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
		exp: exp, podControl: controller.PodControl{Client: c, Recorder: rec, Expectations: exp}, clock: clock.RealClock{}, log: log.Named("job"),
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

func (c *Controller) sync(ctx context.Context, key string) error {
	j, ok := c.jobs.Store().Get(key)
	if !ok {
		c.exp.Forget(key)
		return nil
	}
	in := Input{Job: j, Now: c.clock.Now(), PodFailureBackoff: c.PodFailureBackoff}
	if api.JobFinishedCondition(j) == nil {
		pods, err := c.pods.Store().ByIndex(informer.ControllerUIDIndex, j.GetMetadata().GetUid())
		if err != nil {
			return err
		}
		in.Pods, in.Satisfied = pods, c.exp.Satisfied(key)
	}
	plan := Decide(in)
	if plan.RequeueAfter > 0 {
		c.queue.AddAfter(key, plan.RequeueAfter)
	}
	return c.apply(ctx, clientWriter{c.client, c.podControl}, key, j, plan)
}

// writer is what the executor writes through.
type writer interface {
	// createPod creates a pod of j (under key's expectations): with
	// completion index ix, or without one when ix < 0.
	createPod(ctx context.Context, key string, j *batchv1.Job, ix int) error
	// deletePod deletes one of j's pods (a pod gone is not an error).
	deletePod(ctx context.Context, key string, j *batchv1.Job, p *corev1.Pod) error
	// updateStatus writes j's status (a Job gone is not an error).
	updateStatus(ctx context.Context, j *batchv1.Job) error
	// deleteJob deletes j if it still has j's uid.
	deleteJob(ctx context.Context, j *batchv1.Job) error
	event(j *batchv1.Job, e controller.Event)
}

// apply performs plan: it expects its creates and deletes, then makes
// them (the creates concurrently), records its events and writes the
// status, or deletes the Job.
func (c *Controller) apply(ctx context.Context, w writer, key string, j *batchv1.Job, plan Plan) error {
	if plan.DeleteJob {
		return w.deleteJob(ctx, j)
	}
	var errs []error
	if len(plan.Create) > 0 || len(plan.Delete) > 0 {
		uids := make([]string, len(plan.Delete))
		for i, p := range plan.Delete {
			uids[i] = p.GetMetadata().GetUid()
		}
		c.exp.Expect(key, len(plan.Create), uids)
		created := make([]error, len(plan.Create))
		var wg sync.WaitGroup
		for i, ix := range plan.Create {
			wg.Go(func() { created[i] = w.createPod(ctx, key, j, ix) })
		}
		for _, p := range plan.Delete {
			errs = append(errs, w.deletePod(ctx, key, j, p))
		}
		wg.Wait()
		errs = append(errs, created...)
	}
	for _, e := range plan.Events {
		w.event(j, e)
	}
	if plan.Status != nil {
		next := proto.Clone(j).(*batchv1.Job)
		next.Status = plan.Status
		if err := w.updateStatus(ctx, next); err != nil {
			errs = append(errs, fmt.Errorf("updating status: %w", err))
		}
	}
	return errors.Join(errs...)
}

// clientWriter writes through the API.
type clientWriter struct {
	client     *client.Client
	podControl controller.PodControl
}

func (w clientWriter) createPod(ctx context.Context, key string, j *batchv1.Job, ix int) error {
	if ix < 0 {
		return w.podControl.Create(ctx, key, j, j.GetSpec().GetTemplate())
	}
	return w.podControl.CreatePod(ctx, key, j, indexedPod(j, ix))
}

func (w clientWriter) deletePod(ctx context.Context, key string, j *batchv1.Job, p *corev1.Pod) error {
	return w.podControl.Delete(ctx, key, j, p)
}

func (w clientWriter) updateStatus(ctx context.Context, j *batchv1.Job) error {
	_, err := w.client.Jobs(j.GetMetadata().GetNamespace()).UpdateStatus(ctx, j, client.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// deleteJob deletes a finished Job (its pods go with it, through the
// garbage collector); gone, or replaced by another of its name, is done.
func (w clientWriter) deleteJob(ctx context.Context, j *batchv1.Job) error {
	_, _, err := w.client.Jobs(j.GetMetadata().GetNamespace()).Delete(ctx, j.GetMetadata().GetName(),
		client.DeleteOptions{Preconditions: &client.Preconditions{UID: j.GetMetadata().GetUid()}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting finished job: %w", err)
	}
	return nil
}

func (w clientWriter) event(j *batchv1.Job, e controller.Event) {
	controller.RecordEvents(w.podControl.Recorder, j, e)
}
