// Package logs holds keelctl logs and keelctl exec.
package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmdutil"
)

func completePods(c *cmdutil.CLI) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return c.CompleteNames(cmd, "pods", toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// NewLogsCommand returns the "logs" command.
func NewLogsCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		o          logsOptions
		tail       int64
		since      time.Duration
		limitBytes int64
	)
	cmd := &cobra.Command{
		Use:   "logs [-f] [-p] (POD | TYPE/NAME | -l SELECTOR) [-c CONTAINER]",
		Short: "Print the logs of a container in a pod",
		Long: `Print the logs of a container in a pod, read by the pod's kubelet from the
container's log file and passed on by the apiserver.

TYPE/NAME names a workload (deployment/web, rs/web-7d9f, job/backup…): its
first pod is used, as kubectl picks it (running and ready first). -l prints
the logs of every pod the label selector matches; --prefix starts each line
with [pod/NAME/CONTAINER].

Without -c the container is the one the annotation
kubectl.kubernetes.io/default-container names, else the pod's first (a note
on stderr says so when the pod has others); --all-containers prints every
container's. With -f the command keeps printing what the containers write
until they exit or you interrupt it.`,
		Example: `  keelctl logs web-7d9f
  keelctl logs deploy/web
  keelctl logs -l app=web --prefix --tail 20
  keelctl logs web-7d9f -c sidecar --tail 20 -f
  keelctl logs pod/web-7d9f --all-containers
  keelctl logs pod/web-7d9f --previous --timestamps`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.selector != "" {
				if len(args) > 0 {
					return errors.New("only one of -l or a pod (TYPE/NAME) may be given")
				}
				return nil
			}
			return cobra.ExactArgs(1)(cmd, args)
		},
		ValidArgsFunction: completePods(c),
		RunE: func(cmd *cobra.Command, args []string) error {
			if since < 0 {
				return errors.New("--since must not be negative")
			}
			if limitBytes < 0 {
				return errors.New("--limit-bytes must not be negative")
			}
			if o.container != "" && o.allContainers {
				return errors.New("--container and --all-containers cannot be used together")
			}
			o.req = &apiv1.LogsRequest{Follow: o.follow, Previous: o.previous, Timestamps: o.timestamps, LimitBytes: limitBytes}
			if tail >= 0 {
				o.req.TailLines = &tail
			}
			if since > 0 {
				o.req.SinceSeconds = int64((since + time.Second - 1) / time.Second)
			}
			return runLogs(c, cmd.Context(), args, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.container, "container", "c", "", "the container (default: the pod's default container, else its first)")
	f.BoolVar(&o.allContainers, "all-containers", false, "print the logs of every container of the pod(s), init containers first")
	f.StringVarP(&o.selector, "selector", "l", "", "print the logs of every pod this label selector matches (e.g. app=web)")
	f.BoolVar(&o.prefix, "prefix", false, "start each line with [pod/NAME/CONTAINER]")
	f.IntVar(&o.maxRequests, "max-log-requests", 5, "with -f, how many logs may be followed at once")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing what the container writes until it exits")
	f.Int64Var(&tail, "tail", -1, "print only the last N lines (-1: all)")
	f.BoolVarP(&o.previous, "previous", "p", false, "print the log of the container's previous instance (before its last restart)")
	f.BoolVar(&o.timestamps, "timestamps", false, "prefix each line with its RFC 3339 time")
	f.DurationVar(&since, "since", 0, "print only lines newer than this (e.g. 5s, 2m, 3h)")
	f.Int64Var(&limitBytes, "limit-bytes", 0, "stop after this many bytes (0: no limit)")
	return cmd
}

type logsOptions struct {
	container, selector          string
	allContainers, prefix        bool
	follow, previous, timestamps bool
	maxRequests                  int
	req                          *apiv1.LogsRequest // the options every stream shares
}

// logStream is one container's log to print.
type logStream struct{ pod, container string }

// runLogs resolves the pods and containers, then prints their logs: one
// after the other, or all at once when following several.
func runLogs(c *cmdutil.CLI, ctx context.Context, args []string, o logsOptions) error {
	cl, err := c.Clientset()
	if err != nil {
		return err
	}
	var pods []*corev1.Pod
	if o.selector != "" {
		if pods, err = listPods(ctx, c, o.selector); err != nil {
			return err
		}
		if len(pods) == 0 {
			fmt.Fprintf(c.ErrOut, "No resources found in %s namespace.\n", c.NS())
			return nil
		}
	} else {
		p, err := target(ctx, c, args[0], c.ErrOut)
		if err != nil {
			return err
		}
		pods = []*corev1.Pod{p}
	}
	var streams []logStream
	for _, p := range pods {
		for _, name := range containers(p, o.container, o.allContainers, c.ErrOut) {
			streams = append(streams, logStream{pod: p.GetMetadata().GetName(), container: name})
		}
	}
	out := cmdutil.NewSyncWriter(c.Out)
	run := func(s logStream) error {
		req := proto.Clone(o.req).(*apiv1.LogsRequest)
		req.Namespace, req.Name, req.Container = c.NS(), s.pod, s.container
		w := io.Writer(out)
		if o.prefix {
			pw := &prefixWriter{prefix: fmt.Sprintf("[pod/%s/%s] ", s.pod, s.container), out: out}
			defer pw.flush()
			w = pw
		}
		return streamLogs(ctx, cl, req, w)
	}
	if !o.follow || len(streams) == 1 {
		for _, s := range streams {
			if err := run(s); err != nil {
				return err
			}
		}
		return nil
	}
	if len(streams) > o.maxRequests {
		return fmt.Errorf("you are attempting to follow %d log streams, but maximum allowed concurrency is %d, use --max-log-requests to increase the limit", len(streams), o.maxRequests)
	}
	errs := make([]error, len(streams))
	var wg sync.WaitGroup
	for i, s := range streams {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = run(s) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// streamLogs copies one container's log to w until it ends (or, with
// follow, until the container exits or ctx is cancelled, which is no
// error).
func streamLogs(ctx context.Context, cl *client.Client, req *apiv1.LogsRequest, w io.Writer) error {
	stream, err := cl.API().Logs(ctx, req)
	if err != nil {
		return apierrors.FromStatus(err)
	}
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil || status.Code(err) == codes.Canceled {
				return nil // interrupted (^C): not an error
			}
			return apierrors.FromStatus(err)
		}
		if _, err := w.Write(chunk.GetData()); err != nil {
			return err
		}
	}
}

// prefixWriter starts every line written through it with prefix, and
// writes whole lines only (a partial line waits for its end, or flush).
type prefixWriter struct {
	prefix string
	out    io.Writer
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	var lines []byte
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		lines = append(append(lines, p.prefix...), p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
	}
	if len(lines) > 0 {
		if _, err := p.out.Write(lines); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// flush writes a last line that has no newline.
func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		_, _ = p.out.Write(append(append([]byte(p.prefix), p.buf...), '\n'))
		p.buf = nil
	}
}
