// Command keelctl is the Keel command line, with kubectl's habits: apply,
// create (from manifests, or one object from flags), expose, get, describe, delete, label, annotate, scale, rollout, edit,
// logs, exec, cordon, uncordon, drain, config, version, api-resources,
// completion, plus pki for cluster certificates.
//
// Each command group lives in its own file (apply.go, get.go, pki.go, …) and
// contributes one constructor that newRootCommand adds to the root. State
// shared by the commands of one invocation (streams, global flags, the
// client connection) is a *cli; nothing is global, so tests run many
// invocations in one process.
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes keelctl with args, writing to stdout and stderr, and returns
// the process exit status: 0 on success, 1 on any error (or the status an
// error carries, see runCLI). Errors are printed
// to stderr as kubectl prints them ("error: ...", "Error from server
// (NotFound): ...").
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runCLI(ctx, &cli{in: os.Stdin, out: stdout, errOut: stderr, getenv: os.Getenv, now: time.Now}, args)
}

// runCLI executes one invocation with the streams and environment of c.
// Cancelling ctx ends long-running commands (get --watch, delete --wait).
func runCLI(ctx context.Context, c *cli, args []string) int {
	if c.getenv == nil {
		c.getenv = os.Getenv
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.in == nil {
		c.in = os.Stdin
	}
	defer c.close()
	root := newRootCommand(c)
	root.SetArgs(args)
	root.SetIn(c.in)
	root.SetOut(c.out)
	root.SetErr(c.errOut)
	if err := root.ExecuteContext(ctx); err != nil {
		printError(c.errOut, err)
		// An error may carry keelctl's exit status (exec: the status of
		// the command it ran).
		var coded interface{ ExitCode() int }
		if errors.As(err, &coded) && coded.ExitCode() > 0 {
			return coded.ExitCode()
		}
		return 1
	}
	return 0
}

// newRootCommand returns a fresh keelctl command tree bound to c.
func newRootCommand(c *cli) *cobra.Command {
	root := &cobra.Command{
		Use:   "keelctl",
		Short: "keelctl controls a Keel cluster",
		Long: `keelctl controls a Keel cluster, with kubectl's commands and habits.

The cluster is found through the client configuration: --config, else
$KEELCONFIG, else ~/.keel/config (see "keelctl config"). For a quick look at a
local apiserver, --server 127.0.0.1:PORT --insecure needs no configuration.`,
		// Usage is for mistakes in the command line, which cobra reports
		// itself; errors are printed once, by runCLI.
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	c.addGlobalFlags(root)
	root.AddCommand(
		newApplyCommand(c),
		newCreateCommand(c),
		newExposeCommand(c),
		newGetCommand(c),
		newDescribeCommand(c),
		newDeleteCommand(c),
		newLabelCommand(c),
		newAnnotateCommand(c),
		newScaleCommand(c),
		newRolloutCommand(c),
		newEditCommand(c),
		newLogsCommand(c),
		newExecCommand(c),
		newCordonCommand(c),
		newUncordonCommand(c),
		newDrainCommand(c),
		newConfigCommand(c),
		newVersionCommand(c),
		newAPIResourcesCommand(c),
		newCompletionCommand(c),
		newPKICommand(),
	)
	return root
}
