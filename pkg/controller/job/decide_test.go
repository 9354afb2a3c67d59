package job

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func i32(v int32) *int32   { return &v }
func i64(v int64) *int64   { return &v }
func yes() *bool           { b := true; return &b }
func indexedMode() *string { s := api.IndexedCompletion; return &s }

// jobPod is a pod of the Job in phase ph; ix >= 0 gives it a completion
// index; finished is when its container ended (failed pods).
func jobPod(name, ph string, ix int, finished time.Time) *corev1.Pod {
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Uid: "uid-" + name, CreationTimestamp: timestamppb.New(t0.Add(-time.Hour))},
		Spec: &corev1.PodSpec{NodeName: "n1"}, Status: &corev1.PodStatus{Phase: ph}}
	if ix >= 0 {
		p.Metadata.Annotations = map[string]string{api.JobCompletionIndexAnnotation: strconv.Itoa(ix)}
	}
	if !finished.IsZero() {
		p.Status.ContainerStatuses = []*corev1.ContainerStatus{{Name: "c", State: &corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{FinishedAt: timestamppb.New(finished)}}}}
	}
	return p
}

// ready marks the pod Ready.
func ready(p *corev1.Pod) *corev1.Pod {
	p.Status.Conditions = append(p.Status.Conditions, &corev1.PodCondition{Type: api.PodReady, Status: api.ConditionTrue})
	return p
}

// exited gives the pod's container the exit code.
func exited(p *corev1.Pod, code int32) *corev1.Pod {
	p.Status.ContainerStatuses[0].State.Terminated.ExitCode = code
	return p
}

// disrupted gives the pod the DisruptionTarget condition.
func disrupted(p *corev1.Pod) *corev1.Pod {
	p.Status.Conditions = append(p.Status.Conditions, &corev1.PodCondition{Type: api.DisruptionTarget, Status: api.ConditionTrue})
	return p
}

// failurePolicy fails the Job on exit code 42 and ignores disruptions.
func failurePolicy() *batchv1.PodFailurePolicy {
	return &batchv1.PodFailurePolicy{Rules: []*batchv1.PodFailurePolicyRule{
		{Action: api.PodFailurePolicyFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: api.PodFailurePolicyOpIn, Values: []int32{42}}},
		{Action: api.PodFailurePolicyIgnore, OnPodConditions: []*batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: api.DisruptionTarget}}},
	}}
}

func podNames(pods []*corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.GetMetadata().GetName())
	}
	return fmt.Sprint(out)
}

func condition(st *batchv1.JobStatus, typ string) *batchv1.JobCondition {
	for _, c := range st.GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// perIndexSpec is an Indexed Job of completions indexes, all at once,
// with backoffLimitPerIndex limit (backoffLimit defaulted as Kubernetes
// does then: unbounded).
func perIndexSpec(completions, limit int32, maxFailed *int32, pol *batchv1.PodFailurePolicy) *batchv1.JobSpec {
	return &batchv1.JobSpec{Completions: i32(completions), Parallelism: i32(completions), CompletionMode: indexedMode(),
		BackoffLimit: i32(1<<31 - 1), BackoffLimitPerIndex: i32(limit), MaxFailedIndexes: maxFailed, PodFailurePolicy: pol}
}

// failedIndexesAre checks status.failedIndexes.
func failedIndexesAre(want string) func(*testing.T, *batchv1.JobStatus) {
	return func(t *testing.T, st *batchv1.JobStatus) {
		if got := st.GetFailedIndexes(); got != want {
			t.Errorf("failedIndexes %q, want %q", got, want)
		}
	}
}

func TestDecide(t *testing.T) {
	started := timestamppb.New(t0.Add(-time.Minute))
	cases := []struct {
		name string
		spec *batchv1.JobSpec
		// status before; StartTime is set to started unless it has one
		status      *batchv1.JobStatus
		pods        []*corev1.Pod
		unsatisfied bool
		backoff     time.Duration

		create    string // completion indexes to create
		delete    string
		finished  string // "Complete", "Failed/<reason>" or ""
		requeue   time.Duration
		deleteJob bool
		check     func(*testing.T, *batchv1.JobStatus)
	}{
		{name: "starts parallelism pods", spec: &batchv1.JobSpec{Completions: i32(5), Parallelism: i32(2)},
			create: "[-1 -1]", delete: "[]"},
		{name: "never more than the completions left", spec: &batchv1.JobSpec{Completions: i32(3), Parallelism: i32(5)},
			pods:   []*corev1.Pod{jobPod("s1", api.PodSucceeded, -1, time.Time{}), jobPod("s2", api.PodSucceeded, -1, time.Time{})},
			create: "[-1]", delete: "[]"},
		{name: "surplus active pods are deleted, unscheduled first", spec: &batchv1.JobSpec{Completions: i32(5), Parallelism: i32(1)},
			pods: []*corev1.Pod{jobPod("a", api.PodRunning, -1, time.Time{}), func() *corev1.Pod {
				p := jobPod("b", api.PodPending, -1, time.Time{})
				p.Spec.NodeName = ""
				return p
			}()}, create: "[]", delete: "[b]"},
		{name: "nothing while earlier writes are unseen", spec: &batchv1.JobSpec{Completions: i32(5), Parallelism: i32(2)},
			unsatisfied: true, create: "[]", delete: "[]"},
		{name: "suspended: active pods go, none start", spec: &batchv1.JobSpec{Completions: i32(5), Parallelism: i32(2), Suspend: yes()},
			pods: []*corev1.Pod{jobPod("a", api.PodRunning, -1, time.Time{})}, create: "[]", delete: "[a]"},
		{name: "completes at completions succeeded", spec: &batchv1.JobSpec{Completions: i32(2), Parallelism: i32(2)},
			pods:   []*corev1.Pod{jobPod("s1", api.PodSucceeded, -1, time.Time{}), jobPod("s2", api.PodSucceeded, -1, time.Time{})},
			create: "[]", delete: "[]", finished: api.JobComplete,
			check: func(t *testing.T, st *batchv1.JobStatus) {
				if st.GetCompletionTime() == nil || st.GetSucceeded() != 2 || st.GetActive() != 0 {
					t.Errorf("status %v", st)
				}
			}},
		{name: "work queue: completes once one succeeded and none is active", spec: &batchv1.JobSpec{Parallelism: i32(3)},
			pods: []*corev1.Pod{jobPod("s1", api.PodSucceeded, -1, time.Time{})}, create: "[]", delete: "[]", finished: api.JobComplete},
		{name: "work queue: after one succeeded, no new pods, the others finish",
			spec:   &batchv1.JobSpec{Parallelism: i32(3)},
			pods:   []*corev1.Pod{jobPod("s1", api.PodSucceeded, -1, time.Time{}), jobPod("a", api.PodRunning, -1, time.Time{})},
			create: "[]", delete: "[a]"},
		{name: "backoff limit exceeded fails the Job and deletes its active pods",
			spec: &batchv1.JobSpec{Completions: i32(5), Parallelism: i32(2), BackoffLimit: i32(1)},
			pods: []*corev1.Pod{jobPod("f1", api.PodFailed, -1, t0.Add(-time.Hour)), jobPod("f2", api.PodFailed, -1, t0.Add(-time.Hour)),
				jobPod("a", api.PodRunning, -1, time.Time{})},
			create: "[]", delete: "[a]", finished: "Failed/BackoffLimitExceeded"},
		{name: "failures up to the backoff limit are retried",
			spec:    &batchv1.JobSpec{Completions: i32(1), Parallelism: i32(1), BackoffLimit: i32(2)},
			pods:    []*corev1.Pod{jobPod("f1", api.PodFailed, -1, t0.Add(-time.Hour)), jobPod("f2", api.PodFailed, -1, t0.Add(-time.Hour))},
			backoff: 10 * time.Second, create: "[-1]", delete: "[]"},
		{name: "a failed pod is replaced only after the backoff (doubled per failure)",
			spec:    &batchv1.JobSpec{Completions: i32(1), Parallelism: i32(1), BackoffLimit: i32(6)},
			pods:    []*corev1.Pod{jobPod("f1", api.PodFailed, -1, t0.Add(-5*time.Second)), jobPod("f2", api.PodFailed, -1, t0.Add(-15*time.Second))},
			backoff: 10 * time.Second, create: "[]", delete: "[]", requeue: 15 * time.Second},
		{name: "the active deadline fails the Job: its active pods go and count as failed, none ready",
			spec: &batchv1.JobSpec{Completions: i32(5), Parallelism: i32(2), BackoffLimit: i32(6), ActiveDeadlineSeconds: i64(60)},
			pods: []*corev1.Pod{ready(jobPod("a", api.PodRunning, -1, time.Time{})), jobPod("b", api.PodRunning, -1, time.Time{}),
				jobPod("f", api.PodFailed, -1, t0.Add(-time.Hour))},
			create: "[]", delete: "[a b]", finished: "Failed/DeadlineExceeded",
			check: func(t *testing.T, st *batchv1.JobStatus) {
				if st.GetReady() != 0 || st.GetActive() != 0 || st.GetFailed() != 3 {
					t.Errorf("ready %d active %d failed %d, want 0 0 3", st.GetReady(), st.GetActive(), st.GetFailed())
				}
			}},
		{name: "resuming resets startTime",
			spec: &batchv1.JobSpec{Completions: i32(1), Parallelism: i32(1), ActiveDeadlineSeconds: i64(10)},
			status: &batchv1.JobStatus{StartTime: timestamppb.New(t0.Add(-time.Hour)),
				Conditions: []*batchv1.JobCondition{{Type: api.JobSuspended, Status: api.ConditionTrue, Reason: "JobSuspended"}}},
			create: "[-1]", delete: "[]", requeue: 10 * time.Second,
			check: func(t *testing.T, st *batchv1.JobStatus) {
				if !st.GetStartTime().AsTime().Equal(t0) || condition(st, api.JobSuspended).GetStatus() != api.ConditionFalse {
					t.Errorf("startTime %v, Suspended %v", st.GetStartTime().AsTime(), condition(st, api.JobSuspended))
				}
			}},
		{name: "podFailurePolicy FailJob fails the Job at once",
			spec:   &batchv1.JobSpec{Completions: i32(2), Parallelism: i32(2), BackoffLimit: i32(6), PodFailurePolicy: failurePolicy()},
			pods:   []*corev1.Pod{exited(jobPod("f", api.PodFailed, -1, t0.Add(-time.Hour)), 42), jobPod("a", api.PodRunning, -1, time.Time{})},
			create: "[]", delete: "[a]", finished: "Failed/PodFailurePolicy",
			check: func(t *testing.T, st *batchv1.JobStatus) {
				if c := condition(st, api.JobFailed); c.GetMessage() != "Container c for pod /f failed with exit code 42 matching FailJob rule at index 0" {
					t.Errorf("message %q", c.GetMessage())
				}
			}},
		{name: "podFailurePolicy Ignore: not counted toward backoffLimit, replaced at once",
			spec:    &batchv1.JobSpec{Completions: i32(1), Parallelism: i32(1), BackoffLimit: i32(0), PodFailurePolicy: failurePolicy()},
			pods:    []*corev1.Pod{disrupted(jobPod("f1", api.PodFailed, -1, t0)), disrupted(jobPod("f2", api.PodFailed, -1, t0))},
			backoff: time.Minute, create: "[-1]", delete: "[]",
			check: func(t *testing.T, st *batchv1.JobStatus) {
				if st.GetFailed() != 0 {
					t.Errorf("failed %d, want 0", st.GetFailed())
				}
			}},
		{name: "podFailurePolicy Count: other exit codes count toward backoffLimit",
			spec:   &batchv1.JobSpec{Completions: i32(1), Parallelism: i32(1), BackoffLimit: i32(0), PodFailurePolicy: failurePolicy()},
			pods:   []*corev1.Pod{exited(jobPod("f", api.PodFailed, -1, t0), 1)},
			create: "[]", delete: "[]", finished: "Failed/BackoffLimitExceeded"},
		{name: "before the active deadline, look again at it",
			spec:   &batchv1.JobSpec{Completions: i32(5), Parallelism: i32(1), ActiveDeadlineSeconds: i64(90)},
			pods:   []*corev1.Pod{jobPod("a", api.PodRunning, -1, time.Time{})},
			create: "[]", delete: "[]", requeue: 30 * time.Second},
		{name: "the deadline does not run while suspended",
			spec:   &batchv1.JobSpec{Completions: i32(5), Parallelism: i32(1), ActiveDeadlineSeconds: i64(10), Suspend: yes()},
			create: "[]", delete: "[]",
			check: func(t *testing.T, st *batchv1.JobStatus) {
				if c := condition(st, api.JobSuspended); c.GetStatus() != api.ConditionTrue || c.GetReason() != "JobSuspended" {
					t.Errorf("Suspended condition %v", c)
				}
			}},
		{name: "indexed: the lowest missing indexes first",
			spec:   &batchv1.JobSpec{Completions: i32(5), Parallelism: i32(2), CompletionMode: indexedMode()},
			pods:   []*corev1.Pod{jobPod("s0", api.PodSucceeded, 0, time.Time{}), jobPod("a2", api.PodRunning, 2, time.Time{})},
			create: "[1]", delete: "[]",
			check: func(t *testing.T, st *batchv1.JobStatus) {
				if st.GetCompletedIndexes() != "0" || st.GetSucceeded() != 1 {
					t.Errorf("completedIndexes %q, succeeded %d", st.GetCompletedIndexes(), st.GetSucceeded())
				}
			}},
		{name: "indexed: recorded indexes count though their pods are gone; a pod of a done index goes",
			spec:   &batchv1.JobSpec{Completions: i32(5), Parallelism: i32(5), CompletionMode: indexedMode()},
			status: &batchv1.JobStatus{CompletedIndexes: "0-2"},
			pods:   []*corev1.Pod{jobPod("a1", api.PodRunning, 1, time.Time{}), jobPod("bad", api.PodRunning, 9, time.Time{})},
			create: "[3 4]", delete: "[a1 bad]"},
		{name: "indexed: complete once every index succeeded",
			spec:   &batchv1.JobSpec{Completions: i32(3), Parallelism: i32(1), CompletionMode: indexedMode()},
			status: &batchv1.JobStatus{CompletedIndexes: "0,1"},
			pods:   []*corev1.Pod{jobPod("s2", api.PodSucceeded, 2, time.Time{}), jobPod("dup", api.PodRunning, 2, time.Time{})},
			create: "[]", delete: "[dup]", finished: api.JobComplete,
			check: func(t *testing.T, st *batchv1.JobStatus) {
				if st.GetCompletedIndexes() != "0-2" || st.GetSucceeded() != 3 {
					t.Errorf("completedIndexes %q, succeeded %d", st.GetCompletedIndexes(), st.GetSucceeded())
				}
			}},
		{name: "a finished Job waits for its TTL",
			spec: &batchv1.JobSpec{TtlSecondsAfterFinished: i32(100)},
			status: &batchv1.JobStatus{Conditions: []*batchv1.JobCondition{{Type: api.JobComplete, Status: api.ConditionTrue,
				LastTransitionTime: timestamppb.New(t0.Add(-40 * time.Second))}}},
			create: "[]", delete: "[]", requeue: 60 * time.Second},
		{name: "backoffLimitPerIndex: an index past its limit fails alone and gets no more pods, the others go on",
			spec: perIndexSpec(3, 1, nil, nil),
			pods: []*corev1.Pod{jobPod("f0a", api.PodFailed, 0, t0.Add(-time.Hour)), jobPod("f0b", api.PodFailed, 0, t0.Add(-time.Hour)),
				jobPod("r1", api.PodRunning, 1, time.Time{})},
			create: "[2]", delete: "[]", check: failedIndexesAre("0")},
		{name: "backoffLimitPerIndex: failures within the limit are retried",
			spec:   perIndexSpec(3, 1, nil, nil),
			pods:   []*corev1.Pod{jobPod("f0", api.PodFailed, 0, t0.Add(-time.Hour)), jobPod("r1", api.PodRunning, 1, time.Time{})},
			create: "[0 2]", delete: "[]", check: failedIndexesAre("")},
		{name: "FailIndex fails the index at once and deletes its other pods",
			spec: perIndexSpec(3, 5, nil, &batchv1.PodFailurePolicy{Rules: []*batchv1.PodFailurePolicyRule{{Action: api.PodFailurePolicyFailIndex,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: api.PodFailurePolicyOpIn, Values: []int32{3}}}}}),
			pods:   []*corev1.Pod{exited(jobPod("f1", api.PodFailed, 1, t0.Add(-time.Hour)), 3), jobPod("r1", api.PodRunning, 1, time.Time{})},
			create: "[0 2]", delete: "[r1]", check: failedIndexesAre("1")},
		{name: "every index finished and one failed: the Job fails with FailedIndexes",
			spec:   perIndexSpec(2, 0, nil, nil),
			pods:   []*corev1.Pod{jobPod("s0", api.PodSucceeded, 0, time.Time{}), jobPod("f1", api.PodFailed, 1, t0.Add(-time.Hour))},
			create: "[]", delete: "[]", finished: "Failed/FailedIndexes", check: failedIndexesAre("1")},
		{name: "more failed indexes than maxFailedIndexes fail the Job",
			spec:   perIndexSpec(4, 0, i32(0), nil),
			pods:   []*corev1.Pod{jobPod("f1", api.PodFailed, 1, t0.Add(-time.Hour)), jobPod("r0", api.PodRunning, 0, time.Time{})},
			create: "[]", delete: "[r0]", finished: "Failed/MaxFailedIndexesExceeded"},
		{name: "a finished Job past its TTL is deleted",
			spec: &batchv1.JobSpec{TtlSecondsAfterFinished: i32(0)},
			status: &batchv1.JobStatus{Conditions: []*batchv1.JobCondition{{Type: api.JobFailed, Status: api.ConditionTrue,
				LastTransitionTime: timestamppb.New(t0)}}},
			create: "[]", delete: "[]", deleteJob: true},
		{name: "a finished Job without a TTL is left",
			spec:   &batchv1.JobSpec{},
			status: &batchv1.JobStatus{Conditions: []*batchv1.JobCondition{{Type: api.JobComplete, Status: api.ConditionTrue}}},
			pods:   []*corev1.Pod{jobPod("a", api.PodRunning, -1, time.Time{})},
			create: "[]", delete: "[]"},
		{name: "success policy: index 2 of 0,2-3 succeeding completes the Job, the others stop",
			spec: &batchv1.JobSpec{Completions: i32(4), Parallelism: i32(4), CompletionMode: indexedMode(),
				SuccessPolicy: &batchv1.SuccessPolicy{Rules: []*batchv1.SuccessPolicyRule{
					{SucceededIndexes: proto.String("1"), SucceededCount: nil}, {SucceededIndexes: proto.String("0,2-3"), SucceededCount: i32(1)}}}},
			pods: []*corev1.Pod{jobPod("r0", api.PodRunning, 0, time.Time{}), jobPod("r1", api.PodRunning, 1, time.Time{}),
				jobPod("s2", api.PodSucceeded, 2, time.Time{}), jobPod("r3", api.PodRunning, 3, time.Time{})},
			create: "[]", delete: "[r0 r1 r3]", finished: api.JobComplete,
			check: func(t *testing.T, st *batchv1.JobStatus) {
				c := condition(st, api.JobSuccessCriteriaMet)
				if c.GetStatus() != api.ConditionTrue || c.GetReason() != api.JobReasonSuccessPolicy || c.GetMessage() != "Matched rules at index 1" {
					t.Errorf("SuccessCriteriaMet %v", c)
				}
				if st.GetCompletedIndexes() != "2" || st.GetCompletionTime() == nil {
					t.Errorf("status %v", st)
				}
			}},
		{name: "success policy not met yet: the Job goes on",
			spec: &batchv1.JobSpec{Completions: i32(3), Parallelism: i32(3), CompletionMode: indexedMode(),
				SuccessPolicy: &batchv1.SuccessPolicy{Rules: []*batchv1.SuccessPolicyRule{{SucceededCount: i32(2)}}}},
			pods: []*corev1.Pod{jobPod("r0", api.PodRunning, 0, time.Time{}), jobPod("s1", api.PodSucceeded, 1, time.Time{}),
				jobPod("r2", api.PodRunning, 2, time.Time{})},
			create: "[]", delete: "[]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := &batchv1.Job{Metadata: &metav1.ObjectMeta{Name: "sample", Namespace: "default", Uid: "job-uid"}, Spec: tc.spec, Status: tc.status}
			if j.Status == nil {
				j.Status = &batchv1.JobStatus{}
			}
			if j.Status.StartTime == nil && api.JobFinishedCondition(j) == nil {
				j.Status.StartTime = started
			}
			p := Decide(Input{Job: j, Pods: tc.pods, Satisfied: !tc.unsatisfied, Now: t0, PodFailureBackoff: tc.backoff})
			if got := fmt.Sprint(p.Create); got != tc.create && !(got == "[]" && tc.create == "") {
				t.Errorf("create %s, want %s", got, tc.create)
			}
			if got := podNames(p.Delete); got != tc.delete && !(got == "[]" && tc.delete == "") {
				t.Errorf("delete %s, want %s", got, tc.delete)
			}
			if p.RequeueAfter != tc.requeue || p.DeleteJob != tc.deleteJob {
				t.Errorf("requeue %v, delete job %v; want %v, %v", p.RequeueAfter, p.DeleteJob, tc.requeue, tc.deleteJob)
			}
			got := ""
			if p.Status != nil {
				if c := condition(p.Status, api.JobComplete); c.GetStatus() == api.ConditionTrue {
					got = api.JobComplete
				}
				if c := condition(p.Status, api.JobFailed); c.GetStatus() == api.ConditionTrue {
					got = api.JobFailed + "/" + c.GetReason()
				}
			}
			if got != tc.finished {
				t.Errorf("finished %q, want %q", got, tc.finished)
			}
			if (got != "") != (len(p.Events) == 1) {
				t.Errorf("events %v for finished %q", p.Events, got)
			}
			if tc.check != nil {
				tc.check(t, p.Status)
			}
		})
	}
}

func TestDecideWritesNoUnchangedStatus(t *testing.T) {
	j := &batchv1.Job{Metadata: &metav1.ObjectMeta{Name: "sample"}, Spec: &batchv1.JobSpec{Completions: i32(3), Parallelism: i32(1)}}
	pods := []*corev1.Pod{jobPod("a", api.PodRunning, -1, time.Time{})}
	first := Decide(Input{Job: j, Pods: pods, Satisfied: true, Now: t0})
	if first.Status == nil || first.Status.GetActive() != 1 || first.Status.GetStartTime() == nil {
		t.Fatalf("first status %v", first.Status)
	}
	j.Status = first.Status
	if again := Decide(Input{Job: j, Pods: pods, Satisfied: true, Now: t0.Add(time.Second)}); again.Status != nil {
		t.Errorf("an unchanged status is written again: %v", again.Status)
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int32]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second,
		6: 320 * time.Second, 7: MaxPodFailureBackoff, 100: MaxPodFailureBackoff} {
		if got := Backoff(DefaultPodFailureBackoff, n); got != want {
			t.Errorf("Backoff after %d failures = %v, want %v", n, got, want)
		}
	}
}
