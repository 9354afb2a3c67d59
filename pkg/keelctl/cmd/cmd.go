// Package cmd assembles keelctl, the Keel command line, with kubectl's
// habits: apply, create (from manifests, or one object from flags), replace, expose,
// get, describe, delete, label, annotate, scale, rollout, edit, logs, exec,
// cordon, uncordon, drain, config, version, api-resources, explain,
// completion, plus pki for cluster certificates.
//
// Each command group lives in its own package under pkg/keelctl (apply,
// get, config, …) and contributes constructors that NewRootCommand adds to
// the root. State shared by the commands of one invocation (streams, global
// flags, the client connection) is a *cmdutil.CLI; nothing is global, so
// tests run many invocations in one process.
package cmd

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"keel.dev/keel/pkg/keelctl/apiresources"
	"keel.dev/keel/pkg/keelctl/apply"
	keelctlauth "keel.dev/keel/pkg/keelctl/auth"
	"keel.dev/keel/pkg/keelctl/certificate"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/keelctl/config"
	"keel.dev/keel/pkg/keelctl/create"
	"keel.dev/keel/pkg/keelctl/delete"
	"keel.dev/keel/pkg/keelctl/drain"
	"keel.dev/keel/pkg/keelctl/etcd"
	"keel.dev/keel/pkg/keelctl/explain"
	"keel.dev/keel/pkg/keelctl/get"
	"keel.dev/keel/pkg/keelctl/label"
	"keel.dev/keel/pkg/keelctl/logs"
	"keel.dev/keel/pkg/keelctl/replace"
	"keel.dev/keel/pkg/keelctl/rollout"
	"keel.dev/keel/pkg/keelctl/token"
	"keel.dev/keel/pkg/keelctl/top"
)

// Run executes keelctl with args, writing to stdout and stderr, and returns
// the process exit status: 0 on success, 1 on any error (or the status an
// error carries, see Execute). Errors are printed
// to stderr as kubectl prints them ("error: ...", "Error from server
// (NotFound): ...").
func Run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Execute(ctx, &cmdutil.CLI{In: os.Stdin, Out: stdout, ErrOut: stderr, Getenv: os.Getenv, Now: time.Now}, args)
}

// Execute runs one invocation with the streams and environment of c (unset
// ones default to the process's) and returns its exit status. Cancelling ctx
// ends long-running commands (get --watch, delete --wait).
func Execute(ctx context.Context, c *cmdutil.CLI, args []string) int {
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.In == nil {
		c.In = os.Stdin
	}
	defer c.Close()
	root := NewRootCommand(c)
	root.SetArgs(args)
	root.SetIn(c.In)
	root.SetOut(c.Out)
	root.SetErr(c.ErrOut)
	if err := root.ExecuteContext(ctx); err != nil {
		cmdutil.PrintError(c.ErrOut, err)
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

// NewRootCommand returns a fresh keelctl command tree bound to c.
func NewRootCommand(c *cmdutil.CLI) *cobra.Command {
	root := &cobra.Command{
		Use:   "keelctl",
		Short: "keelctl controls a Keel cluster",
		Long: `keelctl controls a Keel cluster, with kubectl's commands and habits.

The cluster is found through the client configuration: --config, else
$KEELCONFIG, else ~/.keel/config (see "keelctl config"). For a quick look at a
local apiserver, --server 127.0.0.1:PORT --insecure needs no configuration.`,
		// Usage is for mistakes in the command line, which cobra reports
		// itself; errors are printed once, by Execute.
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	c.AddGlobalFlags(root)
	root.AddCommand(
		apply.NewApplyCommand(c),
		create.NewCreateCommand(c),
		replace.NewCommand(c),
		create.NewExposeCommand(c),
		get.NewGetCommand(c),
		get.NewDescribeCommand(c),
		delete.NewDeleteCommand(c),
		label.NewLabelCommand(c),
		label.NewAnnotateCommand(c),
		rollout.NewScaleCommand(c),
		rollout.NewRolloutCommand(c),
		apply.NewEditCommand(c),
		logs.NewLogsCommand(c),
		logs.NewExecCommand(c),
		drain.NewCordonCommand(c),
		drain.NewUncordonCommand(c),
		drain.NewDrainCommand(c),
		config.NewConfigCommand(c),
		config.NewVersionCommand(c),
		apiresources.NewAPIResourcesCommand(c),
		keelctlauth.NewAuthCommand(c),
		explain.NewExplainCommand(c),
		newCompletionCommand(c),
		config.NewPKICommand(),
		token.NewCommand(c),
		certificate.NewCommand(c),
		etcd.NewCommand(c),
		top.NewCommand(c),
	)
	return root
}
