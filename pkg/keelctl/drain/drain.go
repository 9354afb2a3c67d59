// Package drain holds keelctl cordon, uncordon and drain.
package drain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/scheme"
)

// NewCordonCommand returns the "cordon" command.
func NewCordonCommand(c *cmdutil.CLI) *cobra.Command {
	return newCordonOrUncordonCommand(c, true)
}

// NewUncordonCommand returns the "uncordon" command.
func NewUncordonCommand(c *cmdutil.CLI) *cobra.Command {
	return newCordonOrUncordonCommand(c, false)
}

// newCordonOrUncordonCommand returns "cordon" (cordon) or "uncordon"
// (!cordon): they set or clear spec.unschedulable of nodes.
func newCordonOrUncordonCommand(c *cmdutil.CLI, cordon bool) *cobra.Command {
	var dryRun cmdutil.DryRun
	cmd := &cobra.Command{
		Use:   "cordon NODE...",
		Short: "Mark nodes as unschedulable",
		Long: `Mark nodes as unschedulable (spec.unschedulable): the scheduler places no new
pods on them; the pods they run stay. "keelctl drain" cordons a node and then
moves its pods away; "keelctl uncordon" undoes it.`,
		Example: `  keelctl cordon node-1
  keelctl cordon node-1 node-2`,
	}
	if !cordon {
		cmd.Use = "uncordon NODE..."
		cmd.Short = "Mark nodes as schedulable again"
		cmd.Long = `Mark nodes as schedulable again (clear spec.unschedulable), after "keelctl
cordon" or "keelctl drain": the scheduler may place new pods on them.`
		cmd.Example = `  keelctl uncordon node-1`
	}
	cmd.Args = cobra.MinimumNArgs(1)
	cmd.ValidArgsFunction = completeNodes(c)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := dryRun.Check(); err != nil {
			return err
		}
		names, err := nodeArgs(args)
		if err != nil {
			return err
		}
		var errs cmdutil.ErrorList
		for _, name := range names {
			if err := cordonNode(c, cmd.Context(), name, cordon, dryRun); err != nil {
				errs = append(errs, err)
			}
		}
		return errs.OrNil()
	}
	dryRun.Add(cmd)
	return cmd
}

// nodeKind is the kind cordon, uncordon and drain work on.
func nodeKind() *scheme.Kind {
	k, _ := cmdutil.LookupKind("nodes")
	return k
}

// nodeArgs reads node arguments: NODE or node/NODE.
func nodeArgs(args []string) ([]string, error) {
	var names []string
	for _, a := range args {
		typ, name, ok := strings.Cut(a, "/")
		if !ok {
			name = a
		} else if k, err := cmdutil.LookupKind(typ); err != nil || k.Resource != "nodes" {
			return nil, fmt.Errorf("%q is not a node (give NODE or node/NODE)", a)
		}
		if name == "" {
			return nil, fmt.Errorf("%q: no node name", a)
		}
		names = append(names, name)
	}
	return names, nil
}

func completeNodes(c *cmdutil.CLI) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return c.CompleteNames(cmd, "nodes", toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// cordon sets (cordon) or clears (!cordon) the node's spec.unschedulable
// and prints what it did.
func cordonNode(c *cmdutil.CLI, ctx context.Context, name string, cordon bool, dryRun cmdutil.DryRun) error {
	cl, err := c.Clientset()
	if err != nil {
		return err
	}
	r := cl.Nodes()
	changed := false
	err = client.RetryOnConflict(client.DefaultRetry, func() error {
		n, err := r.Get(ctx, name)
		if err != nil {
			return err
		}
		changed = n.GetSpec().GetUnschedulable() != cordon
		if !changed || dryRun.Client() {
			return nil
		}
		if n.Spec == nil {
			n.Spec = &corev1.NodeSpec{}
		}
		n.Spec.Unschedulable = cordon
		_, err = r.Update(ctx, n, client.UpdateOptions{DryRun: dryRun.Server()})
		return err
	})
	if err != nil {
		return err
	}
	verb := "cordoned"
	if !cordon {
		verb = "uncordoned"
	}
	if changed {
		fmt.Fprintf(c.Out, "%s %s%s\n", cmdutil.ObjNameOf(nodeKind(), name), verb, dryRun.Suffix())
	} else {
		fmt.Fprintf(c.Out, "%s already %s\n", cmdutil.ObjNameOf(nodeKind(), name), verb)
	}
	return nil
}

type drainOptions struct {
	force            bool
	deleteEmptyDir   bool
	ignoreDaemonSets bool
	gracePeriod      int
	disableEviction  bool
	timeout          time.Duration
	dryRun           cmdutil.DryRun
}

// NewDrainCommand returns the "drain" command.
func NewDrainCommand(c *cmdutil.CLI) *cobra.Command {
	var o drainOptions
	cmd := &cobra.Command{
		Use:   "drain NODE",
		Short: "Cordon a node and delete its pods, to prepare it for maintenance",
		Long: `Drain a node for maintenance: cordon it (see "keelctl cordon"), then evict
every pod bound to it, in all namespaces, and wait until they are gone. Pods
that a controller (a ReplicaSet, a Job) manages are replaced on other nodes.

Evictions (the pods/eviction subresource) respect PodDisruptionBudgets: an
eviction a budget refuses is asked for again every 5 seconds until it passes
or --timeout ends the drain, which then names the budget that held it back.
--disable-eviction deletes the pods instead, bypassing their budgets.

Like kubectl, drain refuses, listing them, pods that no controller manages
(they would be lost: --force deletes them anyway), pods with emptyDir
volumes (their data would be lost: --delete-emptydir-data) and pods a
DaemonSet manages (it would put them back on the node at once:
--ignore-daemonsets leaves them there). Pods stop
gracefully: their terminationGracePeriodSeconds, or --grace-period. When drain
fails the node stays cordoned; "keelctl uncordon" makes it schedulable again.`,
		Example: `  keelctl drain node-1
  keelctl drain node-1 --force --delete-emptydir-data --timeout=5m
  keelctl drain node-1 --grace-period=0
  keelctl drain node-1 --disable-eviction`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeNodes(c),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.dryRun.Check(); err != nil {
				return err
			}
			if o.timeout < 0 {
				return errors.New("--timeout must not be negative")
			}
			names, err := nodeArgs(args)
			if err != nil {
				return err
			}
			return drain(c, cmd.Context(), names[0], o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.force, "force", false, "also delete pods that no controller manages (they are not replaced)")
	f.BoolVar(&o.deleteEmptyDir, "delete-emptydir-data", false, "also delete pods with emptyDir volumes (their data is lost)")
	f.BoolVar(&o.ignoreDaemonSets, "ignore-daemonsets", false, "leave DaemonSet-managed pods on the node (their DaemonSet would replace them there at once); without it drain refuses them")
	f.IntVar(&o.gracePeriod, "grace-period", -1, "seconds each pod has to stop (-1: its own terminationGracePeriodSeconds)")
	f.BoolVar(&o.disableEviction, "disable-eviction", false, "delete pods instead of evicting them, bypassing their PodDisruptionBudgets")
	f.DurationVar(&o.timeout, "timeout", 0, "give up after this long (0: wait as long as it takes)")
	o.dryRun.Add(cmd)
	return cmd
}

// drain cordons the node, deletes its pods (refusing unmanaged pods,
// pods with emptyDir volumes and DaemonSet-managed pods unless allowed;
// the last are then left alone) and waits until they are gone.
func drain(c *cmdutil.CLI, ctx context.Context, node string, o drainOptions) error {
	cl, err := c.Clientset()
	if err != nil {
		return err
	}
	if err := cordonNode(c, ctx, node, true, o.dryRun); err != nil {
		return err
	}
	pods, err := podsOnNode(ctx, cl, node)
	if err != nil {
		return err
	}
	var unmanaged, local, daemons []string
	var evict []*corev1.Pod // all but the daemon pods
	for _, p := range pods {
		id := p.GetMetadata().GetNamespace() + "/" + p.GetMetadata().GetName()
		ref := api.ControllerRef(p.GetMetadata())
		if ref != nil && ref.GetKind() == "DaemonSet" {
			// Its DaemonSet would put it back on the node at once.
			daemons = append(daemons, id)
			continue
		}
		evict = append(evict, p)
		if ph := p.GetStatus().GetPhase(); ph == api.PodSucceeded || ph == api.PodFailed {
			continue // finished: nothing is lost
		}
		if ref == nil {
			unmanaged = append(unmanaged, id)
		}
		if hasEmptyDir(p) {
			local = append(local, id)
		}
	}
	var errs cmdutil.ErrorList
	if len(daemons) > 0 {
		if !o.ignoreDaemonSets {
			errs = append(errs, fmt.Errorf("unable to drain node %q: cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): %s", node, strings.Join(daemons, ", ")))
		} else {
			fmt.Fprintf(c.ErrOut, "Warning: ignoring DaemonSet-managed Pods: %s\n", strings.Join(daemons, ", "))
		}
	}
	if len(unmanaged) > 0 {
		if !o.force {
			errs = append(errs, fmt.Errorf("unable to drain node %q: cannot delete Pods that declare no controller (use --force to override): %s", node, strings.Join(unmanaged, ", ")))
		} else {
			fmt.Fprintf(c.ErrOut, "Warning: deleting Pods that declare no controller: %s\n", strings.Join(unmanaged, ", "))
		}
	}
	if len(local) > 0 {
		if !o.deleteEmptyDir {
			errs = append(errs, fmt.Errorf("unable to drain node %q: cannot delete Pods with local storage (use --delete-emptydir-data to override): %s", node, strings.Join(local, ", ")))
		} else {
			fmt.Fprintf(c.ErrOut, "Warning: deleting Pods with local storage: %s\n", strings.Join(local, ", "))
		}
	}
	if len(errs) > 0 {
		return errs
	}

	wctx := ctx
	if o.timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	var grace *int64
	if o.gracePeriod >= 0 {
		grace = proto.Int64(int64(o.gracePeriod))
	}
	podKind, _ := cmdutil.LookupKind("pods")
	var todo []*removal
	for _, p := range evict {
		md := p.GetMetadata()
		fmt.Fprintf(c.Out, "evicting pod %s/%s%s\n", md.GetNamespace(), md.GetName(), o.dryRun.Suffix())
		if o.dryRun.Client() {
			continue
		}
		r, err := c.Resource(podKind, md.GetNamespace())
		if err != nil {
			return err
		}
		todo = append(todo, &removal{pod: p, r: r})
	}
	// Every pod is evicted (or deleted) and waited for at once, as kubectl
	// does: a pod its budget holds back does not hold the others.
	errOut := cmdutil.NewSyncWriter(c.ErrOut)
	var wg sync.WaitGroup
	for _, rm := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rm.err = rm.run(wctx, errOut, grace, o)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var left []string
	for _, rm := range todo {
		md := rm.pod.GetMetadata()
		switch {
		case rm.err == nil:
			if !o.dryRun.Server() {
				fmt.Fprintf(c.Out, "%s evicted\n", cmdutil.ObjNameOf(podKind, md.GetName()))
			}
		case cmdutil.WaitTimedOut(wctx, rm.err):
			id := md.GetNamespace() + "/" + md.GetName()
			if rm.refused != nil {
				id += " (" + refusal(rm.refused) + ")"
			}
			left = append(left, id)
		default:
			return rm.err
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("drain did not complete within %v: pods not yet gone: %s", o.timeout, strings.Join(left, ", "))
	}
	fmt.Fprintf(c.Out, "%s drained%s\n", cmdutil.ObjNameOf(nodeKind(), node), o.dryRun.Suffix())
	return nil
}

// podsOnNode lists the pods bound to node in every namespace, ordered by
// namespace and name.
func podsOnNode(ctx context.Context, cl *client.Client, node string) ([]*corev1.Pod, error) {
	var pods []*corev1.Pod
	opts := client.ListOptions{FieldSelector: "spec.nodeName=" + node, Limit: cmdutil.ListChunk}
	for {
		l, err := cl.Pods("").List(ctx, opts)
		if err != nil {
			return nil, err
		}
		pods = append(pods, l.Items...)
		if l.Continue == "" {
			break
		}
		opts.Continue = l.Continue
	}
	sort.Slice(pods, func(i, j int) bool {
		a, b := pods[i].GetMetadata(), pods[j].GetMetadata()
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
	return pods, nil
}

// hasEmptyDir reports whether the pod has an emptyDir volume, whose data
// goes with the pod.
func hasEmptyDir(p *corev1.Pod) bool {
	for _, v := range p.GetSpec().GetVolumes() {
		if v.GetEmptyDir() != nil {
			return true
		}
	}
	return false
}

// EvictionRetry is how long drain waits before it asks again for an
// eviction a disruption budget refused, as kubectl.
const EvictionRetry = 5 * time.Second

// removal is the eviction (or deletion) of one pod by drain.
type removal struct {
	pod *corev1.Pod
	r   *client.Resource[proto.Message]
	// refused is the last refusal of its eviction, if any.
	refused error
	err     error
}

// run evicts the pod (deletes it with --disable-eviction), asking again
// every EvictionRetry while a disruption budget refuses, and waits until
// it is gone; ctx bounds it all.
func (rm *removal) run(ctx context.Context, errOut io.Writer, grace *int64, o drainOptions) error {
	md := rm.pod.GetMetadata()
	if o.disableEviction {
		obj, gone, err := rm.r.Delete(ctx, md.GetName(), client.DeleteOptions{GracePeriodSeconds: grace, DryRun: o.dryRun.Server()})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return err
		case gone || o.dryRun.Server() || obj == nil:
			return nil
		}
		return cmdutil.WaitGone(ctx, rm.r, obj)
	}
	ev := &policyv1.Eviction{Metadata: &metav1.ObjectMeta{Name: md.GetName(), Namespace: md.GetNamespace()},
		DeleteOptions: &metav1.DeleteOptions{GracePeriodSeconds: grace}}
	for {
		_, err := rm.r.CreateSubresource(ctx, md.GetName(), "eviction", ev, client.CreateOptions{DryRun: o.dryRun.Server()})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			break
		}
		if apierrors.ReasonOf(err) != apierrors.ReasonTooManyRequests {
			return err
		}
		rm.refused = err
		fmt.Fprintf(errOut, "error when evicting pods/%q -n %q (will retry after %v): %v\n", md.GetName(), md.GetNamespace(), EvictionRetry, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(EvictionRetry):
		}
	}
	if o.dryRun.Server() {
		return nil
	}
	return cmdutil.WaitGone(ctx, rm.r, rm.pod)
}

// refusal is why an eviction was refused: the causes the server gave
// (the budget that refused it), else its message.
func refusal(err error) string {
	var e *apierrors.Error
	if errors.As(apierrors.FromStatus(err), &e) && len(e.Causes) > 0 {
		var msgs []string
		for _, c := range e.Causes {
			msgs = append(msgs, c.Message)
		}
		return strings.Join(msgs, "; ")
	}
	return err.Error()
}
