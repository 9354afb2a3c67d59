// Package kubelet runs a node's pods through a CRI runtime.
//
// Structure. One Kubelet per node (see hollow for many simulated ones):
//
//   - a Reporter (package nodestatus) registers the Node, renews its Lease
//     and posts its status;
//   - an informer watches the pods bound to the node (field selector
//     spec.nodeName); each pod gets a worker goroutine (worker.go) that
//     observes the runtime, calls the pure podsync.Compute, performs the
//     actions it plans (executor.go) and hands the computed status to the
//     status manager (status.go), which writes it when it changed;
//   - the PLEG relists the runtime every second and wakes the workers of
//     pods whose containers changed; the prober wakes them when a probe
//     result changes; a pod found in the runtime that the API does not
//     know (deleted while the kubelet was down) gets a worker that stops
//     and removes it;
//   - the network manager writes the CNI config for the node's podCIDR and
//     routes to the other nodes' podCIDRs;
//   - the server (package server) serves logs and exec to the apiserver;
//   - the plugin watcher (package csiplugin) registers the CSI node
//     plugins that put a socket in RootDir/plugins_registry, and keeps
//     the node's CSINode; the volume manager stages and publishes CSI
//     volumes through them.
//
// State lives in the runtime (containers carry Kubernetes-style labels)
// and in the API, so a restarted kubelet picks its pods up without
// restarting healthy containers.
package kubelet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/auth/node"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/client/token"
	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/kubelet/csiplugin"
	"keel.dev/keel/pkg/kubelet/kuberuntime"
	"keel.dev/keel/pkg/kubelet/lifecycle"
	"keel.dev/keel/pkg/kubelet/localpath"
	"keel.dev/keel/pkg/kubelet/metrics"
	"keel.dev/keel/pkg/kubelet/network"
	"keel.dev/keel/pkg/kubelet/nodestatus"
	"keel.dev/keel/pkg/kubelet/objectwatch"
	"keel.dev/keel/pkg/kubelet/pleg"
	"keel.dev/keel/pkg/kubelet/podsync"
	"keel.dev/keel/pkg/kubelet/prober"
	"keel.dev/keel/pkg/kubelet/server"
	"keel.dev/keel/pkg/kubelet/stats"
	"keel.dev/keel/pkg/kubelet/volume"
)

// Version is reported as the node's kubeletVersion.
const Version = "v1.31.0-keel"

// uidIndex indexes the pod informer by uid.
const uidIndex = "metadata.uid"

// Config configures a Kubelet. Zero values take the defaults documented.
type Config struct {
	// NodeName is the node's name. Required.
	NodeName string
	// Client reaches the apiserver. Required.
	Client *client.Client
	// Runtime is the container runtime. Required. New times its calls
	// (metrics.Instrument).
	Runtime cri.Runtime
	Log     *zap.Logger
	Clock   clock.Clock
	// Events, if set, receives events about pods (Pulled, Started,
	// Killing, ...).
	Events record.EventRecorder

	// RootDir holds pod volumes and termination message files
	// (/var/lib/keel/kubelet).
	RootDir string
	// PodLogDir holds the pods' container logs (/var/log/pods).
	PodLogDir string
	// CgroupRoot is the cgroup under which each pod gets its own
	// (/keel); empty leaves the runtime's default.
	CgroupRoot string
	// ClusterDNS and ClusterDomain configure ClusterFirst pods' DNS.
	ClusterDNS    []string
	ClusterDomain string

	// NodeIP is the node's InternalIP (default: the address of the
	// default route's interface). Hostname is its Hostname address
	// (default: NodeName).
	NodeIP   string
	Hostname string
	// NodeLabels are added to the node's labels.
	NodeLabels map[string]string
	// MaxPods is the pods capacity (110).
	MaxPods int
	// Reserved is subtracted from the capacity for allocatable
	// (--system-reserved plus --kube-reserved).
	Reserved map[string]resource.Quantity
	// PodCIDR is used, and set on the Node, when its spec has none.
	PodCIDR string
	// Port is the kubelet server's port, advertised in the node's
	// daemonEndpoints (10250).
	Port int32
	// Machine overrides what the node reports of the machine (tests).
	Machine *nodestatus.Machine
	// Thresholds drive the pressure conditions.
	Thresholds nodestatus.Thresholds

	NodeStatusUpdateFrequency time.Duration // 10s
	NodeStatusReportFrequency time.Duration // 5m
	NodeLeaseDuration         time.Duration // 40s
	// SyncFrequency is how often every pod is synced even when nothing
	// happened (1m).
	SyncFrequency time.Duration
	// RelistPeriod is the PLEG period (1s).
	RelistPeriod time.Duration
	// VolumeStatsAggPeriod is how long a measurement of the pods' volume
	// usage (a walk of their files, for the volume metrics) is served
	// before the next (1m).
	VolumeStatsAggPeriod time.Duration
	// RuntimeCheckPeriod is how often the runtime's readiness is checked (5s).
	RuntimeCheckPeriod time.Duration
	// StatusWorkers write pod statuses concurrently (4).
	StatusWorkers int
	// MaxParallelSandboxes bounds the sandboxes created at once (0: no
	// bound). The runtime's throughput does not grow with more (it is
	// CPU-bound), so a bound lets the first pods start sooner.
	MaxParallelSandboxes int

	// Network, if set, is programmed with the node's podCIDR and the other
	// nodes' routes.
	Network *network.Manager
	// ServerAddr and ServerTLS, if set, serve logs and exec there.
	ServerAddr string
	ServerTLS  *tls.Config

	// Sync tunes the pod sync (podsync.DefaultConfig()).
	Sync *podsync.Config
}

// Kubelet runs one node's pods. Create it with New, run it with Run.
type Kubelet struct {
	cfg      Config
	log      *zap.Logger
	clock    clock.Clock
	rt       cri.Runtime
	client   *client.Client
	observer *kuberuntime.Observer
	prober   *prober.Manager
	hooks    *lifecycle.Runner
	volumes  *volume.Manager
	tokens   *token.Manager
	pleg     *pleg.PLEG
	status   *statusManager
	reporter *nodestatus.Reporter
	factory  *informer.Factory
	pods     *informer.Informer[*corev1.Pod]
	podsReg  informer.Registration
	nodes    *informer.Informer[*corev1.Node]
	// cms and secrets watch, by name, the ConfigMaps and Secrets the
	// node's pods reference (set by Run; updated in dispatch).
	cms      *objectwatch.Watcher[*corev1.ConfigMap]
	secrets  *objectwatch.Watcher[*corev1.Secret]
	services *informer.Informer[*corev1.Service]
	// attachments watches the VolumeAttachments labelled for the node
	// (its CSI volumes wait for them).
	attachments *informer.Informer[*storagev1.VolumeAttachment]
	sync        podsync.Config
	machine     nodestatus.Machine
	capacity    map[string]resource.Quantity
	hostIP      string
	hostname    string
	netWake     chan struct{}
	// sandboxSlots bounds concurrent RunPodSandbox calls (nil: unbounded).
	sandboxSlots chan struct{}

	// localPath removes the directories of the node's deleted local-path
	// volumes.
	localPath *localpath.Cleaner
	// csiPlugins are the CSI node plugins registered with the kubelet.
	csiPlugins *csiplugin.Plugins

	runtimeVersion atomic.Value // string, "containerd://1.6.20"
	runtimeReady   atomic.Bool
	runtimeMsg     atomic.Value // string
	started        atomic.Bool  // pod machinery running
	diskSwept      atomic.Bool

	// statsMu guards the volume usage last measured (volumeStats).
	statsMu sync.Mutex
	stats   []volume.Stats
	statsAt time.Time

	ctx      context.Context
	mu       sync.Mutex
	workers  map[string]*podWorker
	finished map[string]time.Time
	wg       sync.WaitGroup
}

// New checks cfg, fills in the defaults and builds a Kubelet.
func New(cfg Config) (*Kubelet, error) {
	if cfg.NodeName == "" || cfg.Client == nil || cfg.Runtime == nil {
		return nil, errors.New("kubelet: NodeName, Client and Runtime are required")
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.RootDir == "" {
		cfg.RootDir = "/var/lib/keel/kubelet"
	}
	if cfg.PodLogDir == "" {
		cfg.PodLogDir = "/var/log/pods"
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.MaxPods <= 0 {
		cfg.MaxPods = 110
	}
	if cfg.Port == 0 {
		cfg.Port = 10250
	}
	if cfg.SyncFrequency <= 0 {
		cfg.SyncFrequency = time.Minute
	}
	if cfg.RelistPeriod <= 0 {
		cfg.RelistPeriod = time.Second
	}
	if cfg.VolumeStatsAggPeriod <= 0 {
		cfg.VolumeStatsAggPeriod = time.Minute
	}
	if cfg.RuntimeCheckPeriod <= 0 {
		cfg.RuntimeCheckPeriod = 5 * time.Second
	}
	if cfg.StatusWorkers <= 0 {
		cfg.StatusWorkers = 4
	}
	if cfg.Thresholds == (nodestatus.Thresholds{}) {
		cfg.Thresholds = nodestatus.DefaultThresholds()
	}
	k := &Kubelet{
		cfg:      cfg,
		log:      cfg.Log.With(zap.String("node", cfg.NodeName)),
		clock:    cfg.Clock,
		rt:       metrics.Instrument(cfg.Runtime),
		client:   cfg.Client,
		workers:  map[string]*podWorker{},
		finished: map[string]time.Time{},
		netWake:  make(chan struct{}, 1),
		hostIP:   cfg.NodeIP,
		hostname: cfg.Hostname,
	}
	if cfg.MaxParallelSandboxes > 0 {
		k.sandboxSlots = make(chan struct{}, cfg.MaxParallelSandboxes)
	}
	k.sync = podsync.DefaultConfig()
	if cfg.Sync != nil {
		k.sync = *cfg.Sync
	}
	k.runtimeVersion.Store("")
	k.runtimeMsg.Store("container runtime status not checked yet")
	if k.hostIP == "" {
		ip, err := nodestatus.DefaultRouteIP()
		if err != nil {
			return nil, fmt.Errorf("kubelet: node IP: %w", err)
		}
		k.hostIP = ip
	}
	if k.hostname == "" {
		k.hostname = cfg.NodeName
	}
	if cfg.Machine != nil {
		k.machine = *cfg.Machine
	} else {
		m, err := nodestatus.ReadMachine(cfg.RootDir)
		if err != nil {
			return nil, fmt.Errorf("kubelet: reading the machine: %w", err)
		}
		k.machine = m
	}
	k.capacity = nodestatus.Capacity(k.machine, cfg.MaxPods)
	k.observer = kuberuntime.NewObserver(k.rt)
	k.prober = prober.NewManager(&prober.Prober{Runtime: k.rt}, k.clock, k.log.Named("prober"))
	k.hooks = &lifecycle.Runner{Runtime: k.rt, Clock: k.clock}
	k.tokens = token.NewManager(token.ClientRequester(k.client, readTimeout), k.clock, k.log.Named("tokens"))
	k.volumes = volume.NewManager(cfg.RootDir, sources{k}, k.log.Named("volumes"))
	k.csiPlugins = csiplugin.NewPlugins()
	k.volumes.CSI = csiHost{k}
	k.pleg = pleg.New(k.rt, cfg.RelistPeriod, k.clock, plegHandler{k}, k.log.Named("pleg"))
	k.status = newStatusManager(k)

	k.factory = informer.NewFactory(cfg.Client, 0, informer.WithLogger(k.log.Named("informer")))
	k.pods = informer.ForScope[*corev1.Pod](k.factory, informer.Scope{FieldSelector: "spec.nodeName=" + cfg.NodeName})
	if err := k.pods.AddIndexers(informer.Indexers[*corev1.Pod]{uidIndex: func(p *corev1.Pod) []string {
		return []string{p.GetMetadata().GetUid()}
	}}); err != nil {
		return nil, err
	}
	k.nodes = informer.For[*corev1.Node](k.factory)
	k.services = informer.For[*corev1.Service](k.factory)
	k.attachments = informer.ForScope[*storagev1.VolumeAttachment](k.factory, informer.Scope{LabelSelector: api.LabelAttachmentNode + "=" + cfg.NodeName})
	k.localPath = localpath.New(k.factory, client.For[*corev1.PersistentVolume](cfg.Client, ""), cfg.NodeName, k.log)

	labels := map[string]string{
		api.LabelHostname: cfg.NodeName,
		api.LabelOS:       k.machine.OperatingSystem,
		api.LabelArch:     k.machine.Architecture,
	}
	for key, v := range cfg.NodeLabels {
		labels[key] = v
	}
	k.reporter = &nodestatus.Reporter{
		Client:          cfg.Client,
		Node:            cfg.NodeName,
		Labels:          labels,
		PodCIDR:         cfg.PodCIDR,
		Status:          k.nodeStatus,
		UpdateFrequency: cfg.NodeStatusUpdateFrequency,
		ReportFrequency: cfg.NodeStatusReportFrequency,
		LeaseDuration:   cfg.NodeLeaseDuration,
		Clock:           k.clock,
		Log:             cfg.Log.Named("node"),
		OnRegistered:    func(*corev1.Node) { k.wakeNetwork() },
	}
	return k, nil
}

// Runtime returns the (instrumented) runtime the kubelet uses.
func (k *Kubelet) Runtime() cri.Runtime { return k.rt }

// HostIP returns the node's InternalIP.
func (k *Kubelet) HostIP() string { return k.hostIP }

// nodeStatus computes the node's status (the Reporter's Status func).
func (k *Kubelet) nodeStatus(prev *corev1.NodeStatus) *corev1.NodeStatus {
	in := nodestatus.Input{
		Capacity:       k.capacity,
		Reserved:       k.cfg.Reserved,
		InternalIP:     k.hostIP,
		Hostname:       k.hostname,
		Port:           k.cfg.Port,
		Machine:        k.machine,
		RuntimeVersion: k.runtimeVersion.Load().(string),
		KubeletVersion: Version,
		RuntimeReady:   k.runtimeReady.Load(),
		RuntimeMessage: k.runtimeMsg.Load().(string),
		Thresholds:     k.cfg.Thresholds,
		Previous:       prev,
		Now:            k.clock.Now(),
	}
	if k.cfg.Machine == nil {
		if u, err := nodestatus.ReadUsage(k.cfg.RootDir); err == nil {
			in.Usage = &u
		}
	}
	return nodestatus.Compute(in)
}

// Ready tells whether the kubelet is serving its node: registered, its
// pods listed and the runtime answering.
func (k *Kubelet) Ready() error {
	if k.reporter.Registered() == nil {
		return errors.New("the node is not registered yet")
	}
	if !k.started.Load() {
		return errors.New("the pods of the node are not listed yet, or the runtime never answered")
	}
	if ok, err := k.pleg.Healthy(3 * time.Minute); !ok {
		return fmt.Errorf("the container runtime has not been relisted for 3 minutes: %v", err)
	}
	return nil
}

// Run runs the kubelet until ctx ends, then waits for its goroutines.
func (k *Kubelet) Run(ctx context.Context) error {
	k.ctx = ctx
	var bg sync.WaitGroup
	goBG := func(f func()) {
		bg.Add(1)
		go func() { defer bg.Done(); f() }()
	}
	defer bg.Wait()
	defer k.prober.Stop()

	k.nodes.AddEventHandler(informer.HandlerFuncs[*corev1.Node]{
		AddFunc:    func(*corev1.Node) { k.wakeNetwork() },
		UpdateFunc: func(o, n *corev1.Node) { k.nodeUpdated(o, n) },
		DeleteFunc: func(*corev1.Node) { k.wakeNetwork() },
	})
	// An attachment turning attached lets pods waiting for it start.
	k.attachments.AddEventHandler(informer.HandlerFuncs[*storagev1.VolumeAttachment]{
		AddFunc:    func(*storagev1.VolumeAttachment) { k.wakeAll() },
		UpdateFunc: func(_, _ *storagev1.VolumeAttachment) { k.wakeAll() },
	})
	k.cms = objectwatch.New(ctx, func(ns string) informer.ListerWatcher[*corev1.ConfigMap] { return k.client.ConfigMaps(ns) },
		func(ns, name string) { k.wakeReferencing(ns, name, false) }, k.log.Named("configmaps"))
	k.secrets = objectwatch.New(ctx, func(ns string) informer.ListerWatcher[*corev1.Secret] { return k.client.Secrets(ns) },
		func(ns, name string) { k.wakeReferencing(ns, name, true) }, k.log.Named("secrets"))
	k.factory.Start(ctx)
	defer k.factory.Shutdown()

	goBG(func() { k.reporter.Run(ctx) })
	goBG(func() { k.runtimeLoop(ctx) })
	goBG(func() { k.networkLoop(ctx) })
	goBG(func() { k.localPath.Run(ctx) })
	goBG(func() {
		w := &csiplugin.Watcher{Dir: csiplugin.RegistryDir(k.cfg.RootDir), Plugins: k.csiPlugins,
			NodeInfo: csiplugin.NodeInfo{Client: k.client, NodeName: k.cfg.NodeName}, Log: k.log.Named("csi"), Clock: k.clock}
		w.Run(ctx)
	})
	if k.cfg.ServerAddr != "" {
		collector := &stats.Collector{NodeName: k.cfg.NodeName, Runtime: k.rt, Host: stats.Host{}.Read, Volumes: k.measuredVolumes,
			OnError: func(what string, err error) { k.log.Debug("stats: reading "+what, zap.Error(err)) }}
		goBG(func() { collector.Run(ctx, statsPeriod) })
		srv := server.NewServer(server.Config{Addr: k.cfg.ServerAddr, TLS: k.cfg.ServerTLS, Pods: lookup{k}, Runtime: k.rt, Stats: collector, Log: k.log})
		goBG(func() {
			if err := srv.ListenAndServe(ctx); err != nil && ctx.Err() == nil {
				k.log.Error("the kubelet server stopped", zap.Error(err))
			}
		})
	}

	// Pods are handled once the runtime has answered: their container IDs
	// are shown as <runtime>://<id>.
	if err := k.waitRuntime(ctx); err != nil {
		return nil
	}
	select {
	case <-ctx.Done():
		return nil
	case <-k.pods.Synced():
	}
	k.podsReg = k.pods.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
		AddFunc:    func(p *corev1.Pod) { k.dispatch(p, false) },
		UpdateFunc: func(_, p *corev1.Pod) { k.dispatch(p, false) },
		DeleteFunc: func(p *corev1.Pod) { k.dispatch(p, true) },
	})
	goBG(func() { k.status.run(ctx) })
	goBG(func() {
		for u := range k.prober.Updates() {
			k.wake(u.PodUID)
		}
	})
	goBG(func() { k.pleg.Run(ctx) })
	defer metrics.AddVolumeStats(k.volumeStats)()
	k.started.Store(true)
	k.log.Info("kubelet running", zap.String("nodeIP", k.hostIP), zap.String("runtime", k.runtimeVersion.Load().(string)))
	<-ctx.Done()
	k.wg.Wait()
	return nil
}

// volumeStats returns the usage of the volumes of the node's pods,
// measured again when the last measurement is VolumeStatsAggPeriod old.
func (k *Kubelet) volumeStats() []volume.Stats {
	k.statsMu.Lock()
	defer k.statsMu.Unlock()
	if !k.statsAt.IsZero() && k.clock.Since(k.statsAt) < k.cfg.VolumeStatsAggPeriod {
		return k.stats
	}
	var out []volume.Stats
	for _, pod := range k.pods.Store().List() {
		out = append(out, k.volumes.Stats(pod)...)
	}
	k.stats, k.statsAt = out, k.clock.Now()
	return out
}

// statsPeriod is how often the kubelet samples its node's and
// containers' usage, so that the Stats call has CPU rates over at most
// about this window (Kubernetes' housekeeping interval is 10s too).
const statsPeriod = 10 * time.Second

// measuredVolumes is volumeStats and when it was measured.
func (k *Kubelet) measuredVolumes() ([]volume.Stats, time.Time) {
	s := k.volumeStats()
	k.statsMu.Lock()
	defer k.statsMu.Unlock()
	return s, k.statsAt
}

// waitRuntime polls Version until the runtime answers.
func (k *Kubelet) waitRuntime(ctx context.Context) error {
	delay := 100 * time.Millisecond
	for {
		vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		v, err := k.rt.Version(vctx)
		cancel()
		if err == nil {
			k.runtimeVersion.Store(v.GetRuntimeName() + "://" + v.GetRuntimeVersion())
			if k.sync.RuntimeName == "" {
				k.sync.RuntimeName = v.GetRuntimeName()
			}
			k.reporter.Trigger()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		k.log.Warn("the container runtime does not answer; retrying", zap.Error(err))
		t := k.clock.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C():
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// runtimeLoop checks the runtime's readiness (CRI Status: RuntimeReady and
// NetworkReady) and the PLEG's health, and has the node status posted at
// once when readiness changes.
func (k *Kubelet) runtimeLoop(ctx context.Context) {
	for {
		ready, msg := k.checkRuntime(ctx)
		old := k.runtimeReady.Swap(ready)
		oldMsg := k.runtimeMsg.Swap(msg)
		if old != ready || oldMsg != msg {
			if ready {
				k.log.Info("the container runtime is ready")
			} else {
				k.log.Warn("the container runtime is not ready", zap.String("reason", msg))
			}
			k.reporter.Trigger()
		}
		t := k.clock.NewTimer(k.cfg.RuntimeCheckPeriod)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

func (k *Kubelet) checkRuntime(ctx context.Context) (bool, string) {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := k.rt.Status(sctx, false)
	if err != nil {
		return false, "container runtime is down: " + err.Error()
	}
	var problems []string
	for _, c := range st.GetStatus().GetConditions() {
		if (c.GetType() == runtimeapi.RuntimeReady || c.GetType() == runtimeapi.NetworkReady) && !c.GetStatus() {
			problems = append(problems, fmt.Sprintf("%s=false reason:%s message:%s", c.GetType(), c.GetReason(), c.GetMessage()))
		}
	}
	if len(problems) > 0 {
		return false, "container runtime is not ready: " + strings.Join(problems, "; ")
	}
	if k.started.Load() {
		if ok, err := k.pleg.Healthy(3 * time.Minute); !ok {
			return false, fmt.Sprintf("PLEG is not healthy: %v", err)
		}
	}
	return true, ""
}

// dispatch hands a pod (from the informer) to its worker, starting one.
func (k *Kubelet) dispatch(pod *corev1.Pod, deleted bool) {
	uid := pod.GetMetadata().GetUid()
	k.watchReferenced(pod, deleted)
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, done := k.finished[uid]; done {
		return
	}
	w := k.workers[uid]
	if w == nil {
		if k.ctx.Err() != nil {
			return
		}
		w = k.startWorkerLocked(uid)
	}
	w.update(pod, deleted)
}

func (k *Kubelet) startWorkerLocked(uid string) *podWorker {
	w := newPodWorker(k, uid)
	k.workers[uid] = w
	metrics.RunningPods.Inc()
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		w.run(k.ctx)
	}()
	return w
}

// workerDone forgets a worker whose pod is gone.
func (k *Kubelet) workerDone(uid string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.workers, uid)
	metrics.RunningPods.Dec()
	now := k.clock.Now()
	k.finished[uid] = now
	for id, t := range k.finished {
		if now.Sub(t) > 10*time.Minute {
			delete(k.finished, id)
		}
	}
}

// wakeAll makes every pod worker sync now.
func (k *Kubelet) wakeAll() {
	k.mu.Lock()
	ws := make([]*podWorker, 0, len(k.workers))
	for _, w := range k.workers {
		ws = append(ws, w)
	}
	k.mu.Unlock()
	for _, w := range ws {
		w.wake()
	}
}

// wake makes a pod's worker sync now.
func (k *Kubelet) wake(uid string) {
	k.mu.Lock()
	w := k.workers[uid]
	k.mu.Unlock()
	if w != nil {
		w.wake()
	}
}

// adopt starts a worker for a pod uid the runtime (or the disk) holds
// something for and that has none: the pod if the informer knows it,
// else an orphan to remove.
func (k *Kubelet) adopt(uid string) {
	if k.podsReg == nil || !k.podsReg.HasSynced() {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.workers[uid] != nil || k.ctx.Err() != nil {
		return
	}
	if t, ok := k.finished[uid]; ok && k.clock.Since(t) < time.Minute {
		return // its last relist may predate its cleanup
	}
	delete(k.finished, uid)
	pods, err := k.pods.Store().ByIndex(uidIndex, uid)
	if err != nil {
		// Not knowing is not "gone": removing the pod's remains on a
		// lookup error would kill a pod the API still has.
		k.log.Error("looking up a pod by uid", zap.String("podUID", uid), zap.Error(err))
		return
	}
	if len(pods) > 0 {
		k.startWorkerLocked(uid).update(pods[0], false)
		return
	}
	k.log.Info("removing the remains of a pod the API no longer has", zap.String("podUID", uid))
	k.startWorkerLocked(uid).update(nil, true)
}

type plegHandler struct{ k *Kubelet }

func (h plegHandler) PodChanged(uid string) {
	h.k.mu.Lock()
	w := h.k.workers[uid]
	h.k.mu.Unlock()
	if w != nil {
		w.wake()
		return
	}
	h.k.adopt(uid)
}

func (h plegHandler) Relisted(uids map[string]bool) {
	k := h.k
	for uid := range uids {
		k.mu.Lock()
		has := k.workers[uid] != nil
		k.mu.Unlock()
		if !has {
			k.adopt(uid)
		}
	}
	// Once, after the first relist: volumes of pods that are gone.
	if k.podsReg != nil && k.podsReg.HasSynced() && !k.diskSwept.Swap(true) {
		onDisk, err := k.volumes.PodsOnDisk()
		if err != nil {
			k.log.Warn("listing pod directories", zap.Error(err))
		}
		for _, uid := range onDisk {
			if !uids[uid] {
				k.adopt(uid)
			}
		}
	}
}

// watchReferenced keeps watching the Secrets and ConfigMaps pod
// references while it exists.
func (k *Kubelet) watchReferenced(pod *corev1.Pod, deleted bool) {
	uid := pod.GetMetadata().GetUid()
	if deleted {
		k.secrets.RemovePod(uid)
		k.cms.RemovePod(uid)
		return
	}
	var secrets, cms []string
	node.PodRefs(pod, func(resource, name string) {
		switch resource {
		case "secrets":
			secrets = append(secrets, name)
		case "configmaps":
			cms = append(cms, name)
		}
	})
	ns := pod.GetMetadata().GetNamespace()
	k.secrets.SetPod(uid, ns, secrets)
	k.cms.SetPod(uid, ns, cms)
}

// wakeReferencing wakes the workers of pods of namespace ns that mount the
// named configMap (or secret), directly or projected, so their volumes are
// refreshed.
func (k *Kubelet) wakeReferencing(ns, name string, secret bool) {
	k.mu.Lock()
	var ws []*podWorker
	for _, w := range k.workers {
		ws = append(ws, w)
	}
	k.mu.Unlock()
	refers := func(v *corev1.Volume) bool {
		if secret && v.GetSecret().GetSecretName() == name || !secret && v.GetConfigMap().GetName() == name {
			return true
		}
		for _, s := range v.GetProjected().GetSources() {
			if secret && s.GetSecret().GetName() == name || !secret && s.GetConfigMap().GetName() == name {
				return true
			}
		}
		return false
	}
	for _, w := range ws {
		pod, _ := w.snapshot()
		if pod.GetMetadata().GetNamespace() != ns {
			continue
		}
		for _, v := range pod.GetSpec().GetVolumes() {
			if refers(v) {
				w.wake()
				break
			}
		}
	}
}
