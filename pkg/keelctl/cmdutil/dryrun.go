package cmdutil

import (
	"fmt"

	"github.com/spf13/cobra"
)

// DryRun is --dry-run=none|client|server.
type DryRun struct{ value string }

// Add adds --dry-run to cmd.
func (d *DryRun) Add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&d.value, "dry-run", "none", `"none", "client" (only print what would be sent) or "server" (the apiserver validates without storing)`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
}

// Check fails on a value other than none, client and server.
func (d *DryRun) Check() error {
	switch d.value {
	case "none", "client", "server":
		return nil
	}
	return fmt.Errorf(`invalid --dry-run value %q: must be "none", "server" or "client"`, d.value)
}

// Client reports --dry-run=client: nothing is sent.
func (d *DryRun) Client() bool { return d.value == "client" }

// Server reports --dry-run=server: the apiserver validates without storing.
func (d *DryRun) Server() bool { return d.value == "server" }

// Suffix is what follows the result of a dry run: " (dry run)", " (server dry run)".
func (d *DryRun) Suffix() string {
	switch d.value {
	case "client":
		return " (dry run)"
	case "server":
		return " (server dry run)"
	}
	return ""
}
