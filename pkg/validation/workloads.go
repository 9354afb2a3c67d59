package validation

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// validateReplicatedTemplate is what ReplicaSets and Deployments require of
// their pod template: restartPolicy Always, no activeDeadlineSeconds.
func validateReplicatedTemplate(t *corev1.PodTemplateSpec, p *field.Path) field.ErrorList {
	allErrs := validatePodTemplate(t, p)
	if t == nil {
		return allErrs
	}
	sp := p.Child("spec")
	if rp := t.GetSpec().GetRestartPolicy(); rp != "" && rp != api.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(sp.Child("restartPolicy"), rp, []string{api.RestartPolicyAlways}))
	}
	if t.GetSpec() != nil && t.GetSpec().ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Forbidden(sp.Child("activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicaSet is not Supported"))
	}
	return allErrs
}

func validateReplicas(r *int32, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	return validateNonnegative(int64(*r), p)
}

// ---------------------------------------------------------------------------
// ReplicaSet

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	p := field.NewPath("spec")
	spec := rs.GetSpec()
	if spec == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	allErrs := validateReplicas(spec.Replicas, p.Child("replicas"))
	allErrs = append(allErrs, validateNonnegative(int64(spec.GetMinReadySeconds()), p.Child("minReadySeconds"))...)
	allErrs = append(allErrs, validateSelectorMatchesTemplate(spec.GetSelector(), spec.GetTemplate(), p)...)
	allErrs = append(allErrs, validateReplicatedTemplate(spec.GetTemplate(), p.Child("template"))...)
	return allErrs
}

func validateReplicaSetStatus(s *appsv1.ReplicaSetStatus, p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	allErrs := validateNonnegative(int64(s.GetReplicas()), p.Child("replicas"))
	allErrs = append(allErrs, validateNonnegative(int64(s.GetFullyLabeledReplicas()), p.Child("fullyLabeledReplicas"))...)
	allErrs = append(allErrs, validateNonnegative(int64(s.GetReadyReplicas()), p.Child("readyReplicas"))...)
	allErrs = append(allErrs, validateNonnegative(int64(s.GetAvailableReplicas()), p.Child("availableReplicas"))...)
	if s.TerminatingReplicas != nil {
		allErrs = append(allErrs, validateNonnegative(int64(s.GetTerminatingReplicas()), p.Child("terminatingReplicas"))...)
	}
	allErrs = append(allErrs, validateNonnegative(s.GetObservedGeneration(), p.Child("observedGeneration"))...)
	msg := "cannot be greater than status.replicas"
	if s.GetFullyLabeledReplicas() > s.GetReplicas() {
		allErrs = append(allErrs, field.Invalid(p.Child("fullyLabeledReplicas"), s.GetFullyLabeledReplicas(), msg))
	}
	if s.GetReadyReplicas() > s.GetReplicas() {
		allErrs = append(allErrs, field.Invalid(p.Child("readyReplicas"), s.GetReadyReplicas(), msg))
	}
	if s.GetAvailableReplicas() > s.GetReplicas() {
		allErrs = append(allErrs, field.Invalid(p.Child("availableReplicas"), s.GetAvailableReplicas(), msg))
	}
	if s.GetAvailableReplicas() > s.GetReadyReplicas() {
		allErrs = append(allErrs, field.Invalid(p.Child("availableReplicas"), s.GetAvailableReplicas(), "cannot be greater than readyReplicas"))
	}
	allErrs = append(allErrs, validateConditions(s.GetConditions(), p.Child("conditions"))...)
	return allErrs
}

// ---------------------------------------------------------------------------
// Deployment

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	p := field.NewPath("spec")
	spec := d.GetSpec()
	if spec == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	allErrs := validateReplicas(spec.Replicas, p.Child("replicas"))
	allErrs = append(allErrs, validateSelectorMatchesTemplate(spec.GetSelector(), spec.GetTemplate(), p)...)
	allErrs = append(allErrs, validateReplicatedTemplate(spec.GetTemplate(), p.Child("template"))...)
	allErrs = append(allErrs, validateDeploymentStrategy(spec.GetStrategy(), p.Child("strategy"))...)
	allErrs = append(allErrs, validateNonnegative(int64(spec.GetMinReadySeconds()), p.Child("minReadySeconds"))...)
	if spec.RevisionHistoryLimit != nil {
		allErrs = append(allErrs, validateNonnegative(int64(spec.GetRevisionHistoryLimit()), p.Child("revisionHistoryLimit"))...)
	}
	if spec.ProgressDeadlineSeconds != nil {
		pd := p.Child("progressDeadlineSeconds")
		if spec.GetProgressDeadlineSeconds() <= spec.GetMinReadySeconds() {
			allErrs = append(allErrs, field.Invalid(pd, spec.GetProgressDeadlineSeconds(), "must be greater than minReadySeconds"))
		}
	}
	return allErrs
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	allErrs := validateEnum(s.GetType(), p.Child("type"), "", api.RollingUpdateDeploymentStrategyType, api.RecreateDeploymentStrategyType)
	ru := s.GetRollingUpdate()
	if ru == nil {
		return allErrs
	}
	rp := p.Child("rollingUpdate")
	if s.GetType() == api.RecreateDeploymentStrategyType {
		return append(allErrs, field.Forbidden(rp, "may not be specified when strategy `type` is 'Recreate'"))
	}
	return append(allErrs, validateRollingUpdate(ru.GetMaxUnavailable(), ru.GetMaxSurge(), rp)...)
}

// validateRollingUpdate checks a rolling update's maxUnavailable and
// maxSurge (under p): numbers or percentages, maxUnavailable at most 100%,
// not both 0.
func validateRollingUpdate(maxUnavailable, maxSurge *metav1.IntOrString, p *field.Path) field.ErrorList {
	allErrs := validateIntOrPercent(maxUnavailable, p.Child("maxUnavailable"))
	allErrs = append(allErrs, validateIntOrPercent(maxSurge, p.Child("maxSurge"))...)
	if api.IsIntOrStringString(maxUnavailable) && percentValue(maxUnavailable) > 100 {
		allErrs = append(allErrs, field.Invalid(p.Child("maxUnavailable"), maxUnavailable.GetStrVal(), "must not be greater than 100%"))
	}
	if maxUnavailable != nil && maxSurge != nil && isZero(maxUnavailable) && isZero(maxSurge) {
		allErrs = append(allErrs, field.Invalid(p.Child("maxUnavailable"), intOrStringValue(maxUnavailable), "may not be 0 when `maxSurge` is 0"))
	}
	return allErrs
}

// percentValue returns the number of a valid percentage ("25%" → 25), or -1.
func percentValue(v *metav1.IntOrString) int {
	n, err := strconv.Atoi(strings.TrimSuffix(v.GetStrVal(), "%"))
	if err != nil || len(utilvalidation.IsValidPercent(v.GetStrVal())) > 0 {
		return -1
	}
	return n
}

func isZero(v *metav1.IntOrString) bool {
	if api.IsIntOrStringString(v) {
		return percentValue(v) == 0
	}
	return v.GetIntVal() == 0
}

func intOrStringValue(v *metav1.IntOrString) any {
	if api.IsIntOrStringString(v) {
		return v.GetStrVal()
	}
	return v.GetIntVal()
}

// validateIntOrPercent accepts a non-negative integer or a percentage.
func validateIntOrPercent(v *metav1.IntOrString, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	if api.IsIntOrStringString(v) {
		var allErrs field.ErrorList
		for _, msg := range utilvalidation.IsValidPercent(v.GetStrVal()) {
			allErrs = append(allErrs, field.Invalid(p, v.GetStrVal(), msg))
		}
		return allErrs
	}
	return validateNonnegative(int64(v.GetIntVal()), p)
}

func validateDeploymentStatus(s *appsv1.DeploymentStatus, p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	allErrs := validateNonnegative(s.GetObservedGeneration(), p.Child("observedGeneration"))
	for _, f := range []struct {
		name string
		v    int32
	}{
		{"replicas", s.GetReplicas()}, {"updatedReplicas", s.GetUpdatedReplicas()},
		{"readyReplicas", s.GetReadyReplicas()}, {"availableReplicas", s.GetAvailableReplicas()},
		{"unavailableReplicas", s.GetUnavailableReplicas()},
	} {
		allErrs = append(allErrs, validateNonnegative(int64(f.v), p.Child(f.name))...)
	}
	if s.TerminatingReplicas != nil {
		allErrs = append(allErrs, validateNonnegative(int64(s.GetTerminatingReplicas()), p.Child("terminatingReplicas"))...)
	}
	if s.CollisionCount != nil {
		allErrs = append(allErrs, validateNonnegative(int64(s.GetCollisionCount()), p.Child("collisionCount"))...)
	}
	msg := "cannot be greater than status.replicas"
	if s.GetUpdatedReplicas() > s.GetReplicas() {
		allErrs = append(allErrs, field.Invalid(p.Child("updatedReplicas"), s.GetUpdatedReplicas(), msg))
	}
	if s.GetReadyReplicas() > s.GetReplicas() {
		allErrs = append(allErrs, field.Invalid(p.Child("readyReplicas"), s.GetReadyReplicas(), msg))
	}
	if s.GetAvailableReplicas() > s.GetReplicas() {
		allErrs = append(allErrs, field.Invalid(p.Child("availableReplicas"), s.GetAvailableReplicas(), msg))
	}
	if s.GetAvailableReplicas() > s.GetReadyReplicas() {
		allErrs = append(allErrs, field.Invalid(p.Child("availableReplicas"), s.GetAvailableReplicas(), "cannot be greater than readyReplicas"))
	}
	allErrs = append(allErrs, validateConditions(s.GetConditions(), p.Child("conditions"))...)
	return allErrs
}

// ---------------------------------------------------------------------------
// Job

// maxIndexedCompletions is Kubernetes' limit on completions of an Indexed Job.
const maxIndexedCompletions = 100000

func validateJob(j *batchv1.Job) field.ErrorList {
	p := field.NewPath("spec")
	spec := j.GetSpec()
	if spec == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	allErrs := validateSelectorMatchesTemplate(spec.GetSelector(), spec.GetTemplate(), p)
	return append(allErrs, validateJobSpec(spec, p)...)
}

// validateJobSpec validates a Job's spec at p, or a CronJob's job
// template's, all but the selector (which a template leaves to the Job).
func validateJobSpec(spec *batchv1.JobSpec, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, f := range []struct {
		name string
		v    *int32
	}{
		{"parallelism", spec.Parallelism}, {"completions", spec.Completions}, {"backoffLimit", spec.BackoffLimit},
		{"ttlSecondsAfterFinished", spec.TtlSecondsAfterFinished}, {"backoffLimitPerIndex", spec.BackoffLimitPerIndex},
		{"maxFailedIndexes", spec.MaxFailedIndexes},
	} {
		if f.v != nil {
			allErrs = append(allErrs, validateNonnegative(int64(*f.v), p.Child(f.name))...)
		}
	}
	if spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, validatePositive(spec.GetActiveDeadlineSeconds(), p.Child("activeDeadlineSeconds"))...)
	}
	allErrs = append(allErrs, validateOptionalEnum(spec.CompletionMode, p.Child("completionMode"), api.NonIndexedCompletion, api.IndexedCompletion)...)
	if spec.GetCompletionMode() == api.IndexedCompletion {
		if spec.Completions == nil {
			allErrs = append(allErrs, field.Required(p.Child("completions"), "when completion mode is Indexed"))
		} else if spec.GetCompletions() > maxIndexedCompletions {
			allErrs = append(allErrs, field.Invalid(p.Child("completions"), spec.GetCompletions(), "must be less than or equal to 100000 when completion mode is Indexed"))
		}
	} else {
		if spec.BackoffLimitPerIndex != nil {
			allErrs = append(allErrs, field.Invalid(p.Child("backoffLimitPerIndex"), spec.GetBackoffLimitPerIndex(), "requires indexed completion mode"))
		}
		if spec.MaxFailedIndexes != nil {
			allErrs = append(allErrs, field.Invalid(p.Child("maxFailedIndexes"), spec.GetMaxFailedIndexes(), "requires indexed completion mode"))
		}
	}
	allErrs = append(allErrs, validateOptionalEnum(spec.PodReplacementPolicy, p.Child("podReplacementPolicy"), api.PodReplacementPolicyTerminatingOrFailed, api.PodReplacementPolicyFailed)...)
	allErrs = append(allErrs, validatePodFailurePolicy(spec, p.Child("podFailurePolicy"))...)
	allErrs = append(allErrs, validateSuccessPolicy(spec, p.Child("successPolicy"))...)
	allErrs = append(allErrs, validatePodTemplate(spec.GetTemplate(), p.Child("template"))...)
	if t := spec.GetTemplate(); t != nil {
		rp := p.Child("template", "spec", "restartPolicy")
		switch t.GetSpec().GetRestartPolicy() {
		case api.RestartPolicyOnFailure, api.RestartPolicyNever:
		case "":
			allErrs = append(allErrs, field.Required(rp, "valid values: \"OnFailure\", \"Never\""))
		default:
			allErrs = append(allErrs, field.NotSupported(rp, t.GetSpec().GetRestartPolicy(), []string{api.RestartPolicyOnFailure, api.RestartPolicyNever}))
		}
	}
	return allErrs
}

func validateJobUpdate(j, old *batchv1.Job) field.ErrorList {
	p := field.NewPath("spec")
	spec, oldSpec := j.GetSpec(), old.GetSpec()
	allErrs := validateSelectorImmutable(spec.GetSelector(), oldSpec.GetSelector())
	if !proto.Equal(spec.GetTemplate(), oldSpec.GetTemplate()) && !(oldSpec.GetSuspend() && spec.GetSuspend()) {
		allErrs = append(allErrs, field.Invalid(p.Child("template"), "", apivalidation.FieldImmutableErrorMsg+" (except while the job is suspended)"))
	}
	if spec.GetCompletionMode() != oldSpec.GetCompletionMode() {
		allErrs = append(allErrs, field.Invalid(p.Child("completionMode"), spec.GetCompletionMode(), apivalidation.FieldImmutableErrorMsg))
	}
	if !equalInt32Ptr(spec.Completions, oldSpec.Completions) {
		allErrs = append(allErrs, field.Invalid(p.Child("completions"), spec.GetCompletions(), apivalidation.FieldImmutableErrorMsg))
	}
	if !proto.Equal(spec.GetSuccessPolicy(), oldSpec.GetSuccessPolicy()) {
		allErrs = append(allErrs, field.Invalid(p.Child("successPolicy"), "", apivalidation.FieldImmutableErrorMsg))
	}
	return allErrs
}

// maxSuccessPolicyRules and maxSucceededIndexesLength bound a success
// policy, as Kubernetes does.
const (
	maxSuccessPolicyRules     = 20
	maxSucceededIndexesLength = 64 * 1024
)

// validateSuccessPolicy: only for Indexed Jobs; 1 to 20 rules, each with
// succeededIndexes (an interval list of indexes below completions) or
// succeededCount (at most completions, and at most the number of indexes
// listed) or both.
func validateSuccessPolicy(spec *batchv1.JobSpec, p *field.Path) field.ErrorList {
	pol := spec.GetSuccessPolicy()
	if pol == nil {
		return nil
	}
	if spec.GetCompletionMode() != api.IndexedCompletion {
		return field.ErrorList{field.Invalid(p, "", "requires indexed completion mode")}
	}
	if spec.Completions == nil {
		return nil // reported on completions
	}
	var allErrs field.ErrorList
	rules := pol.GetRules()
	if len(rules) == 0 {
		allErrs = append(allErrs, field.Required(p.Child("rules"), "at least one rules must be specified when the successPolicy is specified"))
	}
	if len(rules) > maxSuccessPolicyRules {
		allErrs = append(allErrs, field.TooMany(p.Child("rules"), len(rules), maxSuccessPolicyRules))
	}
	completions := spec.GetCompletions()
	for i, r := range rules {
		rp := p.Child("rules").Index(i)
		if r.SucceededIndexes == nil && r.SucceededCount == nil {
			allErrs = append(allErrs, field.Required(rp, "at least one of succeededCount or succeededIndexes must be specified"))
		}
		listed := int32(-1)
		if r.SucceededIndexes != nil {
			ip := rp.Child("succeededIndexes")
			if len(r.GetSucceededIndexes()) > maxSucceededIndexesLength {
				allErrs = append(allErrs, field.TooLong(ip, "", maxSucceededIndexesLength))
			} else if n, err := countIndexIntervals(r.GetSucceededIndexes(), completions); err != nil {
				allErrs = append(allErrs, field.Invalid(ip, r.GetSucceededIndexes(), "error parsing succeededIndexes: "+err.Error()))
			} else {
				listed = n
			}
		}
		if r.SucceededCount != nil {
			cp := rp.Child("succeededCount")
			allErrs = append(allErrs, validateNonnegative(int64(r.GetSucceededCount()), cp)...)
			if r.GetSucceededCount() > completions {
				allErrs = append(allErrs, field.Invalid(cp, r.GetSucceededCount(), fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", completions)))
			}
			if listed >= 0 && r.GetSucceededCount() > listed {
				allErrs = append(allErrs, field.Invalid(cp, r.GetSucceededCount(), fmt.Sprintf("must be less than or equal to %d (the number of indexes in the specified succeededIndexes field)", listed)))
			}
		}
	}
	return allErrs
}

// equalInt32Ptr reports whether two optional int32 fields are both unset or
// both set to the same value.
func equalInt32Ptr(a, b *int32) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func validateJobStatus(s *batchv1.JobStatus, p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	var allErrs field.ErrorList
	for _, f := range []struct {
		name string
		v    int32
	}{{"active", s.GetActive()}, {"succeeded", s.GetSucceeded()}, {"failed", s.GetFailed()}} {
		allErrs = append(allErrs, validateNonnegative(int64(f.v), p.Child(f.name))...)
	}
	if s.Ready != nil {
		allErrs = append(allErrs, validateNonnegative(int64(s.GetReady()), p.Child("ready"))...)
	}
	if s.Terminating != nil {
		allErrs = append(allErrs, validateNonnegative(int64(s.GetTerminating()), p.Child("terminating"))...)
	}
	if s.GetCompletionTime() != nil && s.GetStartTime() != nil && s.GetCompletionTime().AsTime().Before(s.GetStartTime().AsTime()) {
		allErrs = append(allErrs, field.Invalid(p.Child("completionTime"), s.GetCompletionTime().AsTime().String(), "must be equal to or after `startTime`"))
	}
	allErrs = append(allErrs, validateConditions(s.GetConditions(), p.Child("conditions"))...)
	return allErrs
}

// validateJobCompletedIndexes checks status.completedIndexes against the
// Job's spec: empty unless the Job is Indexed, and then ascending,
// non-overlapping intervals ("1,3-5,7") of indexes below completions.
func validateJobCompletedIndexes(j *batchv1.Job, p *field.Path) field.ErrorList {
	ci := j.GetStatus().GetCompletedIndexes()
	if ci == "" {
		return nil
	}
	p = p.Child("completedIndexes")
	if j.GetSpec().GetCompletionMode() != api.IndexedCompletion {
		return field.ErrorList{field.Invalid(p, ci, "must be empty when completion mode is not Indexed")}
	}
	if err := checkIndexIntervals(ci, j.GetSpec().GetCompletions()); err != nil {
		return field.ErrorList{field.Invalid(p, ci, err.Error())}
	}
	return nil
}

// checkIndexIntervals checks an interval list such as "1,3-5,7": each
// interval an index or first-last with first < last, ascending and apart,
// every index below completions.
func checkIndexIntervals(s string, completions int32) error {
	_, err := countIndexIntervals(s, completions)
	return err
}

// countIndexIntervals checks an interval list as checkIndexIntervals
// does and counts the indexes it holds.
func countIndexIntervals(s string, completions int32) (int32, error) {
	prev, n := -1, int32(0)
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := parseIndex(lo)
		if err != nil {
			return 0, fmt.Errorf("interval %q: %w", part, err)
		}
		last := first
		if isRange {
			if last, err = parseIndex(hi); err != nil {
				return 0, fmt.Errorf("interval %q: %w", part, err)
			}
			if last <= first {
				return 0, fmt.Errorf("interval %q: must end after it starts", part)
			}
		}
		if first <= prev {
			return 0, fmt.Errorf("interval %q: intervals must be in ascending order and not overlap", part)
		}
		if last >= int(completions) {
			return 0, fmt.Errorf("interval %q: indexes must be less than completions (%d)", part, completions)
		}
		prev = last
		n += int32(last - first + 1)
	}
	return n, nil
}

// parseIndex parses a completion index: decimal digits only.
func parseIndex(s string) (int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not an index", s)
	}
	ix, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not an index", s)
	}
	return ix, nil
}

// validatePodFailurePolicy: each rule has a known action (FailIndex only
// with backoffLimitPerIndex) and exactly one of onExitCodes (In/NotIn, at
// least one value, no duplicates, In never 0) and onPodConditions.
func validatePodFailurePolicy(spec *batchv1.JobSpec, p *field.Path) field.ErrorList {
	pol := spec.GetPodFailurePolicy()
	if pol == nil {
		return nil
	}
	var allErrs field.ErrorList
	if spec.GetTemplate().GetSpec().GetRestartPolicy() != api.RestartPolicyNever {
		allErrs = append(allErrs, field.Invalid(p, "", "only allowed when template.spec.restartPolicy is Never"))
	}
	for i, r := range pol.GetRules() {
		rp := p.Child("rules").Index(i)
		actions := []string{api.PodFailurePolicyFailJob, api.PodFailurePolicyIgnore, api.PodFailurePolicyCount}
		if spec.BackoffLimitPerIndex != nil {
			actions = append(actions, api.PodFailurePolicyFailIndex)
		}
		allErrs = append(allErrs, validateEnum(r.GetAction(), rp.Child("action"), actions...)...)
		codes, conds := r.GetOnExitCodes(), r.GetOnPodConditions()
		switch {
		case codes != nil && len(conds) > 0:
			allErrs = append(allErrs, field.Invalid(rp, "", "specifying both onExitCodes and onPodConditions is not supported"))
		case codes == nil && len(conds) == 0:
			allErrs = append(allErrs, field.Invalid(rp, "", "specifying one of onExitCodes and onPodConditions is required"))
		case codes != nil:
			cp := rp.Child("onExitCodes")
			allErrs = append(allErrs, validateEnum(codes.GetOperator(), cp.Child("operator"), api.PodFailurePolicyOpIn, api.PodFailurePolicyOpNotIn)...)
			if len(codes.GetValues()) == 0 {
				allErrs = append(allErrs, field.Required(cp.Child("values"), "at least one value is required"))
			}
			seen := map[int32]bool{}
			for k, v := range codes.GetValues() {
				if seen[v] {
					allErrs = append(allErrs, field.Duplicate(cp.Child("values").Index(k), v))
				}
				seen[v] = true
				if v == 0 && codes.GetOperator() == api.PodFailurePolicyOpIn {
					allErrs = append(allErrs, field.Invalid(cp.Child("values").Index(k), v, "must not be 0 for the In operator"))
				}
			}
		default:
			for k, c := range conds {
				cp := rp.Child("onPodConditions").Index(k)
				if c.GetType() == "" {
					allErrs = append(allErrs, field.Required(cp.Child("type"), ""))
				}
				if c.GetStatus() != "" {
					allErrs = append(allErrs, validateEnum(c.GetStatus(), cp.Child("status"), api.ConditionTrue, api.ConditionFalse, api.ConditionUnknown)...)
				}
			}
		}
	}
	return allErrs
}

// ---------------------------------------------------------------------------
// CronJob

func validateCronJob(cj *batchv1.CronJob) field.ErrorList {
	var allErrs field.ErrorList
	if n := cj.GetMetadata().GetName(); len(n) > api.MaxCronJobNameLength {
		allErrs = append(allErrs, field.Invalid(field.NewPath("metadata", "name"), n,
			fmt.Sprintf("must be no more than %d characters", api.MaxCronJobNameLength)))
	}
	p := field.NewPath("spec")
	spec := cj.GetSpec()
	if spec == nil {
		return append(allErrs, field.Required(p, ""))
	}
	if spec.GetSchedule() == "" {
		allErrs = append(allErrs, field.Required(p.Child("schedule"), ""))
	} else if _, err := api.ParseCronSchedule(spec.GetSchedule(), ""); err != nil {
		allErrs = append(allErrs, field.Invalid(p.Child("schedule"), spec.GetSchedule(), err.Error()))
	}
	if spec.TimeZone != nil {
		if _, err := api.LoadTimeZone(spec.GetTimeZone()); err != nil {
			allErrs = append(allErrs, field.Invalid(p.Child("timeZone"), spec.GetTimeZone(), err.Error()))
		}
	}
	if spec.StartingDeadlineSeconds != nil {
		allErrs = append(allErrs, validateNonnegative(spec.GetStartingDeadlineSeconds(), p.Child("startingDeadlineSeconds"))...)
	}
	allErrs = append(allErrs, validateEnum(spec.GetConcurrencyPolicy(), p.Child("concurrencyPolicy"),
		api.ConcurrencyAllow, api.ConcurrencyForbid, api.ConcurrencyReplace)...)
	for _, f := range []struct {
		name string
		v    *int32
	}{{"successfulJobsHistoryLimit", spec.SuccessfulJobsHistoryLimit}, {"failedJobsHistoryLimit", spec.FailedJobsHistoryLimit}} {
		if f.v != nil {
			allErrs = append(allErrs, validateNonnegative(int64(*f.v), p.Child(f.name))...)
		}
	}
	tp := p.Child("jobTemplate")
	js := spec.GetJobTemplate().GetSpec()
	if js == nil {
		return append(allErrs, field.Required(tp.Child("spec"), ""))
	}
	if js.Selector != nil {
		allErrs = append(allErrs, validateSelectorMatchesTemplate(js.GetSelector(), js.GetTemplate(), tp.Child("spec"))...)
	}
	return append(allErrs, validateJobSpec(js, tp.Child("spec"))...)
}

func validateCronJobStatus(s *batchv1.CronJobStatus, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, ref := range s.GetActive() {
		if ref.GetName() == "" {
			allErrs = append(allErrs, field.Required(p.Child("active").Index(i).Child("name"), ""))
		}
	}
	return allErrs
}
