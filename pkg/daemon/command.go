package daemon

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"keel.dev/keel/pkg/version"
)

// Command is a daemon's root command. It takes no arguments and has three
// flags besides those the caller adds to cmd.Flags(): --config, a YAML file
// of flag settings applied before run (see ApplyConfigFile), --log-level,
// and --version, which prints the build (pkg/version) and exits. run gets
// the logger and a context cancelled by SIGINT or SIGTERM; the daemon stops
// when it returns. Before run the build is logged and registered as the
// metric keel_build_info.
func Command(use, short string, run func(ctx context.Context, log *zap.Logger) error) *cobra.Command {
	var configFile, logLevel string
	cmd := &cobra.Command{
		Use:           use,
		Short:         short,
		Version:       version.Get().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configFile != "" {
				if err := ApplyConfigFile(cmd.Flags(), configFile); err != nil {
					return err
				}
			}
			log, err := NewLogger(logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			if err := version.Register(prometheus.DefaultRegisterer); err != nil {
				return err
			}
			log.Info("starting", zap.String("version", cmd.Version))
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return run(ctx, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "YAML file of flag-name: value settings (flags given on the command line win)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// Main runs cmd with the process's arguments; on failure it prints
// "<command>: <error>" to stderr and exits 1.
func Main(cmd *cobra.Command) {
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", cmd.Name(), err)
		os.Exit(1)
	}
}
