package api

import (
	"errors"
	"fmt"
	"strings"
	"time"
	// The IANA zone database is compiled in, so spec.timeZone means the
	// same on every machine whatever its /usr/share/zoneinfo holds.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
	"google.golang.org/protobuf/proto"

	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// CronJob concurrency policies (spec.concurrencyPolicy).
const (
	ConcurrencyAllow   = "Allow"
	ConcurrencyForbid  = "Forbid"
	ConcurrencyReplace = "Replace"
)

// CronJobScheduledTimestampAnnotation is set on a Job a CronJob created:
// the scheduled time it ran for, in RFC 3339.
const CronJobScheduledTimestampAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp"

// MaxCronJobNameLength is the longest CronJob name: its Jobs append
// "-" and up to 11 digits of minutes, and must stay within 63.
const MaxCronJobNameLength = 52

// ParseCronSchedule parses a CronJob's schedule, a standard 5-field cron
// expression or a macro (@yearly, @monthly, @weekly, @daily, @hourly,
// @every D), read in timeZone (an IANA name; "" is the process's local
// zone). The zone belongs in timeZone: a schedule naming one (TZ= or
// CRON_TZ=) is refused, as Kubernetes refuses it.
func ParseCronSchedule(schedule, timeZone string) (cron.Schedule, error) {
	if strings.Contains(schedule, "TZ") {
		return nil, errors.New("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
	}
	if timeZone != "" {
		if _, err := LoadTimeZone(timeZone); err != nil {
			return nil, err
		}
		schedule = "CRON_TZ=" + timeZone + " " + schedule
	}
	return cron.ParseStandard(schedule)
}

// LoadTimeZone loads a CronJob's spec.timeZone: an explicit IANA zone
// name ("Local" and "" are refused).
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" || strings.EqualFold(name, "Local") {
		return nil, errors.New("timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %s", name)
	}
	return loc, nil
}

// JobFromCronJob is a Job named name in cj's namespace made from cj's job
// template: copies of its labels, annotations (never nil) and spec. The
// caller adds its owner reference and its own annotations.
func JobFromCronJob(cj *batchv1.CronJob, name string) *batchv1.Job {
	tmpl := cj.GetSpec().GetJobTemplate()
	m := &metav1.ObjectMeta{Name: name, Namespace: cj.GetMetadata().GetNamespace(),
		Labels: map[string]string{}, Annotations: map[string]string{}}
	for k, v := range tmpl.GetMetadata().GetLabels() {
		m.Labels[k] = v
	}
	for k, v := range tmpl.GetMetadata().GetAnnotations() {
		m.Annotations[k] = v
	}
	spec, _ := proto.Clone(tmpl.GetSpec()).(*batchv1.JobSpec)
	return &batchv1.Job{Metadata: m, Spec: spec}
}
