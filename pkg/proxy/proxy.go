// Package proxy is the core of keel-proxy: it keeps one node's iptables
// rules at the cluster's Services and their EndpointSlices, and is the
// source its node-local DNS server answers from.
//
// One goroutine (Run) owns the rules: informer events only signal it; it
// renders the whole rule set from the informer stores with the pure
// iptables.Render and applies it in one iptables-restore, at most once per
// MinSyncPeriod, and again every SyncPeriod to repair rules changed behind
// its back.
package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/proxy/iptables"
)

// Config configures a Proxier.
type Config struct {
	// Rules is passed to iptables.Render.
	Rules iptables.Config
	// NodeName is this node's name: endpoints on it are local, for the
	// Services whose traffic policies are Local ("": none is).
	NodeName string
	// MinSyncPeriod is the least time between two applications of the
	// rules; changes in between are batched (default 1s).
	MinSyncPeriod time.Duration
	// SyncPeriod is how often the rules are applied even without a
	// change (default 30s).
	SyncPeriod time.Duration
	// Registerer gets the proxy's metrics (nil: not registered).
	Registerer prometheus.Registerer
	Logger     *zap.Logger
}

// Proxier programs a node's Service rules. Create it with New, start the
// factory, then Run. Its Service and EndpointSlices methods are safe for
// concurrent use (they read the informer stores).
type Proxier struct {
	cfg      Config
	log      *zap.Logger
	exec     iptables.Executor
	services *informer.Informer[*corev1.Service]
	slices   *informer.Informer[*discoveryv1.EndpointSlice]
	changed  chan struct{} // capacity 1: a sync is wanted

	mu       sync.Mutex
	lastSync time.Time // of the last successful sync; zero before the first

	syncs    *prometheus.CounterVec
	duration prometheus.Histogram
	ports    prometheus.Gauge
}

// New creates a Proxier applying rules through exec, watching Services and
// EndpointSlices through f.
func New(f *informer.Factory, exec iptables.Executor, cfg Config) *Proxier {
	if cfg.MinSyncPeriod <= 0 {
		cfg.MinSyncPeriod = time.Second
	}
	if cfg.SyncPeriod <= 0 {
		cfg.SyncPeriod = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	p := &Proxier{
		cfg:      cfg,
		log:      cfg.Logger.Named("proxy"),
		exec:     exec,
		services: f.Services(),
		slices:   f.EndpointSlices(),
		changed:  make(chan struct{}, 1),
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keel_proxy_syncs_total",
			Help: "Applications of the Service rules, by result (applied, unchanged, error)."}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "keel_proxy_sync_duration_seconds",
			Help: "Time to render and apply the Service rules.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}),
		ports: prometheus.NewGauge(prometheus.GaugeOpts{Name: "keel_proxy_service_ports",
			Help: "Service ports in the rules last applied."}),
	}
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(p.syncs, p.duration, p.ports)
	}
	signal := func() {
		select {
		case p.changed <- struct{}{}:
		default:
		}
	}
	p.services.AddEventHandler(informer.HandlerFuncs[*corev1.Service]{
		AddFunc: func(*corev1.Service) { signal() }, UpdateFunc: func(_, _ *corev1.Service) { signal() }, DeleteFunc: func(*corev1.Service) { signal() }})
	p.slices.AddEventHandler(informer.HandlerFuncs[*discoveryv1.EndpointSlice]{
		AddFunc: func(*discoveryv1.EndpointSlice) { signal() }, UpdateFunc: func(_, _ *discoveryv1.EndpointSlice) { signal() },
		DeleteFunc: func(*discoveryv1.EndpointSlice) { signal() }})
	return p
}

// Service returns the Service namespace/name from the cache.
func (p *Proxier) Service(namespace, name string) (*corev1.Service, bool) {
	return p.services.Store().GetByName(namespace, name)
}

// EndpointSlices returns the EndpointSlices of the Service namespace/name
// from the cache (by their kubernetes.io/service-name label).
func (p *Proxier) EndpointSlices(namespace, name string) []*discoveryv1.EndpointSlice {
	s, _ := p.slices.Store().ByIndex(informer.ServiceIndex, informer.Key(namespace, name)) // the index exists
	return s
}

// WaitForSync waits until the Service and EndpointSlice caches have
// listed, or ctx ends (false).
func (p *Proxier) WaitForSync(ctx context.Context) bool {
	return informer.WaitForCacheSync(ctx, p.services.HasSynced, p.slices.HasSynced)
}

// Ready fails until the rules have been applied once since start, and
// when no sync has succeeded for two SyncPeriods (the rules may be stale).
func (p *Proxier) Ready(context.Context) error {
	p.mu.Lock()
	last := p.lastSync
	p.mu.Unlock()
	switch {
	case last.IsZero():
		return errors.New("the Service rules have not been applied yet")
	case time.Since(last) > 2*p.cfg.SyncPeriod:
		return fmt.Errorf("the Service rules were last applied %s ago", time.Since(last).Round(time.Second))
	}
	return nil
}

// Run applies the rules once the informers have synced, then on every
// change (at most once per MinSyncPeriod) and every SyncPeriod, until ctx
// ends. The first sync and the periodic ones restore the whole rule set;
// those in between only what changed (see iptables.Executor). A failed
// sync is retried after MinSyncPeriod, in full.
func (p *Proxier) Run(ctx context.Context) {
	if !p.WaitForSync(ctx) {
		return
	}
	var last []byte // the payload last applied
	periodic := time.NewTicker(p.cfg.SyncPeriod)
	defer periodic.Stop()
	full, retry := true, false
	for {
		payload, n := p.render()
		if full || retry || !bytes.Equal(payload, last) {
			if err := p.apply(payload, n, full || retry); err != nil {
				p.log.Error("applying the Service rules", zap.Error(err))
				retry = true
			} else {
				last, retry = payload, false
			}
		} else {
			p.syncs.WithLabelValues("unchanged").Inc()
		}
		full = false
		// Batch the changes of the next MinSyncPeriod into one sync.
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.cfg.MinSyncPeriod):
		}
		if retry {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-p.changed:
		case <-periodic.C:
			full = true
		}
	}
}

// render builds the payload from the caches, with the number of service
// ports in it.
func (p *Proxier) render() ([]byte, int) {
	var ports []iptables.ServicePort
	for _, svc := range p.services.Store().List() {
		m := svc.GetMetadata()
		ports = append(ports, iptables.ServicePorts(svc, p.EndpointSlices(m.GetNamespace(), m.GetName()), p.cfg.NodeName)...)
	}
	return iptables.Render(p.cfg.Rules, ports), len(ports)
}

func (p *Proxier) apply(payload []byte, ports int, full bool) error {
	start := time.Now()
	err := p.exec.EnsureJumps()
	if err == nil {
		err = p.exec.Restore(payload, full)
	}
	p.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		p.syncs.WithLabelValues("error").Inc()
		return err
	}
	p.syncs.WithLabelValues("applied").Inc()
	p.ports.Set(float64(ports))
	p.mu.Lock()
	p.lastSync = time.Now()
	p.mu.Unlock()
	p.log.Debug("applied the Service rules", zap.Int("servicePorts", ports), zap.Duration("took", time.Since(start)))
	return nil
}

// EnsureSysctls turns on what Service traffic needs of the node's kernel,
// under procSys (normally /proc/sys): IPv4 forwarding, and bridged traffic
// through iptables, without which a pod's reply to another pod on the same
// bridge skips the reverse NAT of a ClusterIP. It loads br_netfilter's
// setting only if the module is present (the file exists).
func EnsureSysctls(procSys string) error {
	var errs []error
	for _, s := range []string{"net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"} {
		path := filepath.Join(procSys, s)
		if cur, err := os.ReadFile(path); err == nil && string(bytes.TrimSpace(cur)) == "1" {
			continue
		} else if errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("%s is missing (load br_netfilter for bridged pod traffic)", path))
			continue
		}
		if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
