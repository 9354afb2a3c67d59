package kubelet

import (
	"context"
	"time"

	"go.uber.org/zap"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// netResync is how often the network is checked even without node events
// (someone may have removed a route or the rule).
const netResync = time.Minute

func (k *Kubelet) wakeNetwork() {
	select {
	case k.netWake <- struct{}{}:
	default:
	}
}

// nodeUpdated wakes the network loop when a node's podCIDR or addresses
// changed (not on every heartbeat).
func (k *Kubelet) nodeUpdated(old, cur *corev1.Node) {
	if old.GetSpec().GetPodCidr() != cur.GetSpec().GetPodCidr() || addrsChanged(old, cur) || old == cur {
		k.wakeNetwork()
	}
}

func addrsChanged(a, b *corev1.Node) bool {
	x, y := a.GetStatus().GetAddresses(), b.GetStatus().GetAddresses()
	if len(x) != len(y) {
		return true
	}
	for i := range x {
		if x[i].GetType() != y[i].GetType() || x[i].GetAddress() != y[i].GetAddress() {
			return true
		}
	}
	return false
}

// podCIDR is the node's pod range: its spec's, else --pod-cidr.
func (k *Kubelet) podCIDR() string {
	if n, ok := k.nodes.Store().GetByName("", k.cfg.NodeName); ok && n.GetSpec().GetPodCidr() != "" {
		return n.GetSpec().GetPodCidr()
	}
	if n := k.reporter.Registered(); n != nil && n.GetSpec().GetPodCidr() != "" {
		return n.GetSpec().GetPodCidr()
	}
	return k.cfg.PodCIDR
}

// networkLoop keeps the CNI config (for the podCIDR) and the routes to the
// other nodes in place.
func (k *Kubelet) networkLoop(ctx context.Context) {
	if k.cfg.Network == nil {
		return
	}
	for {
		retry := netResync
		if cidr := k.podCIDR(); cidr != "" {
			if err := k.cfg.Network.SetPodCIDR(cidr); err != nil {
				k.log.Error("configuring the pod network", zap.String("podCIDR", cidr), zap.Error(err))
				retry = 5 * time.Second
			}
		}
		if k.nodes.HasSynced() {
			if err := k.cfg.Network.SyncRoutes(k.nodes.Store().List(), k.cfg.NodeName); err != nil {
				k.log.Warn("programming routes to other nodes", zap.Error(err))
				retry = 5 * time.Second
			}
		} else {
			retry = time.Second
		}
		t := k.clock.NewTimer(retry)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-k.netWake:
			t.Stop()
		case <-t.C():
		}
	}
}
