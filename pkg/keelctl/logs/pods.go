package logs

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/labelselector"
	"keel.dev/keel/pkg/scheme"
)

// target resolves the argument of logs and exec to one pod: POD,
// pod/POD, or TYPE/NAME of a workload with a pod selector
// (deployment/web, rs/web-7d9f, job/x, statefulset/db…), whose first pod
// (as kubectl orders them: see firstPod) is used, saying so on errOut
// when it has several.
func target(ctx context.Context, c *cmdutil.CLI, arg string, errOut io.Writer) (*corev1.Pod, error) {
	cl, err := c.Clientset()
	if err != nil {
		return nil, err
	}
	typ, name, ok := strings.Cut(arg, "/")
	if !ok {
		return cl.Pods(c.NS()).Get(ctx, arg)
	}
	if name == "" {
		return nil, fmt.Errorf("%q: no name", arg)
	}
	k, err := cmdutil.LookupKind(typ)
	if err != nil {
		return nil, err
	}
	if k.Resource == "pods" {
		return cl.Pods(c.NS()).Get(ctx, name)
	}
	r, err := c.Resource(k, c.NS())
	if err != nil {
		return nil, err
	}
	obj, err := r.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	sel, ok := scheme.Field(scheme.Field(obj, "spec"), "selector").(*metav1.LabelSelector)
	if scheme.Field(obj, "spec") == nil || !ok {
		return nil, fmt.Errorf("%q: a %s has no pod selector: cannot pick a pod", arg, k.Kind)
	}
	s, err := labelselector.Parse(sel)
	if err != nil {
		return nil, err
	}
	pods, err := listPods(ctx, c, s.String())
	if err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("no pods found for %s", cmdutil.ObjNameOf(k, name))
	}
	p := firstPod(pods)
	if len(pods) > 1 {
		fmt.Fprintf(errOut, "Found %d pods, using pod/%s\n", len(pods), p.GetMetadata().GetName())
	}
	return p, nil
}

// listPods lists the pods of the CLI's namespace matching the label
// selector, by name.
func listPods(ctx context.Context, c *cmdutil.CLI, selector string) ([]*corev1.Pod, error) {
	podKind, _ := cmdutil.LookupKind("pods")
	r, err := c.Resource(podKind, c.NS())
	if err != nil {
		return nil, err
	}
	objs, _, err := cmdutil.ListAll(ctx, r, client.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	pods := make([]*corev1.Pod, len(objs))
	for i, o := range objs {
		pods[i] = o.(*corev1.Pod)
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].GetMetadata().GetName() < pods[j].GetMetadata().GetName() })
	return pods, nil
}

// firstPod is the pod whose logs best represent a workload, as kubectl
// picks it: bound to a node, running, ready, with the most restarts, the
// oldest, then by name.
func firstPod(pods []*corev1.Pod) *corev1.Pod {
	rank := func(p *corev1.Pod) []int64 {
		b := func(v bool) int64 {
			if v {
				return 0
			}
			return 1
		}
		var restarts int64
		for _, s := range p.GetStatus().GetContainerStatuses() {
			restarts = max(restarts, int64(s.GetRestartCount()))
		}
		return []int64{b(p.GetSpec().GetNodeName() != ""), b(p.GetStatus().GetPhase() == api.PodRunning), b(api.IsPodReady(p)),
			-restarts, p.GetMetadata().GetCreationTimestamp().AsTime().UnixNano()}
	}
	best := pods[0]
	for _, p := range pods[1:] {
		a, b := rank(p), rank(best)
		for i := range a {
			if a[i] != b[i] {
				if a[i] < b[i] {
					best = p
				}
				break
			}
		}
	}
	return best
}

// containers returns the containers of pod to read: the one named, every
// one (all: init containers first, as kubectl), or the default one
// (api.DefaultContainer), with kubectl's note on errOut when the pod has
// several.
func containers(pod *corev1.Pod, named string, all bool, errOut io.Writer) []string {
	spec := pod.GetSpec()
	switch {
	case named != "":
		return []string{named}
	case all:
		var out []string
		for _, c := range append(append([]*corev1.Container(nil), spec.GetInitContainers()...), spec.GetContainers()...) {
			out = append(out, c.GetName())
		}
		return out
	}
	return []string{defaultContainer(pod, errOut)}
}

// defaultContainer is api.DefaultContainer; when the annotation did not
// pick it and the pod has other containers, kubectl's note
// `Defaulted container "app" out of: app, sidecar, setup (init)` goes to
// errOut.
func defaultContainer(pod *corev1.Pod, errOut io.Writer) string {
	name, named := api.DefaultContainer(pod)
	spec := pod.GetSpec()
	if !named && (len(spec.GetContainers()) > 1 || len(spec.GetInitContainers()) > 0) {
		var all []string
		for _, c := range spec.GetContainers() {
			all = append(all, c.GetName())
		}
		for _, c := range spec.GetInitContainers() {
			all = append(all, c.GetName()+" (init)")
		}
		fmt.Fprintf(errOut, "Defaulted container %q out of: %s\n", name, strings.Join(all, ", "))
	}
	return name
}
