package validation_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	"keel.dev/keel/pkg/registry"
)

func validCronJob() *batchv1.CronJob {
	return &batchv1.CronJob{Metadata: meta("hello"), Spec: &batchv1.CronJobSpec{
		Schedule: "*/5 * * * *", TimeZone: proto.String("Europe/Paris"), StartingDeadlineSeconds: proto.Int64(200),
		ConcurrencyPolicy: proto.String("Forbid"), Suspend: proto.Bool(false),
		SuccessfulJobsHistoryLimit: proto.Int32(3), FailedJobsHistoryLimit: proto.Int32(1),
		JobTemplate: &batchv1.JobTemplateSpec{Spec: &batchv1.JobSpec{BackoffLimit: proto.Int32(2), Template: template("OnFailure")}},
	}}
}

func cronJobWith(f func(cj *batchv1.CronJob)) *batchv1.CronJob {
	cj := validCronJob()
	f(cj)
	return cj
}

func TestValidateCreateCronJob(t *testing.T) {
	if errs := registry.ValidateCreate(validCronJob()); len(errs) > 0 {
		t.Fatalf("valid cronjob refused: %v", errs)
	}
	cases := []createCase{
		{"macro ok", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.Schedule = "@hourly" }), nil},
		{"every ok", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.Schedule = "@every 10s" }), nil},
		{"no timeZone ok", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.TimeZone = nil }), nil},
		{"schedule required", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.Schedule = "" }), []string{"spec.schedule"}},
		{"schedule invalid", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.Schedule = "61 * * * *" }), []string{"spec.schedule"}},
		{"schedule not cron", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.Schedule = "every tuesday" }), []string{"spec.schedule"}},
		{"schedule six fields", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.Schedule = "0 */5 * * * *" }), []string{"spec.schedule"}},
		{"schedule TZ", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.Schedule = "TZ=UTC 0 * * * *" }), []string{"spec.schedule"}},
		{"schedule CRON_TZ", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.Schedule = "CRON_TZ=UTC 0 * * * *" }), []string{"spec.schedule"}},
		{"timeZone unknown", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.TimeZone = proto.String("Mars/Olympus") }), []string{"spec.timeZone"}},
		{"timeZone Local", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.TimeZone = proto.String("Local") }), []string{"spec.timeZone"}},
		{"timeZone empty", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.TimeZone = proto.String("") }), []string{"spec.timeZone"}},
		{"concurrencyPolicy", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = proto.String("Sometimes") }), []string{"spec.concurrencyPolicy"}},
		{"startingDeadlineSeconds", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = proto.Int64(-1) }), []string{"spec.startingDeadlineSeconds"}},
		{"history limits", cronJobWith(func(cj *batchv1.CronJob) {
			cj.Spec.SuccessfulJobsHistoryLimit, cj.Spec.FailedJobsHistoryLimit = proto.Int32(-1), proto.Int32(-2)
		}), []string{"spec.successfulJobsHistoryLimit", "spec.failedJobsHistoryLimit"}},
		{"name over 52", cronJobWith(func(cj *batchv1.CronJob) { cj.Metadata.Name = strings.Repeat("a", 53) }), []string{"metadata.name"}},
		{"name of 52 ok", cronJobWith(func(cj *batchv1.CronJob) { cj.Metadata.Name = strings.Repeat("a", 52) }), nil},
		{"jobTemplate required", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.JobTemplate = nil }), []string{"spec.jobTemplate.spec"}},
		{"jobTemplate pod template", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.JobTemplate.Spec.Template = nil }), []string{"spec.jobTemplate.spec.template"}},
		{"jobTemplate restartPolicy", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = "Always" }),
			[]string{"spec.jobTemplate.spec.template.spec.restartPolicy"}},
		{"jobTemplate backoffLimit", cronJobWith(func(cj *batchv1.CronJob) { cj.Spec.JobTemplate.Spec.BackoffLimit = proto.Int32(-1) }),
			[]string{"spec.jobTemplate.spec.backoffLimit"}},
	}
	runCreateCases(t, cases)
}

func TestValidateJobPodFailurePolicy(t *testing.T) {
	withPolicy := func(rp string, rules ...*batchv1.PodFailurePolicyRule) *batchv1.Job {
		return jobWith(func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = rp
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: rules}
		})
	}
	codes := func(action, op string, v ...int32) *batchv1.PodFailurePolicyRule {
		return &batchv1.PodFailurePolicyRule{Action: action, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: v}}
	}
	cond := &batchv1.PodFailurePolicyRule{Action: "Ignore", OnPodConditions: []*batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: "DisruptionTarget"}}}
	runCreateCases(t, []createCase{
		{"ok", withPolicy("Never", codes("FailJob", "In", 42), cond, codes("Count", "NotIn", 0, 1)), nil},
		{"needs Never", withPolicy("OnFailure", cond), []string{"spec.podFailurePolicy"}},
		{"action", withPolicy("Never", codes("Explode", "In", 1)), []string{"spec.podFailurePolicy.rules[0].action"}},
		{"FailIndex needs backoffLimitPerIndex", withPolicy("Never", codes("FailIndex", "In", 1)), []string{"spec.podFailurePolicy.rules[0].action"}},
		{"operator", withPolicy("Never", codes("FailJob", "Is", 1)), []string{"spec.podFailurePolicy.rules[0].onExitCodes.operator"}},
		{"values required", withPolicy("Never", codes("FailJob", "In")), []string{"spec.podFailurePolicy.rules[0].onExitCodes.values"}},
		{"In 0", withPolicy("Never", codes("FailJob", "In", 0)), []string{"spec.podFailurePolicy.rules[0].onExitCodes.values[0]"}},
		{"duplicate value", withPolicy("Never", codes("FailJob", "In", 3, 3)), []string{"spec.podFailurePolicy.rules[0].onExitCodes.values[1]"}},
		{"neither", withPolicy("Never", &batchv1.PodFailurePolicyRule{Action: "FailJob"}), []string{"spec.podFailurePolicy.rules[0]"}},
		{"condition type", withPolicy("Never", &batchv1.PodFailurePolicyRule{Action: "Ignore",
			OnPodConditions: []*batchv1.PodFailurePolicyOnPodConditionsPattern{{Status: "Maybe"}}}),
			[]string{"spec.podFailurePolicy.rules[0].onPodConditions[0].type", "spec.podFailurePolicy.rules[0].onPodConditions[0].status"}},
	})
}
