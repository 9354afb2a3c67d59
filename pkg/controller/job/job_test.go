package job_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/controller/job"
)

type env struct{ *controllertest.Env }

// start runs the Job controller against a real apiserver and plays the
// kubelet: a new pod runs, then succeeds, or fails when its container has
// OUTCOME=fail, or keeps running with OUTCOME=hang.
func start(t *testing.T) *env {
	return &env{controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		ctl := job.New(c, f, nil, nil)
		ctl.PodFailureBackoff = 10 * time.Millisecond
		pods := make(chan *corev1.Pod, 1024)
		f.Pods().AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{AddFunc: func(p *corev1.Pod) { pods <- p }})
		return func(ctx context.Context) {
			go ctl.Run(ctx, 2)
			for {
				select {
				case <-ctx.Done():
					return
				case p := <-pods:
					phase := api.PodSucceeded
					for _, e := range p.GetSpec().GetContainers()[0].GetEnv() {
						if e.GetName() == "OUTCOME" {
							phase = map[string]string{"succeed": api.PodSucceeded, "fail": api.PodFailed, "hang": api.PodRunning}[e.GetValue()]
						}
					}
					next := proto.Clone(p).(*corev1.Pod)
					next.Status = &corev1.PodStatus{Phase: phase, ContainerStatuses: []*corev1.ContainerStatus{{Name: "c",
						State: &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: timestamppb.Now()}}}}}
					_, _ = c.Pods(p.GetMetadata().GetNamespace()).UpdateStatus(ctx, next, client.UpdateOptions{})
				}
			}
		}
	})}
}

func newJob(name, outcome string, completions, parallelism int32) *batchv1.Job {
	return &batchv1.Job{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &batchv1.JobSpec{Completions: &completions, Parallelism: &parallelism,
			Template: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{RestartPolicy: api.RestartPolicyNever,
				Containers: []*corev1.Container{{Name: "c", Image: "busybox", Env: []*corev1.EnvVar{{Name: "OUTCOME", Value: outcome}}}}}}},
	}
}

// waitFinished waits for the Job's Complete or Failed condition, checking
// each look on the way with check, and returns the Job.
func (e *env) waitFinished(name, typ, reason string, check func(*batchv1.Job, []*corev1.Pod) error) *batchv1.Job {
	e.T.Helper()
	var j *batchv1.Job
	e.Eventually("job "+name+" "+typ, func() error {
		var err error
		if j, err = e.Client.Jobs("default").Get(e.Ctx, name); err != nil {
			return err
		}
		pods, err := e.Client.Pods("default").List(e.Ctx, client.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + name})
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(j, pods.Items); err != nil {
				e.T.Fatal(err)
			}
		}
		for _, c := range j.GetStatus().GetConditions() {
			if c.GetType() == typ && c.GetStatus() == api.ConditionTrue && c.GetReason() == reason {
				return nil
			}
		}
		return fmt.Errorf("status %v", j.GetStatus())
	})
	return j
}

func TestRunsToCompletionWithinParallelism(t *testing.T) {
	e := start(t)
	if _, err := e.Client.Jobs("default").Create(e.Ctx, newJob("pi", "succeed", 5, 2), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	j := e.waitFinished("pi", api.JobComplete, "", func(_ *batchv1.Job, pods []*corev1.Pod) error {
		running := 0
		for _, p := range pods {
			if p.GetStatus().GetPhase() != api.PodSucceeded && p.GetStatus().GetPhase() != api.PodFailed {
				running++
			}
		}
		if running > 2 {
			return fmt.Errorf("%d pods unfinished at once, parallelism 2", running)
		}
		return nil
	})
	if st := j.GetStatus(); st.GetSucceeded() != 5 || st.GetActive() != 0 || st.GetCompletionTime() == nil || st.GetStartTime() == nil {
		t.Errorf("status %v", st)
	}
}

func TestBackoffLimitFailsTheJob(t *testing.T) {
	e := start(t)
	j := newJob("flaky", "fail", 1, 1)
	one := int32(1)
	j.Spec.BackoffLimit = &one
	if _, err := e.Client.Jobs("default").Create(e.Ctx, j, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := e.waitFinished("flaky", api.JobFailed, api.JobReasonBackoffLimitExceeded, nil)
	if got.GetStatus().GetFailed() != 2 || got.GetStatus().GetSucceeded() != 0 {
		t.Errorf("status %v, want 2 failed (backoffLimit 1 + 1)", got.GetStatus())
	}
}

func TestActiveDeadlineStopsTheJob(t *testing.T) {
	e := start(t)
	j := newJob("slow", "hang", 2, 2)
	one := int64(1)
	j.Spec.ActiveDeadlineSeconds = &one
	if _, err := e.Client.Jobs("default").Create(e.Ctx, j, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFinished("slow", api.JobFailed, api.JobReasonDeadlineExceeded, nil)
	e.Eventually("the deadline's active pods deleted", func() error {
		pods, err := e.Client.Pods("default").List(e.Ctx, client.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=slow"})
		if err != nil {
			return err
		}
		if len(pods.Items) != 0 {
			return fmt.Errorf("%d pods left", len(pods.Items))
		}
		return nil
	})
}

func TestSuspendResumeAndTTL(t *testing.T) {
	e := start(t)
	j := newJob("later", "succeed", 2, 2)
	yes, zero := true, int32(0)
	j.Spec.Suspend = &yes
	j.Spec.TtlSecondsAfterFinished = &zero
	if _, err := e.Client.Jobs("default").Create(e.Ctx, j, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Eventually("the suspended condition", func() error {
		cur, err := e.Client.Jobs("default").Get(e.Ctx, "later")
		if err != nil {
			return err
		}
		for _, c := range cur.GetStatus().GetConditions() {
			if c.GetType() == api.JobSuspended && c.GetStatus() == api.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("status %v", cur.GetStatus())
	})
	pods, err := e.Client.Pods("default").List(e.Ctx, client.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=later"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Fatalf("a suspended job has %d pods", len(pods.Items))
	}
	cur, err := e.Client.Jobs("default").Get(e.Ctx, "later")
	if err != nil {
		t.Fatal(err)
	}
	no := false
	cur.Spec.Suspend = &no
	if _, err := e.Client.Jobs("default").Update(e.Ctx, cur, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Resumed, it completes, and ttlSecondsAfterFinished 0 deletes it.
	e.Eventually("the finished job deleted after its TTL", func() error {
		_, err := e.Client.Jobs("default").Get(e.Ctx, "later")
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("job later: %v", err)
	})
}

func TestIndexedJobRunsEachIndexOnce(t *testing.T) {
	e := start(t)
	j := newJob("idx", "hang", 5, 2)
	j.Spec.CompletionMode = proto.String(api.IndexedCompletion)
	if _, err := e.Client.Jobs("default").Create(e.Ctx, j, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const key = api.JobCompletionIndexAnnotation
	// checkPods checks every pod of the Job and returns those by index.
	checkPods := func() (map[string][]*corev1.Pod, error) {
		pods, err := e.Client.Pods("default").List(e.Ctx, client.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=idx"})
		if err != nil {
			return nil, err
		}
		byIndex, unfinished := map[string][]*corev1.Pod{}, 0
		for _, p := range pods.Items {
			ix, m := p.GetMetadata().GetAnnotations()[key], p.GetMetadata()
			byIndex[ix] = append(byIndex[ix], p)
			if len(byIndex[ix]) > 1 {
				t.Fatalf("two pods for index %q: %s, %s", ix, byIndex[ix][0].GetMetadata().GetName(), m.GetName())
			}
			if m.GetLabels()[key] != ix || !strings.HasPrefix(m.GetName(), "idx-"+ix+"-") || p.GetSpec().GetHostname() != "idx-"+ix {
				t.Fatalf("pod %s for index %q: labels %v, hostname %q", m.GetName(), ix, m.GetLabels(), p.GetSpec().GetHostname())
			}
			env := p.GetSpec().GetContainers()[0].GetEnv()
			if last := env[len(env)-1]; last.GetName() != "JOB_COMPLETION_INDEX" ||
				last.GetValueFrom().GetFieldRef().GetFieldPath() != "metadata.annotations['"+key+"']" {
				t.Fatalf("pod %s env %v", m.GetName(), env)
			}
			if p.GetStatus().GetPhase() != api.PodSucceeded {
				unfinished++
			}
		}
		if unfinished > 2 {
			t.Fatalf("%d pods unfinished at once, parallelism 2", unfinished)
		}
		return byIndex, nil
	}
	// Each round, the lowest indexes not yet succeeded run (two at most);
	// they are marked Succeeded, and status.completedIndexes follows.
	for _, round := range []struct {
		running   []string
		completed string
	}{{[]string{"0", "1"}, "0,1"}, {[]string{"2", "3"}, "0-3"}, {[]string{"4"}, "0-4"}} {
		var byIndex map[string][]*corev1.Pod
		e.Eventually(fmt.Sprintf("indexes %v running", round.running), func() error {
			var err error
			if byIndex, err = checkPods(); err != nil {
				return err
			}
			for _, ix := range round.running {
				if len(byIndex[ix]) == 0 || byIndex[ix][0].GetStatus().GetPhase() != api.PodRunning {
					return fmt.Errorf("index %s not running yet", ix)
				}
			}
			return nil
		})
		for _, ix := range round.running {
			next := proto.Clone(byIndex[ix][0]).(*corev1.Pod)
			next.Status.Phase = api.PodSucceeded
			if _, err := e.Client.Pods("default").UpdateStatus(e.Ctx, next, client.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if round.completed == "0-4" {
			break
		}
		e.Eventually("completedIndexes "+round.completed, func() error {
			cur, err := e.Client.Jobs("default").Get(e.Ctx, "idx")
			if err != nil {
				return err
			}
			if cur.GetStatus().GetCompletedIndexes() != round.completed {
				return fmt.Errorf("status %v", cur.GetStatus())
			}
			return nil
		})
	}
	got := e.waitFinished("idx", api.JobComplete, "", func(*batchv1.Job, []*corev1.Pod) error { _, err := checkPods(); return err })
	if st := got.GetStatus(); st.GetCompletedIndexes() != "0-4" || st.GetSucceeded() != 5 || st.GetActive() != 0 || st.GetCompletionTime() == nil {
		t.Errorf("status %v", st)
	}
	byIndex, err := checkPods()
	if err != nil {
		t.Fatal(err)
	}
	if len(byIndex) != 5 {
		t.Errorf("pods for indexes %v, want one for each of 0-4", byIndex)
	}
}

func TestIndexedJobRetriesAFailedIndexUpToBackoffLimit(t *testing.T) {
	e := start(t)
	j := newJob("idxfail", "fail", 1, 1)
	j.Spec.CompletionMode = proto.String(api.IndexedCompletion)
	j.Spec.BackoffLimit = proto.Int32(1)
	if _, err := e.Client.Jobs("default").Create(e.Ctx, j, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := e.waitFinished("idxfail", api.JobFailed, api.JobReasonBackoffLimitExceeded, nil)
	if st := got.GetStatus(); st.GetFailed() != 2 || st.GetSucceeded() != 0 || st.GetCompletedIndexes() != "" {
		t.Errorf("status %v, want 2 failed (backoffLimit 1 + 1)", st)
	}
	pods, err := e.Client.Pods("default").List(e.Ctx, client.ListOptions{LabelSelector: api.JobCompletionIndexAnnotation + "=0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 2 {
		t.Errorf("%d pods for index 0, want the failed one and its replacement", len(pods.Items))
	}
}
