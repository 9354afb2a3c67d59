// Package pleg is the kubelet's pod lifecycle event generator: it relists
// the runtime's sandboxes and containers every period, and tells which pods
// (by uid) changed since the last relist, so that their workers sync. A
// container that exits, a sandbox that dies, a container removed behind
// the kubelet's back: all show up within one period.
package pleg

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/kubelet/kuberuntime"
	"keel.dev/keel/pkg/kubelet/metrics"
)

// Handler receives the relist results. Both are called from the PLEG's
// goroutine, one relist at a time.
type Handler interface {
	// PodChanged is called for every pod uid whose sandboxes or containers
	// changed (appeared, changed state, disappeared) since the last relist.
	PodChanged(uid string)
	// Relisted is called after every successful relist with the uids of
	// every pod the runtime holds something for.
	Relisted(uids map[string]bool)
}

// PLEG relists a runtime. Create it with New; run it with Run.
type PLEG struct {
	rt      cri.Runtime
	period  time.Duration
	clock   clock.Clock
	handler Handler
	log     *zap.Logger

	last map[string]string // uid → signature, owned by Run's goroutine

	mu       sync.Mutex
	lastOK   time.Time
	lastErr  error
	relisted chan struct{} // closed and replaced after each relist
}

// New returns a PLEG relisting rt every period.
func New(rt cri.Runtime, period time.Duration, clk clock.Clock, h Handler, log *zap.Logger) *PLEG {
	if log == nil {
		log = zap.NewNop()
	}
	return &PLEG{rt: rt, period: period, clock: clk, handler: h, log: log, last: map[string]string{}, relisted: make(chan struct{})}
}

// Run relists at once and then every period until ctx ends.
func (p *PLEG) Run(ctx context.Context) {
	for {
		p.Relist(ctx)
		t := p.clock.NewTimer(p.period)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// Healthy reports whether a relist succeeded within threshold, and the
// last error otherwise.
func (p *PLEG) Healthy(threshold time.Duration) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastOK.IsZero() || p.clock.Since(p.lastOK) > threshold {
		return false, p.lastErr
	}
	return true, nil
}

// Relisted returns a channel closed after the next relist completes.
func (p *PLEG) Relisted() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.relisted
}

// Relist lists the runtime once and reports the changes.
func (p *PLEG) Relist(ctx context.Context) {
	start := time.Now()
	sigs, err := p.list(ctx)
	p.mu.Lock()
	if err != nil {
		p.lastErr = err
	} else {
		p.lastOK, p.lastErr = p.clock.Now(), nil
	}
	done := p.relisted
	p.relisted = make(chan struct{})
	p.mu.Unlock()
	defer close(done)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("relisting the runtime failed", zap.Error(err))
		}
		return
	}
	metrics.PLEGRelistDuration.Observe(time.Since(start).Seconds())
	metrics.PLEGLastRelist.SetToCurrentTime()
	var changed []string
	for uid, sig := range sigs {
		if p.last[uid] != sig {
			changed = append(changed, uid)
		}
	}
	for uid := range p.last {
		if _, ok := sigs[uid]; !ok {
			changed = append(changed, uid)
		}
	}
	sort.Strings(changed)
	p.last = sigs
	for _, uid := range changed {
		p.handler.PodChanged(uid)
	}
	uids := make(map[string]bool, len(sigs))
	for uid := range sigs {
		uids[uid] = true
	}
	p.handler.Relisted(uids)
}

// list returns a signature of each pod's sandboxes and containers: their
// IDs and states.
func (p *PLEG) list(ctx context.Context) (map[string]string, error) {
	sbs, err := p.rt.ListPodSandbox(ctx, nil)
	if err != nil {
		return nil, err
	}
	ctrs, err := p.rt.ListContainers(ctx, nil)
	if err != nil {
		return nil, err
	}
	parts := map[string][]string{}
	for _, sb := range sbs {
		uid := sb.GetLabels()[kuberuntime.LabelPodUID]
		if uid == "" {
			continue // not the kubelet's
		}
		parts[uid] = append(parts[uid], "s"+sb.Id+":"+strconv.Itoa(int(sb.State)))
	}
	for _, c := range ctrs {
		uid := c.GetLabels()[kuberuntime.LabelPodUID]
		if uid == "" {
			continue
		}
		parts[uid] = append(parts[uid], "c"+c.Id+":"+strconv.Itoa(int(c.State)))
	}
	out := make(map[string]string, len(parts))
	for uid, ps := range parts {
		sort.Strings(ps)
		out[uid] = strings.Join(ps, ",")
	}
	return out, nil
}
