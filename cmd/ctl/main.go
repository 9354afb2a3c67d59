// Command keelctl is the Keel command line.
//
// Each command group lives in its own file (pki.go, …) and contributes one
// constructor that newRootCommand adds to the root.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes keelctl with args, writing to stdout and stderr, and returns
// the process exit status: 0 on success, 1 on any error, which is printed to
// stderr as "error: ...".
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

// newRootCommand returns a fresh keelctl command tree (no state is shared
// between calls, so tests may build one per case).
func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "keelctl",
		Short: "keelctl controls a Keel cluster",
		// Usage is for mistakes in the command line, which cobra reports
		// itself; errors are printed once, by run.
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newPKICommand(),
	)
	return root
}
