package cmd

import (
	"github.com/spf13/cobra"

	"keel.dev/keel/pkg/keelctl/cmdutil"
)

func newCompletionCommand(c *cmdutil.CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script",
		Long: `Print the completion script of a shell. Types, names of objects, contexts
and flags complete.

  bash:  source <(keelctl completion bash)
  zsh:   source <(keelctl completion zsh)
  fish:  keelctl completion fish | source`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(c.Out, true)
			case "zsh":
				return root.GenZshCompletion(c.Out)
			case "fish":
				return root.GenFishCompletion(c.Out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(c.Out)
			}
			return unsupportedShell(args[0])
		},
	}
}

type unsupportedShell string

func (s unsupportedShell) Error() string {
	return "unsupported shell type \"" + string(s) + "\" (bash, zsh, fish or powershell)"
}
