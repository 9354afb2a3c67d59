package printers

import (
	"strings"
	"time"

	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	"keel.dev/keel/pkg/registry"
)

// CronJobColumns are the columns of `get cronjob`.
var CronJobColumns = []registry.Column{
	{Name: "NAME"}, {Name: "SCHEDULE"}, {Name: "TIMEZONE"}, {Name: "SUSPEND"}, {Name: "ACTIVE"},
	{Name: "LAST SCHEDULE"}, {Name: "AGE"},
	{Name: "CONTAINERS", Wide: true}, {Name: "IMAGES", Wide: true}, {Name: "SELECTOR", Wide: true},
}

// CronJobRow returns the cells of a cronjob's row under CronJobColumns.
func CronJobRow(cj *batchv1.CronJob, now time.Time) []string {
	spec, js := cronJobSpecs(cj)
	names, images := containerColumns(js.GetTemplate().GetSpec())
	tz := "<none>"
	if spec.TimeZone != nil {
		tz = spec.GetTimeZone()
	}
	last := "<none>"
	if t := cj.GetStatus().GetLastScheduleTime(); isSet(t) {
		last = Age(t, now)
	}
	return []string{
		cj.GetMetadata().GetName(), spec.GetSchedule(), tz, titleBool(spec.GetSuspend()),
		itoa(len(cj.GetStatus().GetActive())), last, Age(cj.GetMetadata().GetCreationTimestamp(), now),
		names, images, FormatSelector(js.GetSelector()),
	}
}

// DescribeCronJob renders a CronJob as `describe` does.
func DescribeCronJob(o *batchv1.CronJob, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.cronJob(o) })
}

func (w *dw) cronJob(cj *batchv1.CronJob) {
	m, st := cj.GetMetadata(), cj.GetStatus()
	spec, js := cronJobSpecs(cj)
	w.head(m, true)
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	w.line(0, "Schedule:\t%s", spec.GetSchedule())
	if spec.TimeZone != nil {
		w.line(0, "Time Zone:\t%s", spec.GetTimeZone())
	}
	w.line(0, "Concurrency Policy:\t%s", spec.GetConcurrencyPolicy())
	w.line(0, "Suspend:\t%s", titleBool(spec.GetSuspend()))
	w.line(0, "Successful Job History Limit:\t%s", optional(spec.SuccessfulJobsHistoryLimit))
	w.line(0, "Failed Job History Limit:\t%s", optional(spec.FailedJobsHistoryLimit))
	w.line(0, "Starting Deadline Seconds:\t%s", optionalSeconds(spec.StartingDeadlineSeconds))
	if js.GetSelector() != nil {
		w.line(0, "Selector:\t%s", FormatSelector(js.GetSelector()))
	} else {
		w.line(0, "Selector:\t<unset>")
	}
	w.line(0, "Parallelism:\t%s", optional(js.Parallelism))
	w.line(0, "Completions:\t%s", optional(js.Completions))
	if js.ActiveDeadlineSeconds != nil {
		w.line(0, "Active Deadline Seconds:\t%ds", js.GetActiveDeadlineSeconds())
	}
	w.podTemplate(js.GetTemplate())
	w.line(0, "Last Schedule Time:\t%s", w.time(st.GetLastScheduleTime()))
	if isSet(st.GetLastSuccessfulTime()) {
		w.line(0, "Last Successful Time:\t%s", w.time(st.GetLastSuccessfulTime()))
	}
	var active []string
	for _, ref := range st.GetActive() {
		active = append(active, ref.GetName())
	}
	if len(active) == 0 {
		w.line(0, "Active Jobs:\t<none>")
	} else {
		w.line(0, "Active Jobs:\t%s", strings.Join(active, ", "))
	}
	w.events()
}

// cronJobSpecs returns the CronJob's spec and its job template's spec,
// empty ones when unset.
func cronJobSpecs(cj *batchv1.CronJob) (*batchv1.CronJobSpec, *batchv1.JobSpec) {
	spec, js := cj.GetSpec(), cj.GetSpec().GetJobTemplate().GetSpec()
	if spec == nil {
		spec = &batchv1.CronJobSpec{}
	}
	if js == nil {
		js = &batchv1.JobSpec{}
	}
	return spec, js
}

// optional is an optional count, "<unset>" when unset.
func optional(v *int32) string {
	if v == nil {
		return "<unset>"
	}
	return itoa(*v)
}

// optionalSeconds is an optional number of seconds ("30s"), "<unset>"
// when unset.
func optionalSeconds(v *int64) string {
	if v == nil {
		return "<unset>"
	}
	return itoa(*v) + "s"
}
