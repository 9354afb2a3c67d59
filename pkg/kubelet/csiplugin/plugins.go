// Package csiplugin is the kubelet's side of CSI node plugins: the plugin
// watcher that takes registrations through the kubelet's
// plugins_registry directory (Kubernetes' plugin-registration API,
// k8s.io/kubelet/pkg/apis/pluginregistration/v1), the registry of the
// drivers registered, and the node's CSINode.
//
// Registration, as in Kubernetes: a plugin puts a unix socket serving
// the Registration service in ROOT-DIR/plugins_registry; the watcher
// finds it (Reconcile, polled every second), asks GetInfo (type
// CSIPlugin, the driver's name, its Node service's socket, the CSI
// versions it speaks), calls NodeGetInfo on that socket, writes the
// driver's entry (node id, topology keys, volume limit) into the node's
// CSINode, and tells the plugin NotifyRegistrationStatus. A socket that
// goes away unregisters its driver (its entry leaves the CSINode). A
// failed registration is retried after RetryPeriod.
package csiplugin

import (
	"errors"
	"fmt"
	"sync"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
)

// Plugins holds the CSI node plugins registered with the kubelet, by
// driver name. Safe for concurrent use.
type Plugins struct {
	mu      sync.Mutex
	drivers map[string]*plugin
}

type plugin struct {
	endpoint string
	conn     *grpc.ClientConn // nil for fakes
	node     csipb.NodeClient
}

// NewPlugins returns an empty registry.
func NewPlugins() *Plugins { return &Plugins{drivers: map[string]*plugin{}} }

// ErrNotRegistered is NodeClient's error for a driver no plugin
// registered on this node.
var ErrNotRegistered = errors.New("driver not found in the list of registered CSI drivers")

// NodeClient returns the Node service of a registered driver.
func (p *Plugins) NodeClient(driver string) (csipb.NodeClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pl := p.drivers[driver]
	if pl == nil {
		return nil, fmt.Errorf("driver name %s: %w", driver, ErrNotRegistered)
	}
	return pl.node, nil
}

// Add registers driver with its Node service at endpoint (conn may be nil,
// for tests), replacing (and closing) an earlier registration.
func (p *Plugins) Add(driver, endpoint string, conn *grpc.ClientConn, node csipb.NodeClient) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.drivers[driver]; old != nil && old.conn != nil && old.conn != conn {
		old.conn.Close()
	}
	p.drivers[driver] = &plugin{endpoint: endpoint, conn: conn, node: node}
}

// Remove forgets driver and closes its connection.
func (p *Plugins) Remove(driver string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.drivers[driver]; old != nil && old.conn != nil {
		old.conn.Close()
	}
	delete(p.drivers, driver)
}

// Names returns the registered drivers.
func (p *Plugins) Names() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for n := range p.drivers {
		out = append(out, n)
	}
	return out
}

// Close closes every connection.
func (p *Plugins) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for n, pl := range p.drivers {
		if pl.conn != nil {
			pl.conn.Close()
		}
		delete(p.drivers, n)
	}
}
