// Package logs holds keelctl logs and keelctl exec.
package logs

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/keelctl/cmdutil"
)

// podArg reads a pod argument: NAME, pod/NAME or pods/NAME.
func podArg(arg string) (string, error) {
	typ, name, ok := strings.Cut(arg, "/")
	if !ok {
		return arg, nil
	}
	switch strings.ToLower(typ) {
	case "pod", "pods", "po":
	default:
		return "", fmt.Errorf("%q: only pods are supported (use POD or pod/POD)", arg)
	}
	if name == "" {
		return "", fmt.Errorf("%q: no pod name", arg)
	}
	return name, nil
}

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
		container  string
		follow     bool
		tail       int64
		previous   bool
		timestamps bool
		since      time.Duration
		limitBytes int64
	)
	cmd := &cobra.Command{
		Use:   "logs POD [-c CONTAINER]",
		Short: "Print the logs of a container in a pod",
		Long: `Print the logs of a container in a pod, read by the pod's kubelet from the
container's log file and passed on by the apiserver.

The container may be left out when the pod has one container (or names a
default one in the annotation kubectl.kubernetes.io/default-container).
With -f the command keeps printing what the container writes until the
container exits or you interrupt it.`,
		Example: `  keelctl logs web-7d9f
  keelctl logs web-7d9f -c sidecar --tail 20 -f
  keelctl logs pod/web-7d9f --previous --timestamps`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completePods(c),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := podArg(args[0])
			if err != nil {
				return err
			}
			if since < 0 {
				return errors.New("--since must not be negative")
			}
			if limitBytes < 0 {
				return errors.New("--limit-bytes must not be negative")
			}
			cl, err := c.Clientset()
			if err != nil {
				return err
			}
			req := &apiv1.LogsRequest{
				Namespace:  c.NS(),
				Name:       name,
				Container:  container,
				Follow:     follow,
				Previous:   previous,
				Timestamps: timestamps,
				LimitBytes: limitBytes,
			}
			if tail >= 0 {
				req.TailLines = &tail
			}
			if since > 0 {
				req.SinceSeconds = int64((since + time.Second - 1) / time.Second)
			}
			ctx := cmd.Context()
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
				if _, err := c.Out.Write(chunk.GetData()); err != nil {
					return err
				}
			}
		},
	}
	f := cmd.Flags()
	f.StringVarP(&container, "container", "c", "", "the container (default: the pod's only or default container)")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing what the container writes until it exits")
	f.Int64Var(&tail, "tail", -1, "print only the last N lines (-1: all)")
	f.BoolVarP(&previous, "previous", "p", false, "print the log of the container's previous instance (before its last restart)")
	f.BoolVar(&timestamps, "timestamps", false, "prefix each line with its RFC 3339 time")
	f.DurationVar(&since, "since", 0, "print only lines newer than this (e.g. 5s, 2m, 3h)")
	f.Int64Var(&limitBytes, "limit-bytes", 0, "stop after this many bytes (0: no limit)")
	return cmd
}
