// Package app is keel-controller-manager, which runs Keel's reconcilers:
// its flags and config file (NewCommand; see README.md) and the wiring from
// them to the running controllers.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/auth/bootstrappolicy"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/leaderelection"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/controller/certificates/approver"
	"keel.dev/keel/pkg/controller/certificates/cleaner"
	"keel.dev/keel/pkg/controller/certificates/signer"
	"keel.dev/keel/pkg/controller/clientbuilder"
	"keel.dev/keel/pkg/controller/clusterroleaggregation"
	"keel.dev/keel/pkg/controller/cronjob"
	"keel.dev/keel/pkg/controller/customresources"
	"keel.dev/keel/pkg/controller/daemonset"
	"keel.dev/keel/pkg/controller/deployment"
	"keel.dev/keel/pkg/controller/disruption"
	"keel.dev/keel/pkg/controller/endpoints"
	"keel.dev/keel/pkg/controller/endpointslice"
	"keel.dev/keel/pkg/controller/garbagecollector"
	"keel.dev/keel/pkg/controller/job"
	"keel.dev/keel/pkg/controller/namespace"
	"keel.dev/keel/pkg/controller/nodelifecycle"
	"keel.dev/keel/pkg/controller/podgc"
	"keel.dev/keel/pkg/controller/replicaset"
	"keel.dev/keel/pkg/controller/resourcequota"
	"keel.dev/keel/pkg/controller/rootcacertpublisher"
	"keel.dev/keel/pkg/controller/serviceaccount"
	"keel.dev/keel/pkg/controller/statefulset"
	"keel.dev/keel/pkg/controller/tokencleaner"
	"keel.dev/keel/pkg/controller/volume/localpath"
	"keel.dev/keel/pkg/controller/volume/persistentvolume"
	"keel.dev/keel/pkg/controller/volume/protection"
	"keel.dev/keel/pkg/daemon"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/scheme"
)

// persistentVolumeWorkers sync claims (and, as many, volumes) at once:
// claims provisioned for bind without contention.
const persistentVolumeWorkers = 5

type options struct {
	client             client.ConfigFlags
	httpAddress        string
	replicaSetWorkers  int
	daemonSetWorkers   int
	statefulSetWorkers int
	deploymentWorkers  int
	jobWorkers         int
	endpointsWorkers   int
	sliceWorkers       int
	maxPerSlice        int
	nodeMonitor        time.Duration
	nodeGrace          time.Duration
	defaultToleration  int64
	gcWorkers          int
	nsWorkers          int
	terminatedPods     int
	rootCAFile         string
	signingCertFile    string
	signingKeyFile     string
	signingDuration    time.Duration
	leader             leaderelection.Flags
	useSACredentials   bool
	rcWorkers          int
	quotaWorkers       int
	quotaResync        time.Duration
	cronJobWorkers     int
	cronJobClockRate   float64
	localPathRoot      string
	localPathNodeRoots map[string]string
	csiEndpoints       map[string]string
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
	f.IntVar(&o.daemonSetWorkers, "concurrent-daemonset-syncs", 2, "DaemonSets synced at once")
	f.IntVar(&o.deploymentWorkers, "concurrent-deployment-syncs", 5, "Deployments synced at once")
	f.IntVar(&o.jobWorkers, "concurrent-job-syncs", 5, "Jobs synced at once")
	f.IntVar(&o.statefulSetWorkers, "concurrent-statefulset-syncs", 5, "StatefulSets synced at once")
	f.IntVar(&o.cronJobWorkers, "concurrent-cron-job-syncs", 5, "CronJobs synced at once")
	f.IntVar(&o.endpointsWorkers, "concurrent-endpoint-syncs", 5, "Services whose Endpoints are synced at once")
	f.IntVar(&o.sliceWorkers, "concurrent-service-endpoint-syncs", 5, "Services whose EndpointSlices are synced at once")
	f.IntVar(&o.maxPerSlice, "max-endpoints-per-slice", endpointslice.DefaultMaxEndpointsPerSlice, "the most endpoints the EndpointSlice controller puts in one slice (1-1000)")
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
	f.BoolVar(&o.useSACredentials, "use-service-account-credentials", false, "run each controller as its own ServiceAccount in kube-system (system:serviceaccount:kube-system:NAME, authorized by the ClusterRole system:controller:NAME), with a token requested by the controller-manager; the connection to the apiserver must be TLS")
	f.IntVar(&o.rcWorkers, "concurrent-rc-syncs", 5, "ReplicationControllers synced at once")
	f.IntVar(&o.quotaWorkers, "concurrent-resource-quota-syncs", 5, "ResourceQuotas synced at once")
	f.DurationVar(&o.quotaResync, "resource-quota-sync-period", resourcequota.DefaultResyncPeriod, "how often every ResourceQuota's usage is recomputed")
	// Testing only: end-to-end tests run minute schedules within seconds.
	f.Float64Var(&o.cronJobClockRate, "cronjob-clock-rate", 1, "testing only: the CronJob controller's clock runs this many times faster than the real one (at least 1)")
	_ = f.MarkHidden("cronjob-clock-rate")
	f.StringVar(&o.localPathRoot, "local-path-root", api.DefaultLocalPathRoot, "the directory, on every node, under which the local-path provisioner (keel.dev/local-path) makes its volumes; empty: the provisioner is off")
	f.StringToStringVar(&o.localPathNodeRoots, "local-path-node-roots", nil, "NODE=DIR,…: nodes whose local-path volumes go under a directory of their own instead of --local-path-root")
	f.StringToStringVar(&o.csiEndpoints, "csi-controller-endpoints", nil, "CSI drivers whose controller service this controller-manager drives, as DRIVER=unix:///SOCKET,…: it provisions their classes' claims (CreateVolume, DeleteVolume) and attaches their volumes (ControllerPublishVolume)")
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
	for flag, n := range map[string]int{"concurrent-replicaset-syncs": o.replicaSetWorkers, "concurrent-daemonset-syncs": o.daemonSetWorkers, "concurrent-statefulset-syncs": o.statefulSetWorkers, "concurrent-deployment-syncs": o.deploymentWorkers, "concurrent-job-syncs": o.jobWorkers, "concurrent-cron-job-syncs": o.cronJobWorkers, "concurrent-endpoint-syncs": o.endpointsWorkers, "concurrent-service-endpoint-syncs": o.sliceWorkers,
		"concurrent-gc-syncs": o.gcWorkers, "concurrent-namespace-syncs": o.nsWorkers, "concurrent-rc-syncs": o.rcWorkers, "concurrent-resource-quota-syncs": o.quotaWorkers} {
		if n < 1 {
			return fmt.Errorf("--%s must be at least 1", flag)
		}
	}
	if !(o.cronJobClockRate >= 1) {
		return errors.New("--cronjob-clock-rate must be at least 1")
	}
	if o.maxPerSlice < 1 || o.maxPerSlice > api.MaxEndpointsPerSliceLimit {
		return fmt.Errorf("--max-endpoints-per-slice must be between 1 and %d", api.MaxEndpointsPerSliceLimit)
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

	cs, err := newControllerClients(o, c, host, log)
	if err != nil {
		return err
	}
	defer cs.close()
	leader := prometheus.NewGauge(prometheus.GaugeOpts{Name: "keel_controller_manager_leader", Help: "1 while this controller-manager leads (its controllers act), else 0."})
	prometheus.MustRegister(leader,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keel_controller_manager_events_dropped_total", Help: "Events the controller-manager's recorders dropped because their buffers were full."},
			cs.eventsDropped))

	// The shared informers watch as the controller-manager itself; each
	// controller writes with its client.
	factory := informer.NewFactory(c, 0, informer.WithLogger(log))
	rsClient, rsRec := cs.withEvents("replicaset")
	rs := replicaset.New(rsClient, factory, rsRec, log)
	deployClient, deployRec := cs.withEvents("deployment")
	deploy := deployment.New(deployClient, factory, deployRec, log)
	dsClient, dsRec := cs.withEvents("daemonset")
	daemonSets := daemonset.New(dsClient, factory, dsRec, log)
	stsClient, stsRec := cs.withEvents("statefulset")
	sts := statefulset.New(stsClient, factory, stsRec, log)
	jobsClient, jobsRec := cs.withEvents("job")
	jobs := job.New(jobsClient, factory, jobsRec, log)
	cronJobsClient, cronJobsRec := cs.withEvents("cronjob")
	var cronJobClock clock.WithTicker // nil: the real clock
	if o.cronJobClockRate > 1 {
		cronJobClock = newScaledClock(o.cronJobClockRate)
		log.Warn("the CronJob controller's clock runs faster than the real one (--cronjob-clock-rate: testing only)", zap.Float64("rate", o.cronJobClockRate))
	}
	cronJobs := cronjob.New(cronJobsClient, factory, cronJobClock, cronJobsRec, log)
	eps := endpoints.New(cs.client("endpoints"), factory, log)
	epSlices := endpointslice.New(cs.client("endpointslice"), factory, o.maxPerSlice, log)
	nodes := nodelifecycle.New(cs.client("nodelifecycle"), factory, nodelifecycle.Config{MonitorPeriod: o.nodeMonitor, GracePeriod: o.nodeGrace,
		DefaultTolerationSeconds: o.defaultToleration, Logger: log})
	gc := garbagecollector.New(cs.client("garbagecollector"), factory, log)
	ns := namespace.New(cs.client("namespace"), factory, log)
	sas := serviceaccount.New(cs.client("serviceaccount"), factory, log)
	cra := clusterroleaggregation.New(cs.client("clusterrole-aggregation"), factory, log)
	tc := tokencleaner.New(cs.client("tokencleaner"), factory, nil, log)
	csrApprover := approver.New(cs.client("csrapproving"), factory, log)
	csrCleaner := cleaner.New(cs.client("csrcleaner"), factory, nil, log)
	// The publisher runs only with a CA bundle to publish; synced counts
	// it as synced when it does not run.
	controllers := []string{"replicaset", "deployment", "daemonset", "statefulset", "job", "cronjob", "endpoints", "endpointslice", "nodelifecycle", "garbagecollector", "namespace", "podgc", "serviceaccount", "clusterrole-aggregation", "tokencleaner"}
	var rootCAPublisher *rootcacertpublisher.Controller
	if rootCA != nil {
		rootCAPublisher = rootcacertpublisher.New(cs.client("root-ca-cert-publisher"), factory, rootCA, log)
		controllers = append(controllers, "root-ca-cert-publisher")
	} else {
		log.Info("root-ca-cert-publisher is off: --root-ca-file is not set")
	}
	controllers = append(controllers, "csrapproving", "csrcleaner")
	var csrSigner *signer.Controller
	if signingCA != nil {
		csrSigner = signer.New(cs.client("csrsigning"), factory, signer.Config{CA: signingCA, MaxDuration: o.signingDuration, Logger: log})
		controllers = append(controllers, "csrsigning")
	} else {
		log.Info("csrsigning is off: --cluster-signing-cert-file is not set")
	}
	rcClient, rcRec := cs.withEvents("replicationcontroller")
	rcs := replicaset.NewReplicationController(rcClient, factory, rcRec, log)
	quotas := resourcequota.New(cs.client("resourcequota"), factory, o.quotaResync, log)
	// The custom resources, for the controllers that act on every kind.
	customresources.Follow(factory, log, func(k *scheme.Kind) {
		gc.Watch(k)
		quotas.Watch(k)
	})
	controllers = append(controllers, "replicationcontroller", "resourcequota")
	pgc := podgc.New(cs.client("podgc"), factory, podgc.Config{TerminatedPodThreshold: o.terminatedPods, Logger: log})
	disruptionClient, disruptionRec := cs.withEvents("disruption")
	pdbs := disruption.New(disruptionClient, factory, disruptionRec, log)
	controllers = append(controllers, "disruption")
	provisioners := map[string]persistentvolume.Provisioner{}
	if o.localPathRoot != "" {
		lp, err := localpath.New(o.localPathRoot, o.localPathNodeRoots)
		if err != nil {
			return fmt.Errorf("--local-path-root: %w", err)
		}
		provisioners[api.LocalPathProvisioner] = lp
	} else {
		log.Info("the local-path provisioner is off: --local-path-root is empty")
	}
	csiCtls, err := newCSIControllers(o.csiEndpoints, cs, factory, provisioners, log)
	if err != nil {
		return err
	}
	defer csiCtls.close()
	controllers = append(controllers, csiCtls.names()...)
	pvClient, pvRec := cs.withEvents("persistentvolume-binder")
	pvs := persistentvolume.New(pvClient, factory, provisioners, pvRec, log)
	pvcProtection := protection.NewClaimController(cs.client("pvc-protection"), factory, log)
	pvProtection := protection.NewVolumeController(cs.client("pv-protection"), factory)
	controllers = append(controllers, "persistentvolume-binder", "pvc-protection", "pv-protection")
	prometheus.MustRegister(pgc.Collectors()...)
	if err := cs.err(); err != nil {
		return err
	}
	// The informers run from the start, leader or not, so a standby that
	// takes over has its caches warm.
	factory.Start(ctx)
	defer factory.Shutdown()

	synced := func(context.Context) error {
		informers := []bool{
			factory.ReplicaSets().HasSynced(),
			factory.Deployments().HasSynced(),
			factory.Jobs().HasSynced(),
			factory.CronJobs().HasSynced(),
			daemonSets.Synced(),
			sts.Synced(),
			factory.Services().HasSynced(),
			factory.Endpoints().HasSynced(),
			epSlices.Synced(),
			factory.Nodes().HasSynced(),
			factory.Leases().HasSynced(),
			factory.Pods().HasSynced(),
			factory.Namespaces().HasSynced(),
			informer.For[*corev1.ServiceAccount](factory).HasSynced(),
			gc.Synced(),
			cra.Synced(),
			tc.Synced(),
			csrApprover.Synced(),
			quotas.Synced(),
			pdbs.Synced(),
			informer.For[*corev1.ReplicationController](factory).HasSynced(),
			rootCAPublisher == nil || rootCAPublisher.Synced(),
			pvs.Synced(),
			pvcProtection.Synced(),
			pvProtection.Synced(),
			csiCtls.synced(),
		}
		if slices.Contains(informers, false) {
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
		// Each controller runs until ctx ends; run counts them, so that no
		// count kept by hand can drift from the goroutines started.
		var wg sync.WaitGroup
		run := func(f func()) {
			wg.Add(1)
			go func() { defer wg.Done(); f() }()
		}
		if rootCAPublisher != nil {
			run(func() { rootCAPublisher.Run(ctx, 1) })
		}
		if csrSigner != nil {
			run(func() { csrSigner.Run(ctx, 1) })
		}
		run(func() { csrApprover.Run(ctx, 1) })
		run(func() { csrCleaner.Run(ctx, 1) })
		run(func() { rs.Run(ctx, o.replicaSetWorkers) })
		run(func() { deploy.Run(ctx, o.deploymentWorkers) })
		run(func() { daemonSets.Run(ctx, o.daemonSetWorkers) })
		run(func() { jobs.Run(ctx, o.jobWorkers) })
		run(func() { sts.Run(ctx, o.statefulSetWorkers) })
		run(func() { eps.Run(ctx, o.endpointsWorkers) })
		run(func() { epSlices.Run(ctx, o.sliceWorkers) })
		run(func() { nodes.Run(ctx) })
		run(func() { gc.Run(ctx, o.gcWorkers) })
		run(func() { ns.Run(ctx, o.nsWorkers) })
		run(func() { pgc.Run(ctx) })
		run(func() { sas.Run(ctx, 1) })
		run(func() { cra.Run(ctx, 1) })
		run(func() { tc.Run(ctx, 1) })
		run(func() { cronJobs.Run(ctx, o.cronJobWorkers) })
		run(func() { rcs.Run(ctx, o.rcWorkers) })
		run(func() { quotas.Run(ctx, o.quotaWorkers) })
		run(func() { pdbs.Run(ctx, 1) })
		run(func() { pvs.Run(ctx, persistentVolumeWorkers) })
		run(func() { pvcProtection.Run(ctx, 1) })
		run(func() { pvProtection.Run(ctx, 1) })
		csiCtls.run(ctx, run)
		log.Info("controllers started", zap.Strings("controllers", controllers))
		wg.Wait()
	})
}

// controllerClients are the controllers' clients and Event recorders: the
// controller-manager's own client and one recorder for all, or under
// --use-service-account-credentials a client acting as the controller's
// ServiceAccount (bootstrappolicy.ControllerServiceAccount) and a
// recorder writing with it for each. Not safe for concurrent use: the
// controllers are built one after another.
type controllerClients struct {
	own     *client.Client
	host    string
	log     *zap.Logger
	builder *clientbuilder.Builder // nil: every controller is the controller-manager

	clients   map[string]*client.Client // by ServiceAccount
	recorders map[*client.Client]*record.Recorder
	errs      []error
}

func newControllerClients(o *options, own *client.Client, host string, log *zap.Logger) (*controllerClients, error) {
	cs := &controllerClients{own: own, host: host, log: log, clients: map[string]*client.Client{}, recorders: map[*client.Client]*record.Recorder{}}
	if !o.useSACredentials {
		return cs, nil
	}
	opts, err := o.client.Options("keel-controller-manager")
	if err != nil {
		return nil, err
	}
	if cs.builder, err = clientbuilder.New(own, opts, log.Named("clientbuilder")); err != nil {
		return nil, err
	}
	log.Info("each controller acts as its own ServiceAccount in " + api.NamespaceSystem)
	return cs, nil
}

// client is the client of the controller called name (a
// bootstrappolicy.ControllerRules name); controllers that share a
// ServiceAccount share its client. A failure is kept for err.
func (cs *controllerClients) client(name string) *client.Client {
	if cs.builder == nil {
		return cs.own
	}
	sa, ok := bootstrappolicy.ControllerServiceAccount(name)
	if !ok {
		cs.errs = append(cs.errs, fmt.Errorf("controller %q has no ServiceAccount in the bootstrap policy", name))
		return cs.own
	}
	if c, ok := cs.clients[sa]; ok {
		return c
	}
	c, err := cs.builder.Client(sa)
	if err != nil {
		cs.errs = append(cs.errs, fmt.Errorf("the client of %s: %w", sa, err))
		return cs.own
	}
	cs.clients[sa] = c
	return c
}

// withEvents is the client of the controller called name and a recorder
// of Events that writes with it.
func (cs *controllerClients) withEvents(name string) (*client.Client, *record.Recorder) {
	c := cs.client(name)
	if rec, ok := cs.recorders[c]; ok {
		return c, rec
	}
	rec, err := record.New(record.Config{Sink: record.ClientSink(c), Component: "keel-controller-manager", Host: cs.host, Logger: cs.log})
	if err != nil {
		cs.errs = append(cs.errs, err)
		return c, nil
	}
	cs.recorders[c] = rec
	return c, rec
}

// err is every failure of client and withEvents.
func (cs *controllerClients) err() error { return errors.Join(cs.errs...) }

// eventsDropped is the number of Events the recorders dropped.
func (cs *controllerClients) eventsDropped() float64 {
	var n uint64
	for _, rec := range cs.recorders {
		n += rec.Dropped()
	}
	return float64(n)
}

// close flushes the recorders and closes the controllers' clients.
func (cs *controllerClients) close() {
	for _, rec := range cs.recorders {
		rec.Close()
	}
	if cs.builder != nil {
		cs.builder.Close()
	}
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
