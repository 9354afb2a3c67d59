// Package app is keel-scheduler, which binds pending pods to nodes: its
// flags and config files (NewCommand; see README.md) and the wiring from
// them to a running scheduler.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/leaderelection"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/daemon"
	"keel.dev/keel/pkg/scheduler"
	"keel.dev/keel/pkg/scheduler/config"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/scheduler/metrics"
	"keel.dev/keel/pkg/scheduler/plugins"
	"keel.dev/keel/pkg/scheduler/queue"
)

type options struct {
	client             client.ConfigFlags
	schedulerName      string
	pluginConfig       string
	parallelism        int
	percentageToScore  int32
	initialBackoff     time.Duration
	maxBackoff         time.Duration
	maxInUnschedulable time.Duration
	bindConcurrency    int
	scheduledEvents    bool
	httpAddress        string
	leader             leaderelection.Flags
}

// NewCommand is keel-scheduler's root command, with its flags.
func NewCommand() *cobra.Command {
	o := &options{}
	cmd := daemon.Command("keel-scheduler", "Keel's scheduler: binds each pending pod to the best feasible node", func(ctx context.Context, log *zap.Logger) error {
		return run(ctx, o, log)
	})
	f := cmd.Flags()
	o.client.AddFlags(f)
	f.StringVar(&o.schedulerName, "scheduler-name", scheduler.DefaultSchedulerName, "schedule only pods whose spec.schedulerName is this")
	f.StringVar(&o.pluginConfig, "plugin-config", "", "YAML file enabling, disabling and weighting plugins and setting their arguments; empty runs the default plugins")
	f.IntVar(&o.parallelism, "parallelism", 16, "goroutines that filter and score nodes within one scheduling cycle")
	f.Int32Var(&o.percentageToScore, "percentage-of-nodes-to-score", 0, "stop filtering once this percentage of the nodes (at least 100 nodes) is feasible; 0 adapts it to the cluster size (50% minus 1% per 125 nodes, at least 5%), 100 filters every node")
	f.DurationVar(&o.initialBackoff, "pod-initial-backoff", queue.DefaultInitialBackoff, "back-off of a pod after its first failed attempt, doubled after each further one")
	f.DurationVar(&o.maxBackoff, "pod-max-backoff", queue.DefaultMaxBackoff, "longest back-off of a pod")
	f.DurationVar(&o.maxInUnschedulable, "pod-max-in-unschedulable", queue.DefaultMaxInUnschedulable, "longest time an unschedulable pod waits for a relevant cluster event before it is tried again")
	f.IntVar(&o.bindConcurrency, "bind-concurrency", scheduler.DefaultBindConcurrency, "bindings in flight at once; scheduling waits when they are all busy (keep it below the apiserver's seats for workload-high, 118 of the default 600)")
	f.BoolVar(&o.scheduledEvents, "scheduled-events", true, `record a "Scheduled" event for every bound pod (FailedScheduling and Preempted events are always recorded)`)
	f.StringVar(&o.httpAddress, "http-address", "127.0.0.1:10251", "listener for /metrics, /healthz, /readyz and /debug/pprof/")
	o.leader.AddFlags(f, "keel-scheduler")
	return cmd
}

func run(ctx context.Context, o *options, log *zap.Logger) error {

	pc, err := config.Load(o.pluginConfig)
	if err != nil {
		return err
	}
	pluginSet, err := pc.Resolve(plugins.DefaultPlugins(), plugins.OptionalPlugins())
	if err == nil {
		err = scheduler.ValidatePlugins(pluginSet)
	}
	if err != nil {
		if o.pluginConfig == "" {
			return err
		}
		return fmt.Errorf("plugin config %s: %w", o.pluginConfig, err)
	}
	if o.parallelism < 1 {
		return errors.New("--parallelism must be at least 1")
	}
	if o.percentageToScore < 0 || o.percentageToScore > 100 {
		return errors.New("--percentage-of-nodes-to-score must be between 0 and 100")
	}

	c, err := o.client.Client("keel-scheduler")
	if err != nil {
		return err
	}
	defer c.Close()
	host, _ := os.Hostname()
	identity := host + "_" + uuid.NewString()

	rec, err := record.New(record.Config{Sink: record.ClientSink(c), Component: o.schedulerName, Host: host, Logger: log})
	if err != nil {
		return err
	}
	defer rec.Close()

	factory := informer.NewFactory(c, 0, informer.WithLogger(log))
	m := metrics.New(prometheus.DefaultRegisterer)
	prometheus.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keel_scheduler_events_written_total", Help: "Event writes (creates and count updates) done by the scheduler's event recorder."},
			func() float64 { return float64(rec.Written()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keel_scheduler_events_dropped_total", Help: "Events the scheduler's recorder dropped because its buffer was full."},
			func() float64 { return float64(rec.Dropped()) }))
	sched, err := scheduler.New(scheduler.Config{
		Informers:                factory,
		API:                      scheduler.ClientAPI(c),
		Recorder:                 rec,
		SchedulerName:            o.schedulerName,
		Plugins:                  pluginSet,
		Parallelism:              o.parallelism,
		PercentageOfNodesToScore: o.percentageToScore,
		InitialBackoff:           o.initialBackoff,
		MaxBackoff:               o.maxBackoff,
		MaxInUnschedulable:       o.maxInUnschedulable,
		BindConcurrency:          o.bindConcurrency,
		ScheduledEvents:          o.scheduledEvents,
		Metrics:                  m,
		Logger:                   log,
	})
	if err != nil {
		return err
	}
	// The informers run from the start, leader or not, so a standby that
	// takes over has its caches warm.
	factory.Start(ctx)
	defer factory.Shutdown()

	synced := func(context.Context) error {
		if !informer.WaitForCacheSync(expired(), factory.Pods().HasSynced, factory.Nodes().HasSynced, factory.Namespaces().HasSynced) {
			return errors.New("the pod, node and namespace caches have not synced yet")
		}
		return nil
	}
	httpAddr, err := daemon.ServeHTTP(ctx, o.httpAddress,
		[]daemon.Check{{Name: "ping", Func: func(context.Context) error { return nil }}},
		[]daemon.Check{{Name: "informers", Func: synced}}, log)
	if err != nil {
		return err
	}
	log.Info("serving health and metrics", zap.String("address", httpAddr), zap.Strings("plugins", names(pluginSet)))

	work := func(ctx context.Context) {
		m.Leader.Set(1)
		defer m.Leader.Set(0)
		if err := sched.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("scheduler stopped", zap.Error(err))
		}
	}
	return o.leader.Run(ctx, c, identity, log, work)
}

// expired is an already-ended context: WaitForCacheSync then only checks.
func expired() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func names(ps []framework.PluginConfig) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}
