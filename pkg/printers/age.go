package printers

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/util/duration"
)

// HumanDuration renders d the way kubectl renders ages: "5s" (under two
// minutes), "3m20s", "15m", "4h10m", "20h", "2d3h", "30d", "2y45d", "9y".
// Durations slightly below zero (clock skew) read "0s"; more than a second
// below, "<invalid>".
func HumanDuration(d time.Duration) string { return duration.HumanDuration(d) }

// Age is how long ago t was, relative to now, as HumanDuration renders it;
// "<unknown>" when t is unset or zero.
func Age(t *timestamppb.Timestamp, now time.Time) string {
	if !isSet(t) {
		return "<unknown>"
	}
	return HumanDuration(now.Sub(t.AsTime()))
}

// isSet reports whether t holds a time (not nil, not the zero Unix time as
// an unset proto Timestamp reads).
func isSet(t *timestamppb.Timestamp) bool {
	return t != nil && (t.GetSeconds() != 0 || t.GetNanos() != 0)
}

// TimeLayout is how describe prints absolute times (kubectl's RFC 1123 with
// a numeric zone).
const TimeLayout = time.RFC1123Z

// formatTime renders t in loc with TimeLayout, "<unset>" when unset.
func formatTime(t *timestamppb.Timestamp, loc *time.Location) string {
	if !isSet(t) {
		return "<unset>"
	}
	if loc == nil {
		loc = time.Local
	}
	return t.AsTime().In(loc).Format(TimeLayout)
}
