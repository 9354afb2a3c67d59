package rollout

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// The DaemonSet and StatefulSet paths of rollout: history, undo and
// restart read and write the object and its ControllerRevisions.

// daemonSetRolloutStatus reads a DaemonSet's rollout as kubectl does: only
// RollingUpdate ones have a rollout to follow.
func daemonSetRolloutStatus(ds *appsv1.DaemonSet) (msg string, done bool, err error) {
	if t := ds.GetSpec().GetUpdateStrategy().GetType(); t != api.RollingUpdateDaemonSetStrategyType {
		return "", true, fmt.Errorf("rollout status is only available for %s strategy type", api.RollingUpdateDaemonSetStrategyType)
	}
	name, st := ds.GetMetadata().GetName(), ds.GetStatus()
	if ds.GetMetadata().GetGeneration() > st.GetObservedGeneration() {
		return "Waiting for daemon set spec update to be observed...", false, nil
	}
	desired := st.GetDesiredNumberScheduled()
	switch {
	case st.GetUpdatedNumberScheduled() < desired:
		return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d out of %d new pods have been updated...", name, st.GetUpdatedNumberScheduled(), desired), false, nil
	case st.GetNumberAvailable() < desired:
		return fmt.Sprintf("Waiting for daemon set %q rollout to finish: %d of %d updated pods are available...", name, st.GetNumberAvailable(), desired), false, nil
	}
	return fmt.Sprintf("daemon set %q successfully rolled out", name), true, nil
}

// revisioned is a kind whose rollout history is the ControllerRevisions it
// controls, each recording its pod template ({"spec":{"template":…}}):
// DaemonSet and StatefulSet.
type revisioned[T scheme.Object] struct {
	resource, singular string // "daemonsets", "daemonset"
	template           func(T) *corev1.PodTemplateSpec
	setTemplate        func(T, *corev1.PodTemplateSpec)
}

var (
	daemonSets = revisioned[*appsv1.DaemonSet]{resource: "daemonsets", singular: "daemonset",
		template:    func(ds *appsv1.DaemonSet) *corev1.PodTemplateSpec { return ds.GetSpec().GetTemplate() },
		setTemplate: func(ds *appsv1.DaemonSet, t *corev1.PodTemplateSpec) { ds.Spec.Template = t },
	}
	statefulSets = revisioned[*appsv1.StatefulSet]{resource: "statefulsets", singular: "statefulset",
		template:    func(s *appsv1.StatefulSet) *corev1.PodTemplateSpec { return s.GetSpec().GetTemplate() },
		setTemplate: func(s *appsv1.StatefulSet, t *corev1.PodTemplateSpec) { s.Spec.Template = t },
	}
)

// revisions reads the named object and the ControllerRevisions it
// controls, oldest first.
func (k revisioned[T]) revisions(c *cmdutil.CLI, ctx context.Context, name string) (T, []*appsv1.ControllerRevision, error) {
	var zero T
	cl, err := c.Clientset()
	if err != nil {
		return zero, nil, err
	}
	obj, err := client.For[T](cl, c.NS()).Get(ctx, name)
	if err != nil {
		return zero, nil, err
	}
	r := client.For[*appsv1.ControllerRevision](cl, c.NS())
	var all []*appsv1.ControllerRevision
	opts := client.ListOptions{Limit: cmdutil.ListChunk}
	for {
		l, err := r.List(ctx, opts)
		if err != nil {
			return zero, nil, err
		}
		all = append(all, l.Items...)
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	var owned []*appsv1.ControllerRevision
	for _, r := range all {
		if uid := api.ControllerRef(r.GetMetadata()).GetUid(); uid != "" && uid == obj.GetMetadata().GetUid() {
			owned = append(owned, r)
		}
	}
	slices.SortStableFunc(owned, func(a, b *appsv1.ControllerRevision) int { return cmp.Compare(a.GetRevision(), b.GetRevision()) })
	return obj, owned, nil
}

// revisionTemplate is the pod template a revision records.
func (k revisioned[T]) revisionTemplate(r *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var zero T
	obj := zero.ProtoReflect().New().Interface().(T)
	if err := manifest.DecodeInto(r.GetData().GetRaw(), obj); err != nil {
		return nil, fmt.Errorf("revision %d: %w", r.GetRevision(), err)
	}
	if k.template(obj) == nil {
		return nil, fmt.Errorf("revision %d has no pod template", r.GetRevision())
	}
	return k.template(obj), nil
}

func findRevision(revs []*appsv1.ControllerRevision, n int64) *appsv1.ControllerRevision {
	for _, r := range revs {
		if r.GetRevision() == n {
			return r
		}
	}
	return nil
}

// printHistory lists the named object's revisions, or with revision > 0
// prints that revision's pod template.
func (k revisioned[T]) printHistory(c *cmdutil.CLI, ctx context.Context, name string, revision int64) error {
	obj, revs, err := k.revisions(c, ctx, name)
	if err != nil {
		return err
	}
	what := objName(target{k.resource, obj.GetMetadata().GetName()})
	if revision > 0 {
		r := findRevision(revs, revision)
		if r == nil {
			return fmt.Errorf("unable to find the specified revision %d of %s", revision, what)
		}
		tmpl, err := k.revisionTemplate(r)
		if err != nil {
			return err
		}
		return printRevisionTemplate(c, what, revision, tmpl)
	}
	nums, causes := make([]int64, len(revs)), make([]string, len(revs))
	for i, r := range revs {
		nums[i], causes[i] = r.GetRevision(), r.GetMetadata().GetAnnotations()[api.ChangeCauseAnnotation]
	}
	return printRevisions(c, what, nums, causes)
}

// undo puts the template of revision toRevision (0: the one before the
// newest) back into the named object; its controller then renumbers that
// revision as the newest and rolls it out.
func (k revisioned[T]) undo(c *cmdutil.CLI, ctx context.Context, name string, toRevision int64, dryRun cmdutil.DryRun) (string, error) {
	_, revs, err := k.revisions(c, ctx, name)
	if err != nil {
		return "", err
	}
	var r *appsv1.ControllerRevision
	switch {
	case toRevision > 0:
		if r = findRevision(revs, toRevision); r == nil {
			return "", fmt.Errorf("unable to find specified revision %d in history", toRevision)
		}
	case len(revs) < 2:
		return "", fmt.Errorf("no rollout history found for %s %q", k.singular, name)
	default:
		r = revs[len(revs)-2]
	}
	tmpl, err := k.revisionTemplate(r)
	if err != nil {
		return "", err
	}
	changed, err := k.update(c, ctx, name, dryRun, func(obj T) bool {
		if proto.Equal(k.template(obj), tmpl) {
			return false
		}
		k.setTemplate(obj, tmpl)
		return true
	})
	if err != nil {
		return "", err
	}
	if !changed {
		return fmt.Sprintf("skipped rollback (current template already matches revision %d)", r.GetRevision()), nil
	}
	return "rolled back", nil
}

// restart stamps the named object's template with the restart time, so
// its controller replaces every pod.
func (k revisioned[T]) restart(c *cmdutil.CLI, ctx context.Context, name string, dryRun cmdutil.DryRun) error {
	_, err := k.update(c, ctx, name, dryRun, func(obj T) bool {
		t := k.template(obj)
		if t.Metadata == nil {
			t.Metadata = &metav1.ObjectMeta{}
		}
		if t.Metadata.Annotations == nil {
			t.Metadata.Annotations = map[string]string{}
		}
		t.Metadata.Annotations[api.RestartedAtAnnotation] = c.Now().Format(time.RFC3339)
		return true
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "%s restarted%s\n", objName(target{k.resource, name}), dryRun.Suffix())
	return nil
}

// update applies change to a fresh read of the named object (again on
// conflicts) and writes it when change reports a change (not with
// --dry-run=client).
func (k revisioned[T]) update(c *cmdutil.CLI, ctx context.Context, name string, dryRun cmdutil.DryRun, change func(T) bool) (bool, error) {
	cl, err := c.Clientset()
	if err != nil {
		return false, err
	}
	r := client.For[T](cl, c.NS())
	changed := false
	err = client.RetryOnConflict(client.DefaultRetry, func() error {
		obj, err := r.Get(ctx, name)
		if err != nil {
			return err
		}
		if k.template(obj) == nil {
			return fmt.Errorf("%s %q has no pod template", k.singular, name)
		}
		if changed = change(obj); !changed || dryRun.Client() {
			return nil
		}
		_, err = r.Update(ctx, obj, client.UpdateOptions{DryRun: dryRun.Server()})
		return err
	})
	return changed, err
}
