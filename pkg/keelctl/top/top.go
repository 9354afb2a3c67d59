// Package top is `keelctl top node` and `keelctl top pod`: the CPU and
// memory the nodes and pods use, from the metrics.k8s.io API, in
// kubectl top's columns. The rows are computed by pure functions
// (NodeRows, PodRows) from what the commands read.
package top

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	metricsv1beta1 "keel.dev/keel/pkg/apis/metrics/v1beta1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/printers"
)

// NewCommand returns the "top" command.
func NewCommand(c *cmdutil.CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Show the CPU and memory nodes and pods use",
		Long: `Show the CPU and memory nodes and pods use, as the kubelets measured them
recently (the metrics.k8s.io API, which the apiserver computes from the
kubelets' stats). A node or pod appears once its kubelet has sampled it twice.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newNodeCommand(c), newPodCommand(c))
	return cmd
}

func newNodeCommand(c *cmdutil.CLI) *cobra.Command {
	var selector string
	var noHeaders bool
	cmd := &cobra.Command{
		Use:     "node [NAME]",
		Aliases: []string{"nodes", "no"},
		Short:   "Show the CPU and memory of nodes",
		Example: `  keelctl top node
  keelctl top node node-1
  keelctl top node -l zone=a`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, err := c.Clientset()
			if err != nil {
				return err
			}
			var ms []*metricsv1beta1.NodeMetrics
			var nodes []*corev1.Node
			if len(args) == 1 {
				m, err := client.For[*metricsv1beta1.NodeMetrics](cl, "").Get(ctx, args[0])
				if err != nil {
					return err
				}
				n, err := client.For[*corev1.Node](cl, "").Get(ctx, args[0])
				if err != nil {
					return err
				}
				ms, nodes = []*metricsv1beta1.NodeMetrics{m}, []*corev1.Node{n}
			} else {
				l, err := client.For[*metricsv1beta1.NodeMetrics](cl, "").List(ctx, client.ListOptions{LabelSelector: selector})
				if err != nil {
					return err
				}
				nl, err := client.For[*corev1.Node](cl, "").List(ctx, client.ListOptions{LabelSelector: selector})
				if err != nil {
					return err
				}
				ms, nodes = l.Items, nl.Items
			}
			if len(nodes) == 0 {
				return fmt.Errorf("no nodes found")
			}
			return printers.NewWriter(c.Out).Write(NodeRows(ms, nodes, !noHeaders))
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "only the nodes with these labels (key=value,…)")
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "leave out the header")
	return cmd
}

func newPodCommand(c *cmdutil.CLI) *cobra.Command {
	var selector string
	var noHeaders, allNamespaces, containers bool
	cmd := &cobra.Command{
		Use:     "pod [NAME]",
		Aliases: []string{"pods", "po"},
		Short:   "Show the CPU and memory of pods",
		Example: `  keelctl top pod
  keelctl top pod web --containers
  keelctl top pod -A -l app=web`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cl, err := c.Clientset()
			if err != nil {
				return err
			}
			ns := c.NS()
			if allNamespaces {
				ns = ""
			}
			ms, err := podMetrics(ctx, cl, ns, args, selector)
			if err != nil {
				return err
			}
			if len(ms) == 0 {
				if ns == "" {
					return fmt.Errorf("no resources found")
				}
				return fmt.Errorf("no resources found in %s namespace", ns)
			}
			return printers.NewWriter(c.Out).Write(PodRows(ms, allNamespaces, containers, !noHeaders))
		},
	}
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "only the pods with these labels (key=value,…)")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "the pods of every namespace")
	cmd.Flags().BoolVar(&containers, "containers", false, "one row per container")
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "leave out the header")
	return cmd
}

// podMetrics reads the metrics of the pod named in args, or of the pods
// of ns ("" for all) the selector selects.
func podMetrics(ctx context.Context, cl *client.Client, ns string, args []string, selector string) ([]*metricsv1beta1.PodMetrics, error) {
	r := client.For[*metricsv1beta1.PodMetrics](cl, ns)
	if len(args) == 1 {
		m, err := r.Get(ctx, args[0])
		if err != nil {
			return nil, err
		}
		return []*metricsv1beta1.PodMetrics{m}, nil
	}
	l, err := r.List(ctx, client.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// usage reads a usage list's cpu and memory (zero when absent or
// unparsable).
func usage(u map[string]*metav1.Quantity) (cpu, mem resource.Quantity) {
	if q, err := resource.ParseQuantity(u["cpu"].GetString_()); err == nil {
		cpu = q
	}
	if q, err := resource.ParseQuantity(u["memory"].GetString_()); err == nil {
		mem = q
	}
	return cpu, mem
}

// cores and mebibytes format as kubectl top does: "250m", "512Mi".
func cores(q resource.Quantity) string     { return strconv.FormatInt(q.MilliValue(), 10) + "m" }
func mebibytes(q resource.Quantity) string { return strconv.FormatInt(q.Value()/(1<<20), 10) + "Mi" }

// percent is part of whole in whole percent, "<unknown>" without whole.
func percent(part, whole int64) string {
	if whole <= 0 {
		return "<unknown>"
	}
	return strconv.FormatInt(part*100/whole, 10) + "%"
}

// NodeRows are kubectl top node's rows (a header first with header):
// NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%), the percentages of the
// node's allocatable CPU and memory, one row per node in nodes' order; a
// node without metrics has <unknown> figures.
func NodeRows(ms []*metricsv1beta1.NodeMetrics, nodes []*corev1.Node, header bool) [][]string {
	byName := map[string]*metricsv1beta1.NodeMetrics{}
	for _, m := range ms {
		byName[m.GetMetadata().GetName()] = m
	}
	var rows [][]string
	if header {
		rows = append(rows, []string{"NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"})
	}
	for _, n := range nodes {
		name := n.GetMetadata().GetName()
		m, ok := byName[name]
		if !ok {
			rows = append(rows, []string{name, "<unknown>", "<unknown>", "<unknown>", "<unknown>"})
			continue
		}
		cpu, mem := usage(m.GetUsage())
		alloc := n.GetStatus().GetAllocatable()
		var allocCPU, allocMem int64
		if q, err := resource.ParseQuantity(alloc["cpu"].GetString_()); err == nil {
			allocCPU = q.MilliValue()
		}
		if q, err := resource.ParseQuantity(alloc["memory"].GetString_()); err == nil {
			allocMem = q.Value()
		}
		rows = append(rows, []string{name, cores(cpu), percent(cpu.MilliValue(), allocCPU), mebibytes(mem), percent(mem.Value(), allocMem)})
	}
	return rows
}

// PodRows are kubectl top pod's rows (a header first with header):
// [NAMESPACE] NAME CPU(cores) MEMORY(bytes), the sums of the pods'
// containers, or with containers [NAMESPACE] POD NAME CPU(cores)
// MEMORY(bytes), one row per container; in ms' order.
func PodRows(ms []*metricsv1beta1.PodMetrics, allNamespaces, containers, header bool) [][]string {
	var rows [][]string
	if header {
		h := []string{"NAME", "CPU(cores)", "MEMORY(bytes)"}
		if containers {
			h = append([]string{"POD"}, h...)
		}
		if allNamespaces {
			h = append([]string{"NAMESPACE"}, h...)
		}
		rows = append(rows, h)
	}
	for _, m := range ms {
		md := m.GetMetadata()
		prefix := []string{md.GetName()}
		if allNamespaces {
			prefix = append([]string{md.GetNamespace()}, prefix...)
		}
		var cpu, mem resource.Quantity
		for _, c := range m.GetContainers() {
			cc, cm := usage(c.GetUsage())
			if containers {
				rows = append(rows, append(append([]string(nil), prefix...), c.GetName(), cores(cc), mebibytes(cm)))
			}
			cpu.Add(cc)
			mem.Add(cm)
		}
		if !containers {
			rows = append(rows, append(prefix, cores(cpu), mebibytes(mem)))
		}
	}
	return rows
}
