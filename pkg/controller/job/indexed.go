package job

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"keel.dev/keel/pkg/api"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/controller"
)

// CompletionIndexEnv is the environment variable through which every
// container of an Indexed Job's pod sees its completion index (a fieldRef
// to the annotation, resolved by the kubelet).
const CompletionIndexEnv = "JOB_COMPLETION_INDEX"

// maxGeneratedNamePrefix is the longest generateName prefix whose generated
// name (5 random characters more) is still a DNS label, as in Kubernetes.
const maxGeneratedNamePrefix = 63 - 5

// actions is what a sync does to a Job's pods: create one pod per entry of
// create (a completion index, or -1 for a pod without one) and delete the
// pods in remove.
type actions struct {
	create []int
	remove []*corev1.Pod
}

// planNonIndexed keeps want of the active pods: it creates the missing
// ones, or removes the surplus that LessToDelete puts first.
func planNonIndexed(active []*corev1.Pod, want int32, now time.Time) actions {
	diff := int(want) - len(active)
	switch {
	case diff > 0:
		create := make([]int, diff)
		for i := range create {
			create[i] = -1
		}
		return actions{create: create}
	case diff < 0:
		victims := slices.Clone(active)
		controller.SortToDelete(victims, now)
		return actions{remove: victims[:-diff]}
	}
	return actions{}
}

// planIndexed plans an Indexed Job's pods: done holds the indexes that
// need no more pods (succeeded, or failed under backoffLimitPerIndex;
// ascending, each below completions) and want how many pods
// should be active. It removes every active pod without a valid index or
// whose index is done, every pod but one (the one LessToDelete puts last)
// per index, then, while more than want remain, the ones LessToDelete puts
// first; or it creates pods for the lowest indexes that are neither done
// nor active until want are active. Removals come in ascending index order.
func planIndexed(active []*corev1.Pod, done []int, completions, want int32, now time.Time) actions {
	var a actions
	isDone := make([]bool, completions)
	for _, ix := range done {
		isDone[ix] = true
	}
	byIndex := map[int][]*corev1.Pod{}
	for _, p := range active {
		if ix := podIndex(p, completions); ix >= 0 && !isDone[ix] {
			byIndex[ix] = append(byIndex[ix], p)
		} else {
			a.remove = append(a.remove, p)
		}
	}
	indexes := slices.Sorted(maps.Keys(byIndex))
	var kept []*corev1.Pod
	for _, ix := range indexes {
		pods := byIndex[ix]
		controller.SortToDelete(pods, now)
		a.remove = append(a.remove, pods[:len(pods)-1]...)
		kept = append(kept, pods[len(pods)-1])
	}
	if surplus := len(kept) - int(want); surplus > 0 {
		controller.SortToDelete(kept, now)
		a.remove = append(a.remove, kept[:surplus]...)
		return a
	}
	for ix := 0; ix < int(completions) && len(kept)+len(a.create) < int(want); ix++ {
		if _, active := byIndex[ix]; !active && !isDone[ix] {
			a.create = append(a.create, ix)
		}
	}
	return a
}

// podIndex is p's completion index, from its annotation (or, without one,
// its label); -1 when it has none or it is not in [0, completions).
func podIndex(p *corev1.Pod, completions int32) int {
	m := p.GetMetadata()
	v, ok := m.GetAnnotations()[api.JobCompletionIndexAnnotation]
	if !ok {
		v = m.GetLabels()[api.JobCompletionIndexAnnotation]
	}
	ix, err := strconv.Atoi(v)
	if err != nil || ix < 0 || ix >= int(completions) {
		return -1
	}
	return ix
}

// succeededIndexes is the ascending set of indexes that succeeded: those
// recorded in status.completedIndexes (whose pods may be gone since) and
// those of the Succeeded pods.
func succeededIndexes(recorded string, pods []*corev1.Pod, completions int32) []int {
	done := parseIndexes(recorded, completions)
	for _, p := range pods {
		if p.GetStatus().GetPhase() == api.PodSucceeded {
			if ix := podIndex(p, completions); ix >= 0 {
				done = append(done, ix)
			}
		}
	}
	slices.Sort(done)
	return slices.Compact(done)
}

// failedIndexes is the ascending set of an Indexed Job's failed indexes
// under backoffLimitPerIndex (limit): those recorded in
// status.failedIndexes, those with more than limit failed pods, and those
// of a failed pod whose failure policy action is FailIndex. A failed pod
// the policy ignores does not count; an index in done (succeeded) never
// fails.
func failedIndexes(recorded string, pods []*corev1.Pod, completions, limit int32, pol *batchv1.PodFailurePolicy, done []int) []int {
	failed := parseIndexes(recorded, completions)
	failures := map[int]int32{}
	for _, p := range pods {
		ix := podIndex(p, completions)
		if p.GetStatus().GetPhase() != api.PodFailed || ix < 0 {
			continue
		}
		switch action, _ := MatchPodFailurePolicy(pol, p); action {
		case api.PodFailurePolicyIgnore:
		case api.PodFailurePolicyFailIndex:
			failed = append(failed, ix)
		default:
			if failures[ix]++; failures[ix] > limit {
				failed = append(failed, ix)
			}
		}
	}
	failed = slices.DeleteFunc(failed, func(ix int) bool { _, ok := slices.BinarySearch(done, ix); return ok })
	slices.Sort(failed)
	return slices.Compact(failed)
}

// parseIndexes reads an interval list such as "1,3-5,7" into its distinct
// indexes below completions, ascending. Malformed intervals and indexes out
// of range are skipped: the list is the controller's own record, and a bad
// part of it loses only what it cannot say.
func parseIndexes(s string, completions int32) []int {
	var out []int
	if s == "" {
		return out
	}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		if err != nil || first < 0 {
			continue
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil || last < first {
				continue
			}
		}
		for ix := first; ix <= min(last, int(completions)-1); ix++ {
			out = append(out, ix)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// formatIndexes writes ascending distinct indexes as the interval list
// Kubernetes uses in status.completedIndexes: "1,3-5,7" (two consecutive
// indexes are "3,4", not "3-4").
func formatIndexes(ix []int) string {
	var b strings.Builder
	for i := 0; i < len(ix); {
		j := i
		for j+1 < len(ix) && ix[j+1] == ix[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(ix[i]))
		if j > i+1 {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(ix[j]))
			i = j + 1
		} else {
			i++
		}
	}
	return b.String()
}

// indexedPod is the pod of j for completion index ix: the template's pod
// with the index as annotation, label, JOB_COMPLETION_INDEX in every
// container (one that sets it itself keeps its own) and hostname
// <job>-<ix>, named <job>-<ix>-<random>.
func indexedPod(j *batchv1.Job, ix int) *corev1.Pod {
	p := controller.PodFromTemplate(j, j.GetSpec().GetTemplate())
	name, s := j.GetMetadata().GetName(), strconv.Itoa(ix)
	suffix := "-" + s + "-"
	p.Metadata.GenerateName = name[:min(len(name), maxGeneratedNamePrefix-len(suffix))] + suffix
	if p.Metadata.Annotations == nil {
		p.Metadata.Annotations = map[string]string{}
	}
	if p.Metadata.Labels == nil {
		p.Metadata.Labels = map[string]string{}
	}
	p.Metadata.Annotations[api.JobCompletionIndexAnnotation] = s
	p.Metadata.Labels[api.JobCompletionIndexAnnotation] = s
	if p.Spec == nil {
		p.Spec = &corev1.PodSpec{}
	}
	p.Spec.Hostname = name + "-" + s
	for _, cs := range [][]*corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			if !slices.ContainsFunc(c.Env, func(e *corev1.EnvVar) bool { return e.GetName() == CompletionIndexEnv }) {
				c.Env = append(c.Env, &corev1.EnvVar{Name: CompletionIndexEnv, ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['" + api.JobCompletionIndexAnnotation + "']"}}})
			}
		}
	}
	return p
}
