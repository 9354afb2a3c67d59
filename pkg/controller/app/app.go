// Package app is keel-controller-manager, which runs Keel's reconcilers:
// its flags and config file (NewCommand; see README.md) and the wiring from
// them to the running controllers.
package app

import (
	"context"
	"errors"
	"fmt"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/leaderelection"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/controller/certificates/approver"
	"keel.dev/keel/pkg/controller/certificates/cleaner"
	"keel.dev/keel/pkg/controller/certificates/signer"
	"keel.dev/keel/pkg/controller/clusterroleaggregation"
	"keel.dev/keel/pkg/controller/deployment"
	"keel.dev/keel/pkg/controller/endpoints"
	"keel.dev/keel/pkg/controller/garbagecollector"
	"keel.dev/keel/pkg/controller/job"
	"keel.dev/keel/pkg/controller/namespace"
	"keel.dev/keel/pkg/controller/nodelifecycle"
	"keel.dev/keel/pkg/controller/podgc"
	"keel.dev/keel/pkg/controller/replicaset"
	"keel.dev/keel/pkg/controller/rootcacertpublisher"
	"keel.dev/keel/pkg/controller/serviceaccount"
	"keel.dev/keel/pkg/controller/tokencleaner"
	"keel.dev/keel/pkg/daemon"
	"keel.dev/keel/pkg/pki"
)

type options struct {
	client            client.ConfigFlags
	httpAddress       string
	replicaSetWorkers int
	deploymentWorkers int
	jobWorkers        int
	endpointsWorkers  int
	nodeMonitor       time.Duration
	nodeGrace         time.Duration
	defaultToleration int64
	gcWorkers         int
	nsWorkers         int
	terminatedPods    int
	rootCAFile        string
	signingCertFile   string
	signingKeyFile    string
	signingDuration   time.Duration
	leader            leaderelection.Flags
}

// NewCommand is keel-controller-manager's root command, with its flags.
func NewCommand() *cobra.Command {
	o := &options{}
	cmd := daemon.Command("keel-controller-manager", "Keel's controllers: keep the cluster's objects at their specs", func(ctx context.Context, log *zap.Logger) error {
		return run(ctx, o, log)
	})
	f := cmd.Flags()
	o.client.AddFlags(f)
	f.StringVar(&o.httpAddress, "http-address", "127.0.0.1:10252", "listener for /metrics, /healthz, /readyz and /debug/pprof/")
	f.IntVar(&o.replicaSetWorkers, "concurrent-replicaset-syncs", 5, "ReplicaSets synced at once")
	f.IntVar(&o.deploymentWorkers, "concurrent-deployment-syncs", 5, "Deployments synced at once")
	f.IntVar(&o.jobWorkers, "concurrent-job-syncs", 5, "Jobs synced at once")
	f.IntVar(&o.endpointsWorkers, "concurrent-endpoint-syncs", 5, "Services whose Endpoints are synced at once")
	f.DurationVar(&o.nodeMonitor, "node-monitor-period", 5*time.Second, "how often every node's heartbeats are checked")
	f.DurationVar(&o.nodeGrace, "node-monitor-grace-period", 40*time.Second, "how long a node may go without a heartbeat before its conditions turn Unknown and it is tainted unreachable")
	f.Int64Var(&o.defaultToleration, "default-toleration-seconds", 300, "how long pods without their own toleration stay on a not-ready or unreachable node")
	f.IntVar(&o.gcWorkers, "concurrent-gc-syncs", 20, "objects the garbage collector handles at once")
	f.IntVar(&o.nsWorkers, "concurrent-namespace-syncs", 10, "deleted namespaces emptied at once")
	f.IntVar(&o.terminatedPods, "terminated-pod-gc-threshold", podgc.DefaultTerminatedPodThreshold, "finished (Succeeded or Failed) pods kept before the oldest are deleted; 0 keeps them all")
	f.StringVar(&o.rootCAFile, "root-ca-file", "", "PEM CA bundle published as the ConfigMap kube-root-ca.crt in every namespace; empty: not published")
	f.StringVar(&o.signingCertFile, "cluster-signing-cert-file", "", "PEM CA certificate that signs approved CertificateSigningRequests (csrsigning); empty: csrsigning is off")
	f.StringVar(&o.signingKeyFile, "cluster-signing-key-file", "", "PEM private key of --cluster-signing-cert-file")
	f.DurationVar(&o.signingDuration, "cluster-signing-duration", signer.DefaultDuration, "the longest certificate csrsigning issues (a request's spec.expirationSeconds may ask for less)")
	o.leader.AddFlags(f, "keel-controller-manager")
	return cmd
}

func run(ctx context.Context, o *options, log *zap.Logger) error {
	if o.nodeMonitor <= 0 || o.nodeGrace <= o.nodeMonitor || o.defaultToleration < 0 {
		return errors.New("--node-monitor-period must be positive, --node-monitor-grace-period longer than it, and --default-toleration-seconds not negative")
	}
	if o.terminatedPods < 0 {
		return errors.New("--terminated-pod-gc-threshold must not be negative (0 disables it)")
	}
	for flag, n := range map[string]int{"concurrent-replicaset-syncs": o.replicaSetWorkers, "concurrent-deployment-syncs": o.deploymentWorkers, "concurrent-job-syncs": o.jobWorkers, "concurrent-endpoint-syncs": o.endpointsWorkers,
		"concurrent-gc-syncs": o.gcWorkers, "concurrent-namespace-syncs": o.nsWorkers} {
		if n < 1 {
			return fmt.Errorf("--%s must be at least 1", flag)
		}
	}
	var rootCA []byte
	if o.rootCAFile != "" {
		var err error
		if rootCA, err = os.ReadFile(o.rootCAFile); err != nil {
			return fmt.Errorf("--root-ca-file: %w", err)
		}
		if _, err := pki.ParseCertsPEM(rootCA); err != nil {
			return fmt.Errorf("--root-ca-file %s: %w", o.rootCAFile, err)
		}
	}
	var signingCA *pki.KeyPair
	if (o.signingCertFile == "") != (o.signingKeyFile == "") {
		return errors.New("--cluster-signing-cert-file and --cluster-signing-key-file go together")
	}
	if o.signingDuration <= 0 {
		return errors.New("--cluster-signing-duration must be positive")
	}
	if o.signingCertFile != "" {
		var err error
		if signingCA, err = loadSigningCA(o.signingCertFile, o.signingKeyFile); err != nil {
			return err
		}
	}
	c, err := o.client.Client("keel-controller-manager")
	if err != nil {
		return err
	}
	defer c.Close()
	host, _ := os.Hostname()
	identity := host + "_" + uuid.NewString()

	rec, err := record.New(record.Config{Sink: record.ClientSink(c), Component: "keel-controller-manager", Host: host, Logger: log})
	if err != nil {
		return err
	}
	defer rec.Close()
	leader := prometheus.NewGauge(prometheus.GaugeOpts{Name: "keel_controller_manager_leader", Help: "1 while this controller-manager leads (its controllers act), else 0."})
	prometheus.MustRegister(leader,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keel_controller_manager_events_dropped_total", Help: "Events the controller-manager's recorder dropped because its buffer was full."},
			func() float64 { return float64(rec.Dropped()) }))

	factory := informer.NewFactory(c, 0, informer.WithLogger(log))
	rs := replicaset.New(c, factory, rec, log)
	deploy := deployment.New(c, factory, rec, log)
	jobs := job.New(c, factory, rec, log)
	eps := endpoints.New(c, factory, log)
	nodes := nodelifecycle.New(c, factory, nodelifecycle.Config{MonitorPeriod: o.nodeMonitor, GracePeriod: o.nodeGrace,
		DefaultTolerationSeconds: o.defaultToleration, Logger: log})
	gc := garbagecollector.New(c, factory, log)
	ns := namespace.New(c, factory, log)
	sas := serviceaccount.New(c, factory, log)
	cra := clusterroleaggregation.New(c, factory, log)
	tc := tokencleaner.New(c, factory, nil, log)
	csrApprover := approver.New(c, factory, log)
	csrCleaner := cleaner.New(c, factory, nil, log)
	// The publisher runs only with a CA bundle to publish; synced counts
	// it as synced when it does not run.
	controllers := []string{"replicaset", "deployment", "job", "endpoints", "nodelifecycle", "garbagecollector", "namespace", "podgc", "serviceaccount", "clusterrole-aggregation", "tokencleaner"}
	var rootCAPublisher *rootcacertpublisher.Controller
	if rootCA != nil {
		rootCAPublisher = rootcacertpublisher.New(c, factory, rootCA, log)
		controllers = append(controllers, "root-ca-cert-publisher")
	} else {
		log.Info("root-ca-cert-publisher is off: --root-ca-file is not set")
	}
	controllers = append(controllers, "csrapproving", "csrcleaner")
	var csrSigner *signer.Controller
	if signingCA != nil {
		csrSigner = signer.New(c, factory, signer.Config{CA: signingCA, MaxDuration: o.signingDuration, Logger: log})
		controllers = append(controllers, "csrsigning")
	} else {
		log.Info("csrsigning is off: --cluster-signing-cert-file is not set")
	}
	pgc := podgc.New(c, factory, podgc.Config{TerminatedPodThreshold: o.terminatedPods, Logger: log})
	prometheus.MustRegister(pgc.Collectors()...)
	// The informers run from the start, leader or not, so a standby that
	// takes over has its caches warm.
	factory.Start(ctx)
	defer factory.Shutdown()

	synced := func(context.Context) error {
		if !factory.ReplicaSets().HasSynced() || !factory.Deployments().HasSynced() || !factory.Jobs().HasSynced() || !factory.Services().HasSynced() || !factory.Endpoints().HasSynced() || !factory.Nodes().HasSynced() || !factory.Leases().HasSynced() || !factory.Pods().HasSynced() || !factory.Namespaces().HasSynced() || !informer.For[*corev1.ServiceAccount](factory).HasSynced() || !gc.Synced() || !cra.Synced() || !tc.Synced() || !csrApprover.Synced() || (rootCAPublisher != nil && !rootCAPublisher.Synced()) {
			return errors.New("the informers have not all synced yet")
		}
		return nil
	}
	httpAddr, err := daemon.ServeHTTP(ctx, o.httpAddress,
		[]daemon.Check{{Name: "ping", Func: func(context.Context) error { return nil }}},
		[]daemon.Check{{Name: "informers", Func: synced}}, log)
	if err != nil {
		return err
	}
	log.Info("serving health and metrics", zap.String("address", httpAddr))

	return o.leader.Run(ctx, c, identity, log, func(ctx context.Context) {
		leader.Set(1)
		defer leader.Set(0)
		var wg sync.WaitGroup
		wg.Add(13)
		if rootCAPublisher != nil {
			wg.Add(1)
			go func() { defer wg.Done(); rootCAPublisher.Run(ctx, 1) }()
		}
		if csrSigner != nil {
			wg.Add(1)
			go func() { defer wg.Done(); csrSigner.Run(ctx, 1) }()
		}
		go func() { defer wg.Done(); csrApprover.Run(ctx, 1) }()
		go func() { defer wg.Done(); csrCleaner.Run(ctx, 1) }()
		go func() { defer wg.Done(); rs.Run(ctx, o.replicaSetWorkers) }()
		go func() { defer wg.Done(); deploy.Run(ctx, o.deploymentWorkers) }()
		go func() { defer wg.Done(); jobs.Run(ctx, o.jobWorkers) }()
		go func() { defer wg.Done(); eps.Run(ctx, o.endpointsWorkers) }()
		go func() { defer wg.Done(); nodes.Run(ctx) }()
		go func() { defer wg.Done(); gc.Run(ctx, o.gcWorkers) }()
		go func() { defer wg.Done(); ns.Run(ctx, o.nsWorkers) }()
		go func() { defer wg.Done(); pgc.Run(ctx) }()
		go func() { defer wg.Done(); sas.Run(ctx, 1) }()
		go func() { defer wg.Done(); cra.Run(ctx, 1) }()
		go func() { defer wg.Done(); tc.Run(ctx, 1) }()
		log.Info("controllers started", zap.Strings("controllers", controllers))
		wg.Wait()
	})
}

// loadSigningCA reads the csrsigning CA: a CA certificate and its key.
func loadSigningCA(certFile, keyFile string) (*pki.KeyPair, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("--cluster-signing-cert-file: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("--cluster-signing-key-file: %w", err)
	}
	kp, err := pki.ParseKeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("--cluster-signing-cert-file %s, --cluster-signing-key-file %s: %w", certFile, keyFile, err)
	}
	if !kp.Cert.IsCA {
		return nil, fmt.Errorf("--cluster-signing-cert-file %s is not a CA certificate", certFile)
	}
	return kp, nil
}
