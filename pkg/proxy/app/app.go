// Package app is keel-proxy, which runs on every node: it programs iptables
// for the cluster's Services (ClusterIP, NodePort, external IPs) and answers
// cluster DNS on the node. Here are its flags and config file (NewCommand;
// see README.md) and the wiring from them to a running proxy.
package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/daemon"
	"keel.dev/keel/pkg/proxy"
	"keel.dev/keel/pkg/proxy/dns"
	"keel.dev/keel/pkg/proxy/iptables"
)

type options struct {
	client        client.ConfigFlags
	httpAddress   string
	hostname      string
	clusterCIDR   string
	masqueradeBit int
	syncPeriod    time.Duration
	minSyncPeriod time.Duration
	dnsAddress    string
	dnsPort       int
	dnsInterface  string
	clusterDomain string
	resolvConf    string
	cleanup       bool
}

// NewCommand is keel-proxy's root command, with its flags.
func NewCommand() *cobra.Command {
	o := &options{}
	cmd := daemon.Command("keel-proxy", "Keel's node proxy: iptables rules for Services and node-local cluster DNS", func(ctx context.Context, log *zap.Logger) error {
		if err := o.validate(); err != nil {
			return err
		}
		if o.cleanup {
			return cleanup(o)
		}
		return run(ctx, o, log)
	})
	f := cmd.Flags()
	o.client.AddFlags(f)
	f.StringVar(&o.httpAddress, "http-address", "127.0.0.1:10249", "listener for /metrics, /healthz, /readyz and /debug/pprof/")
	hostname, _ := os.Hostname()
	f.StringVar(&o.hostname, "hostname-override", strings.ToLower(hostname), "this node's name, as the kubelet's --node-name: endpoints on it are local for traffic policy Local")
	f.StringVar(&o.clusterCIDR, "cluster-cidr", "10.244.0.0/16", `the pods' IPv4 range: Service traffic from outside it is masqueraded ("": all of it)`)
	f.IntVar(&o.masqueradeBit, "masquerade-bit", 14, "bit of the packet mark (0-31) that marks Service traffic for masquerading")
	f.DurationVar(&o.syncPeriod, "sync-period", 30*time.Second, "how often the rules are rewritten even without a change, repairing any edited by others")
	f.DurationVar(&o.minSyncPeriod, "min-sync-period", time.Second, "least time between two rewrites of the rules; changes in between are batched")
	f.StringVar(&o.dnsAddress, "dns-address", "10.96.0.10", `address of the node-local cluster DNS server, put on --dns-interface; the kubelets' --cluster-dns; "" serves no DNS`)
	f.IntVar(&o.dnsPort, "dns-port", 53, "UDP and TCP port of the DNS server")
	f.StringVar(&o.dnsInterface, "dns-interface", "keel-dns", "dummy network interface created to hold --dns-address")
	f.StringVar(&o.clusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain, as the kubelets' --cluster-domain")
	f.StringVar(&o.resolvConf, "resolv-conf", "/etc/resolv.conf", "resolv.conf whose nameservers answer names outside the cluster domain")
	f.BoolVar(&o.cleanup, "cleanup", false, "remove every rule, chain and interface keel-proxy made, then exit")
	return cmd
}

func (o *options) validate() error {
	var problems []error
	if o.hostname == "" && !o.cleanup {
		problems = append(problems, errors.New("--hostname-override is empty (and the hostname unknown)"))
	}
	if err := (iptables.Config{ClusterCIDR: o.clusterCIDR}).Validate(); err != nil {
		problems = append(problems, fmt.Errorf("--cluster-cidr: %w", err))
	}
	if err := (iptables.Config{MasqueradeBit: o.masqueradeBit}).Validate(); err != nil {
		problems = append(problems, fmt.Errorf("--masquerade-bit: %w", err))
	}
	if o.syncPeriod <= 0 || o.minSyncPeriod <= 0 || o.minSyncPeriod > o.syncPeriod {
		problems = append(problems, errors.New("--sync-period and --min-sync-period must be positive, and --min-sync-period at most --sync-period"))
	}
	if o.dnsAddress != "" {
		if a, err := netip.ParseAddr(o.dnsAddress); err != nil || !a.Is4() {
			problems = append(problems, fmt.Errorf("--dns-address %q is not an IPv4 address", o.dnsAddress))
		}
		if o.dnsPort <= 0 || o.dnsPort > 65535 {
			problems = append(problems, fmt.Errorf("--dns-port %d is not a port", o.dnsPort))
		}
		if o.dnsInterface == "" || len(o.dnsInterface) > 15 {
			problems = append(problems, fmt.Errorf("--dns-interface %q must be 1 to 15 characters", o.dnsInterface))
		}
	}
	return errors.Join(problems...)
}

func cleanup(o *options) error {
	exec, err := iptables.New()
	if err != nil {
		return err
	}
	return errors.Join(exec.Cleanup(), dns.RemoveLocalAddress(o.dnsInterface))
}

func run(ctx context.Context, o *options, log *zap.Logger) error {
	exec, err := iptables.New()
	if err != nil {
		return err
	}
	if err := proxy.EnsureSysctls("/proc/sys"); err != nil {
		log.Warn("Service traffic may not work on this node", zap.Error(err))
	}
	c, err := o.client.Client("keel-proxy")
	if err != nil {
		return err
	}
	defer c.Close()

	factory := informer.NewFactory(c, 0, informer.WithLogger(log))
	p := proxy.New(factory, exec, proxy.Config{
		Rules:         iptables.Config{ClusterCIDR: o.clusterCIDR, MasqueradeBit: o.masqueradeBit},
		NodeName:      o.hostname,
		MinSyncPeriod: o.minSyncPeriod, SyncPeriod: o.syncPeriod,
		Registerer: prometheus.DefaultRegisterer, Logger: log,
	})
	factory.Start(ctx)
	defer factory.Shutdown()

	ready := []daemon.Check{{Name: "rules", Func: p.Ready}}
	var dnsServing atomic.Bool
	if o.dnsAddress != "" {
		ready = append(ready, daemon.Check{Name: "dns", Func: func(context.Context) error {
			if !dnsServing.Load() {
				return errors.New("the DNS server is not serving yet")
			}
			return nil
		}})
	}
	httpAddr, err := daemon.ServeHTTP(ctx, o.httpAddress,
		[]daemon.Check{{Name: "ping", Func: func(context.Context) error { return nil }}}, ready, log)
	if err != nil {
		return err
	}
	log.Info("serving health and metrics", zap.String("address", httpAddr))

	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	if o.dnsAddress != "" {
		if err := serveDNS(ctx, o, p, log); err != nil {
			return err
		}
		dnsServing.Store(true)
	}
	<-done
	return nil
}

// serveDNS puts the DNS address on its interface and, once the caches have
// listed (before, every name would get an NXDOMAIN, which resolvers cache),
// answers on it until ctx ends.
func serveDNS(ctx context.Context, o *options, p *proxy.Proxier, log *zap.Logger) error {
	upstreams, err := dns.Upstreams(o.resolvConf, o.dnsAddress)
	if err != nil {
		log.Warn("no upstream resolvers: names outside the cluster domain get SERVFAIL", zap.Error(err))
	}
	if err := dns.EnsureLocalAddress(o.dnsInterface, o.dnsAddress); err != nil {
		return err
	}
	if !p.WaitForSync(ctx) {
		return nil
	}
	srv := dns.New(dns.Config{Domain: o.clusterDomain, Upstreams: upstreams}, p, log)
	if err := srv.Register(prometheus.DefaultRegisterer); err != nil {
		return err
	}
	addr := net.JoinHostPort(o.dnsAddress, strconv.Itoa(o.dnsPort))
	if err := srv.Serve(ctx, addr); err != nil {
		return err
	}
	log.Info("serving cluster DNS", zap.String("address", addr), zap.String("domain", o.clusterDomain), zap.Strings("upstreams", upstreams))
	return nil
}
