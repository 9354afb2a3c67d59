// Package app is keel-kubelet, which runs a node's pods through containerd
// (CRI) or, with --runtime=fake, simulates one or many hollow nodes: its
// flags and config file (NewCommand; see README.md) and the wiring from them
// to a running kubelet.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/api/resource"

	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/daemon"
	"keel.dev/keel/pkg/kubelet"
	"keel.dev/keel/pkg/kubelet/certificate"
	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/kubelet/hollow"
	"keel.dev/keel/pkg/kubelet/network"
	"keel.dev/keel/pkg/kubelet/nodestatus"
	"keel.dev/keel/pkg/pki"
)

type options struct {

	// API access.
	kubeconfig     string
	contextName    string
	servers        []string
	insecure       bool
	pkiDir         string
	caFile         string
	clientCertFile string
	clientKeyFile  string

	// Joining with a bootstrap identity.
	bootstrapKubeconfig string
	token               string
	caCertHash          string
	certDir             string

	// The node.
	nodeName       string
	nodeIP         string
	nodeLabels     []string
	maxPods        int
	systemReserved string
	kubeReserved   string
	podCIDR        string
	clusterCIDR    string
	clusterDNS     []string
	clusterDomain  string
	evictionHard   string

	// The kubelet's own server and endpoints.
	address        string
	port           int
	tlsCertFile    string
	tlsKeyFile     string
	clientCAFile   string
	healthzAddress string

	// Runtime.
	runtime               string
	runtimeEndpoint       string
	runtimeRequestTimeout time.Duration
	maxParallelSandboxes  int
	rootDir               string
	podLogDir             string
	cgroupRoot            string

	// Network.
	configureCNI   bool
	masquerade     bool
	hostGWRoutes   bool
	cniConfDir     string
	cniBridge      string
	cniNetworkName string
	cniIPAMDataDir string
	cniMTU         int

	// Timing.
	nodeStatusUpdateFrequency time.Duration
	nodeStatusReportFrequency time.Duration
	nodeLeaseDuration         time.Duration
	syncFrequency             time.Duration
	volumeStatsAggPeriod      time.Duration
	plegRelistPeriod          time.Duration

	// Hollow nodes.
	hollowNodes   int
	hollowPrefix  string
	hollowWorkers int
	fakeCPU       string
	fakeMemory    string

	recordEvents bool
}

// NewCommand is keel-kubelet's root command, with its flags.
func NewCommand() *cobra.Command {
	o := &options{}
	cmd := daemon.Command("keel-kubelet", "Keel's node agent: registers the node and runs its pods through CRI", func(ctx context.Context, log *zap.Logger) error {
		return run(ctx, o, log)
	})
	hostname, _ := os.Hostname()
	f := cmd.Flags()

	f.StringVar(&o.kubeconfig, "kubeconfig", "", "client configuration file (servers, CA, credentials); overrides --server")
	f.StringVar(&o.contextName, "context", "", "context of --kubeconfig to use (default: its current context)")
	f.StringSliceVar(&o.servers, "server", nil, "apiserver addresses host:port (every one of an HA control plane), when no --kubeconfig")
	f.BoolVar(&o.insecure, "insecure", false, "reach --server in plain text (loopback addresses only)")
	f.StringVar(&o.pkiDir, "pki-dir", "/etc/keel/pki", "directory of the cluster CA and the kubelet's certificates (default names for the file flags)")
	f.StringVar(&o.caFile, "ca-file", "", "cluster CA that signs the apiservers' certificates (default PKI-DIR/ca.crt)")
	f.StringVar(&o.clientCertFile, "client-cert-file", "", "client certificate towards the apiserver (default PKI-DIR/kubelet-NODE-client.crt)")
	f.StringVar(&o.clientKeyFile, "client-key-file", "", "key of --client-cert-file (default PKI-DIR/kubelet-NODE-client.key)")
	f.StringVar(&o.bootstrapKubeconfig, "bootstrap-kubeconfig", "", "join the cluster: a kubeconfig (servers, CA, a bootstrap token) with which the kubelet requests its client certificate (a CertificateSigningRequest) when --cert-dir has none, then rotates it; replaces --kubeconfig and the client certificate flags")
	f.StringVar(&o.token, "token", "", "join the cluster with this bootstrap token (ID.SECRET, from keelctl token create) and --server, verifying the apiserver by --ca-cert-hash; like --bootstrap-kubeconfig otherwise")
	f.StringVar(&o.caCertHash, "ca-cert-hash", "", "with --token: sha256:HEX of the cluster CA's public key (SubjectPublicKeyInfo), which the apiserver's TLS handshake must present")
	f.StringVar(&o.caCertHash, "discovery-token-ca-cert-hash", "", "alias of --ca-cert-hash (kubeadm's name)")
	f.StringVar(&o.certDir, "cert-dir", "/var/lib/keel/kubelet/pki", "where a joining kubelet keeps its client certificate and key (kubelet-client-current.pem)")

	f.StringVar(&o.nodeName, "node-name", strings.ToLower(hostname), "the node's name")
	f.StringVar(&o.nodeName, "hostname-override", strings.ToLower(hostname), "alias of --node-name")
	f.StringVar(&o.nodeIP, "node-ip", "", "the node's InternalIP (default: the address of the default route's interface)")
	f.StringSliceVar(&o.nodeLabels, "node-labels", nil, "labels added to the node, key=value")
	f.IntVar(&o.maxPods, "max-pods", 110, "pods the node can run (its pods capacity)")
	f.StringVar(&o.systemReserved, "system-reserved", "", "resources reserved for the system, subtracted from allocatable (cpu=100m,memory=500Mi,ephemeral-storage=1Gi)")
	f.StringVar(&o.kubeReserved, "kube-reserved", "", "resources reserved for Keel's daemons, subtracted from allocatable")
	f.StringVar(&o.podCIDR, "pod-cidr", "", "the node's pod range when its Node has none (it is then set on the Node)")
	f.StringVar(&o.clusterCIDR, "cluster-cidr", "10.244.0.0/16", "range of every node's podCIDR: traffic to it keeps pod source addresses")
	f.StringSliceVar(&o.clusterDNS, "cluster-dns", []string{"10.96.0.10"}, "nameservers of ClusterFirst pods")
	f.StringVar(&o.clusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	f.StringVar(&o.evictionHard, "eviction-hard", "memory.available<100Mi,nodefs.available<10%,pid.available<5%", "thresholds of the MemoryPressure, DiskPressure and PIDPressure conditions")

	f.StringVar(&o.address, "address", "0.0.0.0", "address of the kubelet's logs/exec server")
	f.IntVar(&o.port, "port", 10250, "port of the kubelet's logs/exec server (TLS), advertised in the Node")
	f.StringVar(&o.tlsCertFile, "tls-cert-file", "", "the kubelet's serving certificate (default PKI-DIR/kubelet-NODE-serving.crt); the server is off if missing")
	f.StringVar(&o.tlsKeyFile, "tls-private-key-file", "", "key of --tls-cert-file (default PKI-DIR/kubelet-NODE-serving.key)")
	f.StringVar(&o.clientCAFile, "client-ca-file", "", "CA of the apiserver's client certificate (default PKI-DIR/ca.crt)")
	f.StringVar(&o.healthzAddress, "healthz-address", "127.0.0.1:10248", "listener for /healthz, /readyz and /metrics")

	f.StringVar(&o.runtime, "runtime", "cri", "cri (containerd through --container-runtime-endpoint) or fake (hollow nodes: no containers)")
	f.StringVar(&o.runtimeEndpoint, "container-runtime-endpoint", "unix:///run/containerd/containerd.sock", "CRI socket")
	f.DurationVar(&o.runtimeRequestTimeout, "runtime-request-timeout", 2*time.Minute, "bound of every CRI call but image pulls")
	f.IntVar(&o.maxParallelSandboxes, "max-parallel-sandboxes", 2*runtime.NumCPU(), "pod sandboxes created at once, twice the CPUs by default (0: no bound); the runtime is CPU-bound, so more at once only delays the first pods")
	f.StringVar(&o.rootDir, "root-dir", "/var/lib/keel/kubelet", "pod volumes and state")
	f.StringVar(&o.podLogDir, "pod-log-dir", "/var/log/pods", "containers' log files")
	f.StringVar(&o.cgroupRoot, "cgroup-root", "/keel", "cgroup (cgroupfs driver) under which each pod gets its own; empty: the runtime's default")

	f.BoolVar(&o.configureCNI, "configure-cni", true, "write the CNI config for the node's podCIDR into --cni-conf-dir")
	f.BoolVar(&o.masquerade, "masquerade", true, "masquerade traffic from the podCIDR to destinations outside --cluster-cidr (one iptables rule)")
	f.BoolVar(&o.hostGWRoutes, "host-gw-routes", true, "route the other nodes' podCIDRs through their InternalIP")
	f.StringVar(&o.cniConfDir, "cni-conf-dir", "/etc/cni/net.d", "where containerd reads the CNI config")
	f.StringVar(&o.cniBridge, "cni-bridge", "keel0", "the pods' bridge device")
	f.StringVar(&o.cniNetworkName, "cni-network-name", "keel", "the CNI network's name")
	f.StringVar(&o.cniIPAMDataDir, "cni-ipam-data-dir", "", "host-local IPAM state (default: the plugin's, /var/lib/cni/networks)")
	f.IntVar(&o.cniMTU, "cni-mtu", 0, "MTU of the pods' interfaces (0: the plugin's default)")

	f.DurationVar(&o.nodeStatusUpdateFrequency, "node-status-update-frequency", 10*time.Second, "how often the node status is computed (and posted if changed)")
	f.DurationVar(&o.nodeStatusReportFrequency, "node-status-report-frequency", 5*time.Minute, "how often the node status is posted even when unchanged")
	f.DurationVar(&o.nodeLeaseDuration, "node-lease-duration", 40*time.Second, "the node Lease's duration; it is renewed every quarter of it")
	f.DurationVar(&o.syncFrequency, "sync-frequency", time.Minute, "how often every pod is synced even when nothing happened")
	f.DurationVar(&o.volumeStatsAggPeriod, "volume-stats-agg-period", time.Minute, "how often the pods' volume usage (the volume metrics) is measured")
	f.DurationVar(&o.plegRelistPeriod, "pleg-relist-period", time.Second, "how often the runtime is relisted for container changes")

	f.IntVar(&o.hollowNodes, "hollow-nodes", 0, "with --runtime=fake: run this many hollow nodes named PREFIX-0…PREFIX-(N-1) (0: one, named --node-name); over TLS without --kubeconfig each node authenticates as itself with PKI-DIR/kubelet-PREFIX-i-client.crt and .key")
	f.StringVar(&o.hollowPrefix, "hollow-node-prefix", "hollow-node", "name prefix of --hollow-nodes")
	f.IntVar(&o.hollowWorkers, "hollow-workers", 16, "concurrent pod status writers of the hollow nodes")
	f.StringVar(&o.fakeCPU, "fake-cpu", "32", "CPU capacity of each hollow node")
	f.StringVar(&o.fakeMemory, "fake-memory", "256Gi", "memory capacity of each hollow node")

	f.BoolVar(&o.recordEvents, "record-events", true, "record events about pods (Pulled, Started, Killing, …); never for hollow nodes")
	return cmd
}

func (o *options) pkiPath(explicit, name string) string {
	if explicit != "" {
		return explicit
	}
	return filepath.Join(o.pkiDir, name)
}

// hollowClients connects each of several hollow nodes as itself
// (system:node:NAME, with PKI-DIR/kubelet-NAME-client.crt and .key), over
// TLS with --server; nil (every node uses the kubelet's client) for one
// node, --insecure or --kubeconfig.
func (o *options) hollowClients(names []string) (func(string) *client.Client, error) {
	if o.hollowNodes == 0 || o.insecure || o.kubeconfig != "" {
		return nil, nil
	}
	clients := make(map[string]*client.Client, len(names))
	for _, n := range names {
		tlsCfg, err := pki.ClientTLSConfig(o.pkiPath(o.caFile, pki.CAName+".crt"),
			pki.CertPath(o.pkiDir, pki.KubeletClientName(n)), pki.KeyPath(o.pkiDir, pki.KubeletClientName(n)), "")
		if err != nil {
			return nil, fmt.Errorf("hollow node %s's client TLS (see --pki-dir): %w", n, err)
		}
		if clients[n], err = client.New(client.Options{Servers: o.servers, TLS: tlsCfg, UserAgent: "keel-kubelet/" + n}); err != nil {
			return nil, err
		}
	}
	return func(n string) *client.Client { return clients[n] }, nil
}

// newClient connects to the apiservers.
func (o *options) newClient() (*client.Client, error) {
	ua := "keel-kubelet/" + o.nodeName
	if o.kubeconfig != "" {
		return client.FromConfig(o.kubeconfig, o.contextName, ua)
	}
	if len(o.servers) == 0 {
		return nil, errors.New("no apiserver: set --kubeconfig or --server")
	}
	if o.insecure {
		return client.New(client.Options{Servers: o.servers, Insecure: true, UserAgent: ua})
	}
	tlsCfg, err := pki.ClientTLSConfig(o.pkiPath(o.caFile, pki.CAName+".crt"),
		o.pkiPath(o.clientCertFile, pki.KubeletClientName(o.nodeName)+".crt"),
		o.pkiPath(o.clientKeyFile, pki.KubeletClientName(o.nodeName)+".key"), "")
	if err != nil {
		return nil, fmt.Errorf("client TLS (see --pki-dir, --ca-file, --client-cert-file): %w", err)
	}
	return client.New(client.Options{Servers: o.servers, TLS: tlsCfg, UserAgent: ua})
}

func parseLabels(list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--node-labels: %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

func (o *options) reserved() (map[string]resource.Quantity, error) {
	sys, err := nodestatus.ParseResourceList(o.systemReserved)
	if err != nil {
		return nil, fmt.Errorf("--system-reserved: %w", err)
	}
	kube, err := nodestatus.ParseResourceList(o.kubeReserved)
	if err != nil {
		return nil, fmt.Errorf("--kube-reserved: %w", err)
	}
	for k, q := range kube {
		if s, ok := sys[k]; ok {
			q.Add(s)
		}
		sys[k] = q
	}
	return sys, nil
}

// validate checks what can be checked before anything starts.
func (o *options) validate() error {
	var problems []string
	if o.runtime != "cri" && o.runtime != "fake" {
		problems = append(problems, fmt.Sprintf("--runtime %q: want cri or fake", o.runtime))
	}
	if o.hollowNodes > 0 && o.runtime != "fake" {
		problems = append(problems, "--hollow-nodes needs --runtime=fake")
	}
	if o.hollowNodes < 0 {
		problems = append(problems, "--hollow-nodes must not be negative")
	}
	if o.nodeName == "" {
		problems = append(problems, "--node-name is empty (and the hostname unknown)")
	}
	if o.nodeIP != "" && net.ParseIP(o.nodeIP) == nil {
		problems = append(problems, fmt.Sprintf("--node-ip %q is not an IP address", o.nodeIP))
	}
	for name, c := range map[string]string{"--pod-cidr": o.podCIDR, "--cluster-cidr": o.clusterCIDR} {
		if c != "" {
			if _, _, err := net.ParseCIDR(c); err != nil {
				problems = append(problems, fmt.Sprintf("%s %q: %v", name, c, err))
			}
		}
	}
	for _, d := range o.clusterDNS {
		if net.ParseIP(d) == nil {
			problems = append(problems, fmt.Sprintf("--cluster-dns %q is not an IP address", d))
		}
	}
	if o.port <= 0 || o.port > 65535 {
		problems = append(problems, fmt.Sprintf("--port %d out of range", o.port))
	}
	if o.maxPods <= 0 {
		problems = append(problems, "--max-pods must be positive")
	}
	problems = append(problems, o.validateJoin()...)
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

func run(ctx context.Context, o *options, log *zap.Logger) error {
	if err := o.validate(); err != nil {
		return err
	}
	labels, err := parseLabels(o.nodeLabels)
	if err != nil {
		return err
	}
	reserved, err := o.reserved()
	if err != nil {
		return err
	}
	thresholds, err := nodestatus.ParseThresholds(o.evictionHard)
	if err != nil {
		return fmt.Errorf("--eviction-hard: %w", err)
	}
	var c *client.Client
	if o.joining() {
		var certs *certificate.Manager
		if c, certs, err = o.joinClient(ctx, log); err != nil {
			return err
		}
		go certs.Run(ctx, c)
	} else if c, err = o.newClient(); err != nil {
		return err
	}
	defer c.Close()

	if o.runtime == "fake" {
		return runHollow(ctx, o, c, labels, reserved, log)
	}

	var serverTLS *tls.Config
	certFile := o.pkiPath(o.tlsCertFile, pki.KubeletServingName(o.nodeName)+".crt")
	keyFile := o.pkiPath(o.tlsKeyFile, pki.KubeletServingName(o.nodeName)+".key")
	caFile := o.pkiPath(o.clientCAFile, pki.CAName+".crt")
	if _, err := os.Stat(certFile); err == nil {
		if serverTLS, err = pki.ServerTLSConfig(certFile, keyFile, caFile); err != nil {
			return fmt.Errorf("kubelet server TLS: %w", err)
		}
	} else {
		log.Warn("no serving certificate: logs and exec are not served", zap.String("tls-cert-file", certFile))
	}

	rt, err := dialRuntime(ctx, o, log)
	if err != nil {
		return err
	}
	defer rt.Close()

	var netMgr *network.Manager
	if o.configureCNI {
		netMgr = network.New(network.Config{
			CNIConfDir: o.cniConfDir, BridgeName: o.cniBridge, NetworkName: o.cniNetworkName, IPAMDataDir: o.cniIPAMDataDir,
			MTU: o.cniMTU, ClusterCIDR: o.clusterCIDR, Masquerade: o.masquerade, Routes: o.hostGWRoutes,
		}, nil, log.Named("network"))
	}
	var events record.EventRecorder
	if o.recordEvents {
		rec, err := record.New(record.Config{Sink: record.ClientSink(c), Component: "kubelet", Host: o.nodeName, Logger: log.Named("events")})
		if err != nil {
			return err
		}
		defer rec.Close()
		events = rec
	}
	cfg := kubelet.Config{
		NodeName:                  o.nodeName,
		Client:                    c,
		Runtime:                   rt,
		Log:                       log,
		Events:                    events,
		RootDir:                   o.rootDir,
		PodLogDir:                 o.podLogDir,
		CgroupRoot:                o.cgroupRoot,
		ClusterDNS:                o.clusterDNS,
		ClusterDomain:             o.clusterDomain,
		NodeIP:                    o.nodeIP,
		NodeLabels:                labels,
		MaxPods:                   o.maxPods,
		Reserved:                  reserved,
		PodCIDR:                   o.podCIDR,
		Port:                      int32(o.port),
		Thresholds:                thresholds,
		NodeStatusUpdateFrequency: o.nodeStatusUpdateFrequency,
		NodeStatusReportFrequency: o.nodeStatusReportFrequency,
		NodeLeaseDuration:         o.nodeLeaseDuration,
		SyncFrequency:             o.syncFrequency,
		VolumeStatsAggPeriod:      o.volumeStatsAggPeriod,
		RelistPeriod:              o.plegRelistPeriod,
		Network:                   netMgr,
		MaxParallelSandboxes:      o.maxParallelSandboxes,
	}
	if serverTLS != nil {
		cfg.ServerAddr = net.JoinHostPort(o.address, strconv.Itoa(o.port))
		cfg.ServerTLS = serverTLS
	}
	k, err := kubelet.New(cfg)
	if err != nil {
		return err
	}
	addr, err := daemon.ServeHTTP(ctx, o.healthzAddress,
		[]daemon.Check{{Name: "ping", Func: func(context.Context) error { return nil }}},
		[]daemon.Check{{Name: "kubelet", Func: func(context.Context) error { return k.Ready() }}}, log)
	if err != nil {
		return err
	}
	log.Info("serving health and metrics", zap.String("address", addr))
	return k.Run(ctx)
}

// dialRuntime connects to the CRI runtime, waiting for it to come up.
func dialRuntime(ctx context.Context, o *options, log *zap.Logger) (*cri.Client, error) {
	for {
		rt, err := cri.Dial(ctx, o.runtimeEndpoint, cri.Options{Timeout: o.runtimeRequestTimeout, DialTimeout: 10 * time.Second})
		if err == nil {
			return rt, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		log.Warn("the container runtime does not answer; retrying", zap.String("endpoint", o.runtimeEndpoint), zap.Error(err))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func runHollow(ctx context.Context, o *options, c *client.Client, labels map[string]string, reserved map[string]resource.Quantity, log *zap.Logger) error {
	cpu, err := resource.ParseQuantity(o.fakeCPU)
	if err != nil {
		return fmt.Errorf("--fake-cpu: %w", err)
	}
	mem, err := resource.ParseQuantity(o.fakeMemory)
	if err != nil {
		return fmt.Errorf("--fake-memory: %w", err)
	}
	names := []string{o.nodeName}
	if o.hollowNodes > 0 {
		names = hollow.Names(o.hollowPrefix, o.hollowNodes)
	}
	nodeIP := o.nodeIP
	if nodeIP == "" {
		if nodeIP, err = nodestatus.DefaultRouteIP(); err != nil {
			nodeIP = "127.0.0.1"
		}
	}
	clientFor, err := o.hollowClients(names)
	if err != nil {
		return err
	}
	h, err := hollow.New(hollow.Config{
		Client: c, ClientFor: clientFor, Names: names, CPU: cpu, Memory: mem, MaxPods: o.maxPods, Reserved: reserved,
		NodeIP: nodeIP, Labels: labels, PodCIDR: o.podCIDR, Port: int32(o.port),
		UpdateFrequency: o.nodeStatusUpdateFrequency, ReportFrequency: o.nodeStatusReportFrequency, LeaseDuration: o.nodeLeaseDuration,
		Workers: o.hollowWorkers, KubeletVersion: kubelet.Version, Log: log,
	})
	if err != nil {
		return err
	}
	addr, err := daemon.ServeHTTP(ctx, o.healthzAddress,
		[]daemon.Check{{Name: "ping", Func: func(context.Context) error { return nil }}},
		[]daemon.Check{{Name: "hollow-nodes", Func: func(context.Context) error { return h.Ready() }}}, log)
	if err != nil {
		return err
	}
	log.Info("serving health and metrics", zap.String("address", addr), zap.Int("hollowNodes", len(names)))
	return h.Run(ctx)
}
