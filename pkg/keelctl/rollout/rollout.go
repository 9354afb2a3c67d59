// Package rollout holds keelctl rollout (status, history, undo, restart,
// pause, resume) and keelctl scale.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/scheme"
)

// NewRolloutCommand returns the "rollout" command.
func NewRolloutCommand(c *cmdutil.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout SUBCOMMAND",
		Short: "Manage the rollout of deployments, daemon sets and stateful sets",
		Long: `Manage the rollout of deployments, daemon sets and stateful sets: follow it (status), list
its revisions (history), go back to an earlier one (undo), roll every pod
again (restart), or, for deployments, hold changes of the pod template back
until resumed (pause, resume).

A deployment is named as "deployment NAME", "deployment/NAME" or "deploy/NAME";
a daemon set as "daemonset NAME", "daemonset/NAME" or "ds/NAME"; a stateful
set as "statefulset NAME", "statefulset/NAME" or "sts/NAME".`,
		Example: `  keelctl rollout status deployment/web
  keelctl rollout history deploy/web
  keelctl rollout undo deployment web --to-revision=2
  keelctl rollout restart deployment/web
  keelctl rollout status ds/fluentd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newRolloutStatusCommand(c),
		newRolloutHistoryCommand(c),
		newRolloutUndoCommand(c),
		newRolloutRestartCommand(c),
		newRolloutPauseCommand(c, true),
		newRolloutPauseCommand(c, false),
	)
	return cmd
}

// deploymentKind is the kind rollout works on.
func deploymentKind() *scheme.Kind {
	k, _ := cmdutil.LookupKind("deployments")
	return k
}

// target is one object a rollout command names.
type target struct{ resource, name string }

// rolloutArgs reads the objects a rollout command names: "TYPE NAME...",
// "TYPE/NAME..." (any name of a kind: deploy, ds, deployments.apps), of
// the resources given.
func rolloutArgs(args []string, resources ...string) ([]target, error) {
	if len(args) == 0 {
		return nil, errors.New("required resource not specified (deployment/NAME or deployment NAME)")
	}
	targets, err := cmdutil.ParseTargets(args)
	if err != nil {
		return nil, err
	}
	var out []target
	for _, t := range targets {
		if !slices.Contains(resources, t.Kind.Resource) {
			return nil, fmt.Errorf("%s cannot be rolled out (keelctl rollout supports %s)", t.Kind.Resource, inWords(resources))
		}
		if len(t.Names) == 0 {
			return nil, errors.New("resource(s) were provided, but no name was specified")
		}
		for _, n := range t.Names {
			out = append(out, target{t.Kind.Resource, n})
		}
	}
	return out, nil
}

// inWords joins items as a sentence does: "a", "a and b", "a, b and c".
func inWords(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// rolledOut are the resources status, history, undo and restart work on.
var rolledOut = []string{"deployments", "daemonsets", "statefulsets"}

// deploymentArgs reads the deployments a rollout command names.
func deploymentArgs(args []string) ([]string, error) {
	targets, err := rolloutArgs(args, "deployments")
	if err != nil {
		return nil, err
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.name
	}
	return names, nil
}

// objName is "deployment.apps/NAME" for a target.
func objName(t target) string {
	k, _ := cmdutil.LookupKind(t.resource)
	return cmdutil.ObjNameOf(k, t.name)
}

// completeDeployments completes "deployment NAME" arguments.
func completeDeployments(c *cmdutil.CLI) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return []string{"deployment"}, cobra.ShellCompDirectiveNoFileComp
		}
		return c.CompleteNames(cmd, "deployments", toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// ---------------------------------------------------------------------------
// status

func newRolloutStatusCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		watch   bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status (TYPE NAME | TYPE/NAME)",
		Short: "Show the status of a rollout, waiting until it finishes",
		Long: `Show the status of a deployment's rollout and wait until it finishes: the
deployment controller has seen the latest spec, every replica runs the current
pod template and is available, and no old replica is left.

A rollout that exceeded its progress deadline (spec.progressDeadlineSeconds)
is an error. --watch=false prints the current state once instead of waiting.`,
		Example: `  keelctl rollout status deployment/web
  keelctl rollout status deploy web --timeout=5m
  keelctl rollout status deployment/web --watch=false`,
		ValidArgsFunction: completeDeployments(c),
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := rolloutArgs(args, rolledOut...)
			if err != nil {
				return err
			}
			if len(targets) != 1 {
				return fmt.Errorf("rollout status is only supported on individual resources - %d resources were found", len(targets))
			}
			if timeout < 0 {
				return errors.New("--timeout must not be negative")
			}
			cl, err := c.Clientset()
			if err != nil {
				return err
			}
			name := targets[0].name
			if targets[0].resource == "daemonsets" {
				return rolloutStatus(c, cmd.Context(), client.For[*appsv1.DaemonSet](cl, c.NS()), "daemon set", name, watch, timeout, daemonSetRolloutStatus)
			}
			if targets[0].resource == "statefulsets" {
				return rolloutStatus(c, cmd.Context(), client.For[*appsv1.StatefulSet](cl, c.NS()), "statefulset", name, watch, timeout, statefulSetRolloutStatus)
			}
			return rolloutStatus(c, cmd.Context(), cl.Deployments(c.NS()), "deployment", name, watch, timeout, deploymentRolloutStatus)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&watch, "watch", "w", true, "wait until the rollout finishes (false: print the current state once)")
	f.DurationVar(&timeout, "timeout", 0, "give up waiting after this long (0: wait as long as it takes)")
	return cmd
}

// deploymentRolloutStatus reads a Deployment's rollout as kubectl does: the
// line to print and whether the rollout is complete; an error when it
// exceeded its progress deadline.
func deploymentRolloutStatus(d *appsv1.Deployment) (msg string, done bool, err error) {
	name, st := d.GetMetadata().GetName(), d.GetStatus()
	if st.GetObservedGeneration() < d.GetMetadata().GetGeneration() {
		return "Waiting for deployment spec update to be observed...", false, nil
	}
	for _, cond := range st.GetConditions() {
		if cond.GetType() == api.DeploymentProgressing && cond.GetReason() == api.ProgressDeadlineExceeded {
			return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", name)
		}
	}
	want := int32(1)
	if r := d.GetSpec().Replicas; r != nil {
		want = *r
	}
	updated := st.GetUpdatedReplicas()
	switch {
	case updated < want:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...", name, updated, want), false, nil
	case st.GetReplicas() > updated:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...", name, st.GetReplicas()-updated), false, nil
	case st.GetAvailableReplicas() < updated:
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...", name, st.GetAvailableReplicas(), updated), false, nil
	case updated > want:
		// Scaled down during the rollout: the surplus is still to go.
		return fmt.Sprintf("Waiting for deployment %q rollout to finish: %d extra replicas are pending termination...", name, updated-want), false, nil
	}
	return fmt.Sprintf("deployment %q successfully rolled out", name), true, nil
}

// rolloutStatus prints the rollout state of the named object of r (each
// new state once, as status reads it) and, with watch, follows it until it
// is complete, it fails, or timeout passes; kind names it in messages.
func rolloutStatus[T scheme.Object](c *cmdutil.CLI, ctx context.Context, r *client.Resource[T], kind, name string, watch bool, timeout time.Duration,
	status func(T) (string, bool, error)) error {
	wctx := ctx
	if timeout > 0 && watch {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	fail := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if cmdutil.WaitTimedOut(wctx, err) {
			return fmt.Errorf("timed out waiting for %s %q rollout to finish", kind, name)
		}
		return err
	}
	var last string
	show := func(obj T) (bool, error) {
		msg, done, err := status(obj)
		if err != nil {
			return false, err
		}
		if msg != last {
			fmt.Fprintln(c.Out, msg)
			last = msg
		}
		return done, nil
	}
	// reread reads the Deployment afresh (first, and when the watch can no
	// longer resume) and shows it.
	var rv string
	reread := func() (bool, error) {
		d, err := r.Get(wctx, name)
		if err != nil {
			return false, err
		}
		rv = d.GetMetadata().GetResourceVersion()
		return show(d)
	}
	done, err := reread()
	if err != nil || done || !watch {
		if err != nil {
			return fail(err)
		}
		return nil
	}
	for {
		w, err := r.Watch(wctx, client.WatchOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: rv})
		if err == nil {
			done, err = follow(w, kind, &rv, show)
			if done {
				return nil
			}
		}
		switch {
		case errors.Is(err, io.EOF) || apierrors.ReasonOf(err) == apierrors.ReasonTooManyRequests:
			// The server ended the watch: resume from the last version.
		case apierrors.IsExpired(err):
			if done, err := reread(); err != nil || done {
				if err != nil {
					return fail(err)
				}
				return nil
			}
		default:
			return fail(err)
		}
	}
}

// follow shows every state a watch of one object sends until the rollout
// is complete (true) or the watch ends (its error), keeping rv at the last
// version seen.
func follow[T scheme.Object](w client.Watcher[T], kind string, rv *string, show func(T) (bool, error)) (bool, error) {
	defer w.Stop()
	for {
		ev, err := w.Next()
		if err != nil {
			return false, err
		}
		md := ev.Object.GetMetadata()
		if v := md.GetResourceVersion(); v != "" {
			*rv = v
		}
		switch ev.Type {
		case client.Bookmark:
			continue
		case client.Deleted:
			return false, fmt.Errorf("%s %q was deleted", kind, md.GetName())
		}
		if done, err := show(ev.Object); err != nil || done {
			return done, err
		}
	}
}

// ---------------------------------------------------------------------------
// history

func newRolloutHistoryCommand(c *cmdutil.CLI) *cobra.Command {
	var revision int64
	cmd := &cobra.Command{
		Use:   "history (TYPE NAME... | TYPE/NAME...)",
		Short: "List the revisions of a rollout",
		Long: `List the revisions of deployments: one per ReplicaSet the deployment controls,
numbered by its deployment.kubernetes.io/revision annotation, with the
kubernetes.io/change-cause annotation of the ReplicaSet. --revision prints the
pod template of one revision.`,
		Example: `  keelctl rollout history deployment/web
  keelctl rollout history deployment/web --revision=3`,
		ValidArgsFunction: completeDeployments(c),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			targets, err := rolloutArgs(args, rolledOut...)
			if err != nil {
				return err
			}
			if revision < 0 {
				return fmt.Errorf("revision must be a positive integer: %d", revision)
			}
			cl, err := c.Clientset()
			if err != nil {
				return err
			}
			var errs cmdutil.ErrorList
			for _, t := range targets {
				switch t.resource {
				case "daemonsets":
					errs = appendErr(errs, daemonSets.printHistory(c, ctx, t.name, revision))
					continue
				case "statefulsets":
					errs = appendErr(errs, statefulSets.printHistory(c, ctx, t.name, revision))
					continue
				}
				d, err := cl.Deployments(c.NS()).Get(ctx, t.name)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if err := printHistory(c, ctx, d, revision); err != nil {
					errs = append(errs, err)
				}
			}
			return errs.OrNil()
		},
	}
	cmd.Flags().Int64Var(&revision, "revision", 0, "print the pod template of this revision")
	return cmd
}

func printHistory(c *cmdutil.CLI, ctx context.Context, d *appsv1.Deployment, revision int64) error {
	byRev, revs, err := deploymentRevisions(c, ctx, d)
	if err != nil {
		return err
	}
	name := cmdutil.ObjNameOf(deploymentKind(), d.GetMetadata().GetName())
	if revision > 0 {
		rs, ok := byRev[revision]
		if !ok {
			return fmt.Errorf("unable to find the specified revision %d of %s", revision, name)
		}
		return printRevisionTemplate(c, name, revision, rs.GetSpec().GetTemplate())
	}
	causes := make([]string, len(revs))
	for i, rev := range revs {
		causes[i] = byRev[rev].GetMetadata().GetAnnotations()[api.ChangeCauseAnnotation]
	}
	return printRevisions(c, name, revs, causes)
}

// printRevisionTemplate prints one revision's pod template as kubectl does.
func printRevisionTemplate(c *cmdutil.CLI, name string, revision int64, tmpl *corev1.PodTemplateSpec) error {
	b, err := manifest.MarshalYAML(tmpl)
	if err != nil {
		return err
	}
	var out strings.Builder
	fmt.Fprintf(&out, "%s with revision #%d\nPod Template:\n", name, revision)
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" {
			out.WriteString("  " + l)
		}
	}
	_, err = io.WriteString(c.Out, out.String())
	return err
}

// printRevisions prints an object's revisions (increasing) with their
// change causes as kubectl does.
func printRevisions(c *cmdutil.CLI, name string, revs []int64, causes []string) error {
	fmt.Fprintln(c.Out, name)
	if len(revs) == 0 {
		fmt.Fprintln(c.Out, "No rollout history found.")
		return nil
	}
	rows := [][]string{{"REVISION", "CHANGE-CAUSE"}}
	for i, rev := range revs {
		cause := causes[i]
		if cause == "" {
			cause = "<none>"
		}
		rows = append(rows, []string{strconv.FormatInt(rev, 10), cause})
	}
	rows = append(rows, nil) // kubectl ends the table with an empty line
	return printers.NewWriter(c.Out).Write(rows)
}

// deploymentRevisions finds the ReplicaSets d controls (a controller
// ownerReference with d's uid) by their revision annotation, and the
// revisions in increasing order. ReplicaSets without a revision are left
// out.
func deploymentRevisions(c *cmdutil.CLI, ctx context.Context, d *appsv1.Deployment) (map[int64]*appsv1.ReplicaSet, []int64, error) {
	cl, err := c.Clientset()
	if err != nil {
		return nil, nil, err
	}
	md := d.GetMetadata()
	r := cl.ReplicaSets(md.GetNamespace())
	var all []*appsv1.ReplicaSet
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
	sort.Slice(all, func(i, j int) bool { return all[i].GetMetadata().GetName() < all[j].GetMetadata().GetName() })
	byRev := map[int64]*appsv1.ReplicaSet{}
	var revs []int64
	for _, rs := range all {
		ref := api.ControllerRef(rs.GetMetadata())
		if ref == nil || md.GetUid() == "" || ref.GetUid() != md.GetUid() {
			continue
		}
		rev, err := strconv.ParseInt(rs.GetMetadata().GetAnnotations()[api.DeploymentRevisionAnnotation], 10, 64)
		if err != nil || rev <= 0 {
			continue
		}
		if _, dup := byRev[rev]; dup {
			continue
		}
		byRev[rev] = rs
		revs = append(revs, rev)
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
	return byRev, revs, nil
}

// ---------------------------------------------------------------------------
// undo

func newRolloutUndoCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		toRevision int64
		dryRun     cmdutil.DryRun
	)
	cmd := &cobra.Command{
		Use:   "undo (TYPE NAME... | TYPE/NAME...) [--to-revision=N]",
		Short: "Roll back to an earlier revision",
		Long: `Roll a deployment back to its previous revision, or to the one --to-revision
names: the pod template of that revision's ReplicaSet becomes the
deployment's template again, and the deployment controller rolls it out as a
new revision.`,
		Example: `  keelctl rollout undo deployment/web
  keelctl rollout undo deployment/web --to-revision=3`,
		ValidArgsFunction: completeDeployments(c),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := dryRun.Check(); err != nil {
				return err
			}
			if toRevision < 0 {
				return fmt.Errorf("revision must be a positive integer: %d", toRevision)
			}
			targets, err := rolloutArgs(args, rolledOut...)
			if err != nil {
				return err
			}
			var errs cmdutil.ErrorList
			for _, t := range targets {
				undo := undoOne
				switch t.resource {
				case "daemonsets":
					undo = daemonSets.undo
				case "statefulsets":
					undo = statefulSets.undo
				}
				result, err := undo(c, ctx, t.name, toRevision, dryRun)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(c.Out, "%s %s%s\n", objName(t), result, dryRun.Suffix())
			}
			return errs.OrNil()
		},
	}
	cmd.Flags().Int64Var(&toRevision, "to-revision", 0, "the revision to roll back to (0: the previous one)")
	dryRun.Add(cmd)
	return cmd
}

// undoOne rolls the named Deployment back to toRevision (0: the highest
// revision below the current highest) and says what it did.
func undoOne(c *cmdutil.CLI, ctx context.Context, name string, toRevision int64, dryRun cmdutil.DryRun) (string, error) {
	cl, err := c.Clientset()
	if err != nil {
		return "", err
	}
	r := cl.Deployments(c.NS())
	d, err := r.Get(ctx, name)
	if err != nil {
		return "", err
	}
	if d.GetSpec().GetPaused() {
		return "", pausedRollbackError(name)
	}
	byRev, revs, err := deploymentRevisions(c, ctx, d)
	if err != nil {
		return "", err
	}
	target := toRevision
	if target > 0 {
		if _, ok := byRev[target]; !ok {
			return "", fmt.Errorf("unable to find specified revision %d in history", target)
		}
	} else {
		if len(revs) < 2 {
			return "", fmt.Errorf("no rollout history found for deployment %q", name)
		}
		target = revs[len(revs)-2]
	}
	tmpl := withoutHashLabel(byRev[target].GetSpec().GetTemplate())
	if tmpl == nil {
		return "", fmt.Errorf("revision %d of deployment %q has no pod template", target, name)
	}
	if proto.Equal(tmpl, withoutHashLabel(d.GetSpec().GetTemplate())) {
		return fmt.Sprintf("skipped rollback (current template already matches revision %d)", target), nil
	}
	if dryRun.Client() {
		return "rolled back", nil
	}
	err = client.RetryOnConflict(client.DefaultRetry, func() error {
		d, err := r.Get(ctx, name)
		if err != nil {
			return err
		}
		if d.GetSpec().GetPaused() {
			return pausedRollbackError(name)
		}
		d.Spec.Template = proto.Clone(tmpl).(*corev1.PodTemplateSpec)
		_, err = r.Update(ctx, d, client.UpdateOptions{DryRun: dryRun.Server()})
		return err
	})
	if err != nil {
		return "", err
	}
	return "rolled back", nil
}

func pausedRollbackError(name string) error {
	return fmt.Errorf("you cannot rollback a paused deployment; resume it first with 'keelctl rollout resume deployment/%s' and try again", name)
}

// withoutHashLabel returns a copy of t without the pod-template-hash label
// the deployment controller adds to its ReplicaSets' templates (nil for
// nil).
func withoutHashLabel(t *corev1.PodTemplateSpec) *corev1.PodTemplateSpec {
	if t == nil {
		return nil
	}
	out := proto.Clone(t).(*corev1.PodTemplateSpec)
	if md := out.GetMetadata(); md != nil {
		delete(md.Labels, api.DeploymentHashLabel)
		if len(md.Labels) == 0 {
			md.Labels = nil
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// restart, pause, resume

func newRolloutRestartCommand(c *cmdutil.CLI) *cobra.Command {
	var dryRun cmdutil.DryRun
	cmd := &cobra.Command{
		Use:   "restart (TYPE NAME... | TYPE/NAME...)",
		Short: "Restart every pod of a deployment, by rolling it out again",
		Long: `Restart the pods of deployments: the pod template gets the annotation
kubectl.kubernetes.io/restartedAt with the current time, so the deployment
controller replaces every pod as in any rollout (respecting the strategy).`,
		Example:           `  keelctl rollout restart deployment/web`,
		ValidArgsFunction: completeDeployments(c),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := dryRun.Check(); err != nil {
				return err
			}
			targets, err := rolloutArgs(args, rolledOut...)
			if err != nil {
				return err
			}
			var errs cmdutil.ErrorList
			for _, t := range targets {
				switch t.resource {
				case "daemonsets":
					errs = appendErr(errs, daemonSets.restart(c, cmd.Context(), t.name, dryRun))
					continue
				case "statefulsets":
					errs = appendErr(errs, statefulSets.restart(c, cmd.Context(), t.name, dryRun))
					continue
				}
				errs = appendErr(errs, updateDeployments(c, cmd.Context(), []string{t.name}, dryRun, "restarted", "", restartDeployment(c)))
			}
			return errs.OrNil()
		},
	}
	dryRun.Add(cmd)
	return cmd
}

// appendErr appends err to errs unless it is nil.
func appendErr(errs cmdutil.ErrorList, err error) cmdutil.ErrorList {
	if err != nil {
		return append(errs, err)
	}
	return errs
}

// restartDeployment stamps a Deployment's template with the restart time.
func restartDeployment(c *cmdutil.CLI) func(d *appsv1.Deployment) (bool, error) {
	return func(d *appsv1.Deployment) (bool, error) {
		if d.GetSpec().GetPaused() {
			return false, fmt.Errorf("can't restart paused deployment %q (run rollout resume first)", d.GetMetadata().GetName())
		}
		if d.Spec == nil {
			d.Spec = &appsv1.DeploymentSpec{}
		}
		if d.Spec.Template == nil {
			d.Spec.Template = &corev1.PodTemplateSpec{}
		}
		if d.Spec.Template.Metadata == nil {
			d.Spec.Template.Metadata = &metav1.ObjectMeta{}
		}
		if d.Spec.Template.Metadata.Annotations == nil {
			d.Spec.Template.Metadata.Annotations = map[string]string{}
		}
		d.Spec.Template.Metadata.Annotations[api.RestartedAtAnnotation] = c.Now().Format(time.RFC3339)
		return true, nil
	}
}

// newRolloutPauseCommand returns "rollout pause" (pause) or "rollout
// resume" (!pause).
func newRolloutPauseCommand(c *cmdutil.CLI, pause bool) *cobra.Command {
	var dryRun cmdutil.DryRun
	cmd := &cobra.Command{
		Use:   "pause (TYPE NAME... | TYPE/NAME...)",
		Short: "Pause the rollout of deployments",
		Long: `Pause deployments: the deployment controller leaves a paused deployment's
pods as they are, so several changes of its pod template can be made and then
rolled out together with "keelctl rollout resume". Scaling still works.`,
		Example: `  keelctl rollout pause deployment/web`,
	}
	done, unchanged := "paused", "already paused"
	if !pause {
		cmd.Use = "resume (TYPE NAME... | TYPE/NAME...)"
		cmd.Short = "Resume the rollout of paused deployments"
		cmd.Long = `Resume paused deployments: the deployment controller rolls out the changes
of their pod templates made while they were paused.`
		cmd.Example = `  keelctl rollout resume deployment/web`
		done, unchanged = "resumed", "not paused"
	}
	cmd.ValidArgsFunction = completeDeployments(c)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := dryRun.Check(); err != nil {
			return err
		}
		names, err := deploymentArgs(args)
		if err != nil {
			return err
		}
		return updateDeployments(c, cmd.Context(), names, dryRun, done, unchanged, func(d *appsv1.Deployment) (bool, error) {
			if d.GetSpec().GetPaused() == pause {
				return false, nil
			}
			if d.Spec == nil {
				d.Spec = &appsv1.DeploymentSpec{}
			}
			d.Spec.Paused = pause
			return true, nil
		})
	}
	dryRun.Add(cmd)
	return cmd
}

// updateDeployments applies change to each named deployment, on a fresh
// read and again on conflicts, and writes it back when change reports a
// change (not with --dry-run=client). It prints "<deployment> <done>" for a
// change and "<deployment> <unchanged>" otherwise; an error from change
// skips that deployment and is reported with the others at the end.
func updateDeployments(c *cmdutil.CLI, ctx context.Context, names []string, dryRun cmdutil.DryRun, done, unchanged string,
	change func(d *appsv1.Deployment) (bool, error)) error {
	cl, err := c.Clientset()
	if err != nil {
		return err
	}
	r := cl.Deployments(c.NS())
	var errs cmdutil.ErrorList
	for _, name := range names {
		changed := false
		err := client.RetryOnConflict(client.DefaultRetry, func() error {
			d, err := r.Get(ctx, name)
			if err != nil {
				return err
			}
			if changed, err = change(d); err != nil || !changed || dryRun.Client() {
				return err
			}
			_, err = r.Update(ctx, d, client.UpdateOptions{DryRun: dryRun.Server()})
			return err
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if changed {
			fmt.Fprintf(c.Out, "%s %s%s\n", cmdutil.ObjNameOf(deploymentKind(), name), done, dryRun.Suffix())
		} else {
			fmt.Fprintf(c.Out, "%s %s\n", cmdutil.ObjNameOf(deploymentKind(), name), unchanged)
		}
	}
	return errs.OrNil()
}
