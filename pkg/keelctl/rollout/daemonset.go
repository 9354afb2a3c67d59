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
)

// The DaemonSet paths of rollout: status, history, undo and restart read
// and write a DaemonSet and its ControllerRevisions.

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

// daemonSetRevisions reads the named DaemonSet and the ControllerRevisions
// it controls, oldest first.
func daemonSetRevisions(c *cmdutil.CLI, ctx context.Context, name string) (*appsv1.DaemonSet, []*appsv1.ControllerRevision, error) {
	cl, err := c.Clientset()
	if err != nil {
		return nil, nil, err
	}
	ds, err := client.For[*appsv1.DaemonSet](cl, c.NS()).Get(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	r := client.For[*appsv1.ControllerRevision](cl, c.NS())
	var all []*appsv1.ControllerRevision
	opts := client.ListOptions{Limit: cmdutil.ListChunk}
	for {
		l, err := r.List(ctx, opts)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, l.Items...)
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	var owned []*appsv1.ControllerRevision
	for _, r := range all {
		if uid := api.ControllerRef(r.GetMetadata()).GetUid(); uid != "" && uid == ds.GetMetadata().GetUid() {
			owned = append(owned, r)
		}
	}
	slices.SortStableFunc(owned, func(a, b *appsv1.ControllerRevision) int { return cmp.Compare(a.GetRevision(), b.GetRevision()) })
	return ds, owned, nil
}

// revisionTemplate is the pod template a DaemonSet revision records.
func revisionTemplate(r *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var ds appsv1.DaemonSet
	if err := manifest.DecodeInto(r.GetData().GetRaw(), &ds); err != nil {
		return nil, fmt.Errorf("revision %d: %w", r.GetRevision(), err)
	}
	if ds.GetSpec().GetTemplate() == nil {
		return nil, fmt.Errorf("revision %d has no pod template", r.GetRevision())
	}
	return ds.GetSpec().GetTemplate(), nil
}

func findRevision(revs []*appsv1.ControllerRevision, n int64) *appsv1.ControllerRevision {
	for _, r := range revs {
		if r.GetRevision() == n {
			return r
		}
	}
	return nil
}

// printDaemonSetHistory lists a DaemonSet's revisions, or with revision >
// 0 prints that revision's pod template.
func printDaemonSetHistory(c *cmdutil.CLI, ctx context.Context, name string, revision int64) error {
	ds, revs, err := daemonSetRevisions(c, ctx, name)
	if err != nil {
		return err
	}
	obj := objName(target{"daemonsets", ds.GetMetadata().GetName()})
	if revision > 0 {
		r := findRevision(revs, revision)
		if r == nil {
			return fmt.Errorf("unable to find the specified revision %d of %s", revision, obj)
		}
		tmpl, err := revisionTemplate(r)
		if err != nil {
			return err
		}
		return printRevisionTemplate(c, obj, revision, tmpl)
	}
	nums, causes := make([]int64, len(revs)), make([]string, len(revs))
	for i, r := range revs {
		nums[i], causes[i] = r.GetRevision(), r.GetMetadata().GetAnnotations()[api.ChangeCauseAnnotation]
	}
	return printRevisions(c, obj, nums, causes)
}

// undoDaemonSet puts the template of revision toRevision (0: the one
// before the newest) back into the named DaemonSet; its controller then
// renumbers that revision as the newest and rolls it out.
func undoDaemonSet(c *cmdutil.CLI, ctx context.Context, name string, toRevision int64, dryRun cmdutil.DryRun) (string, error) {
	_, revs, err := daemonSetRevisions(c, ctx, name)
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
		return "", fmt.Errorf("no rollout history found for daemonset %q", name)
	default:
		r = revs[len(revs)-2]
	}
	tmpl, err := revisionTemplate(r)
	if err != nil {
		return "", err
	}
	changed, err := updateDaemonSet(c, ctx, name, dryRun, func(ds *appsv1.DaemonSet) bool {
		if proto.Equal(ds.GetSpec().GetTemplate(), tmpl) {
			return false
		}
		ds.Spec.Template = tmpl
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

// restartDaemonSet stamps the named DaemonSet's template with the restart
// time, so its controller replaces every pod.
func restartDaemonSet(c *cmdutil.CLI, ctx context.Context, name string, dryRun cmdutil.DryRun) error {
	_, err := updateDaemonSet(c, ctx, name, dryRun, func(ds *appsv1.DaemonSet) bool {
		if ds.Spec.Template.Metadata == nil {
			ds.Spec.Template.Metadata = &metav1.ObjectMeta{}
		}
		if ds.Spec.Template.Metadata.Annotations == nil {
			ds.Spec.Template.Metadata.Annotations = map[string]string{}
		}
		ds.Spec.Template.Metadata.Annotations[api.RestartedAtAnnotation] = c.Now().Format(time.RFC3339)
		return true
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Out, "%s restarted%s\n", objName(target{"daemonsets", name}), dryRun.Suffix())
	return nil
}

// updateDaemonSet applies change to a fresh read of the named DaemonSet
// (again on conflicts) and writes it when change reports a change (not
// with --dry-run=client).
func updateDaemonSet(c *cmdutil.CLI, ctx context.Context, name string, dryRun cmdutil.DryRun, change func(*appsv1.DaemonSet) bool) (bool, error) {
	cl, err := c.Clientset()
	if err != nil {
		return false, err
	}
	r := client.For[*appsv1.DaemonSet](cl, c.NS())
	changed := false
	err = client.RetryOnConflict(client.DefaultRetry, func() error {
		ds, err := r.Get(ctx, name)
		if err != nil {
			return err
		}
		if ds.Spec == nil || ds.Spec.Template == nil {
			return fmt.Errorf("daemonset %q has no pod template", name)
		}
		if changed = change(ds); !changed || dryRun.Client() {
			return nil
		}
		_, err = r.Update(ctx, ds, client.UpdateOptions{DryRun: dryRun.Server()})
		return err
	})
	return changed, err
}
