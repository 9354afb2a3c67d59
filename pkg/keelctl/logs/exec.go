package logs

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/keelctl/cmdutil"
)

// exitCodeError ends keelctl with the exit status of a command run by
// "keelctl exec". runCLI returns ExitCode() for an error that has one (see
// exitCoder).
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string {
	return fmt.Sprintf("command terminated with exit code %d", e.code)
}

// ExitCode is the status keelctl exits with.
func (e exitCodeError) ExitCode() int { return e.code }

// exitCoder is an error that carries keelctl's exit status.
type exitCoder interface {
	error
	ExitCode() int
}

var _ exitCoder = exitCodeError{}

// NewExecCommand returns the "exec" command.
func NewExecCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		container string
		timeout   time.Duration
		stdin     bool
		tty       bool
	)
	cmd := &cobra.Command{
		Use:   "exec (POD | TYPE/NAME) [-c CONTAINER] -- COMMAND [ARG...]",
		Short: "Run a command in a container",
		Long: `Run a command in a running container and print its output: its stdout to
stdout, its stderr to stderr. keelctl exits with the command's exit status.

The command runs without a shell, a terminal or input, and its output is
printed once it has finished (Keel's exec is non-interactive: -i and -t are
not supported). TYPE/NAME names a workload (deployment/web…): its first pod
is used. Without -c the container is the one the annotation
kubectl.kubernetes.io/default-container names, else the pod's first (a note
on stderr says so when the pod has others).`,
		Example: `  keelctl exec web-7d9f -- ls /var/www
  keelctl exec deploy/web -- env
  keelctl exec web-7d9f -c sidecar -- sh -c 'echo $HOSTNAME'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("a pod name is required: keelctl exec POD -- COMMAND [ARG...]")
			}
			if len(args) < 2 {
				return errors.New("a command is required: keelctl exec POD -- COMMAND [ARG...]")
			}
			if dash := cmd.ArgsLenAtDash(); dash > 1 {
				return fmt.Errorf("one pod name before \"--\", got %d arguments", dash)
			}
			return nil
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			return completePods(c)(cmd, args, toComplete)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if stdin || tty {
				return errors.New("interactive exec (-i, -t) is not supported: Keel runs the command without input or terminal and prints its output when it ends")
			}
			if timeout < 0 {
				return errors.New("--timeout must not be negative")
			}
			cl, err := c.Clientset()
			if err != nil {
				return err
			}
			pod, err := target(cmd.Context(), c, args[0], c.ErrOut)
			if err != nil {
				return err
			}
			if container == "" {
				container = defaultContainer(pod, c.ErrOut)
			}
			resp, err := cl.API().Exec(cmd.Context(), &apiv1.ExecRequest{
				Namespace:      c.NS(),
				Name:           pod.GetMetadata().GetName(),
				Container:      container,
				Command:        args[1:],
				TimeoutSeconds: int64((timeout + time.Second - 1) / time.Second),
			})
			if err != nil {
				return apierrors.FromStatus(err)
			}
			if _, err := c.Out.Write(resp.GetStdout()); err != nil {
				return err
			}
			if _, err := c.ErrOut.Write(resp.GetStderr()); err != nil {
				return err
			}
			if code := resp.GetExitCode(); code != 0 {
				return exitCodeError{code: int(code)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&container, "container", "c", "", "the container (default: the pod's default container, else its first)")
	f.DurationVar(&timeout, "timeout", 0, "stop the command after this long (0: no limit)")
	f.BoolVarP(&stdin, "stdin", "i", false, "not supported (exec is non-interactive)")
	f.BoolVarP(&tty, "tty", "t", false, "not supported (exec is non-interactive)")
	return cmd
}
