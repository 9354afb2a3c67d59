package csiplugin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
	"k8s.io/utils/clock"

	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/csi"
)

// RegistryDir is the plugin-registration directory under the kubelet's
// root directory (Kubernetes' layout: ROOT-DIR/plugins_registry).
func RegistryDir(rootDir string) string { return filepath.Join(rootDir, "plugins_registry") }

// NodeInfoWriter keeps the node's CSINode (NodeInfo through the API; a
// fake in tests).
type NodeInfoWriter interface {
	Register(ctx context.Context, d *storagev1.CSINodeDriver) error
	Unregister(ctx context.Context, name string) error
}

// SocketState is what the watcher knows of one registration socket.
type SocketState struct {
	// Driver is the driver the socket registered ("" until GetInfo
	// answered).
	Driver     string
	Registered bool
	// RetryAt is when a failed registration is tried again.
	RetryAt time.Time
}

// Reconcile decides, from the registration sockets found in the
// directory and what is known of them, which sockets to register now
// (new ones, and failed ones due for a retry) and which known sockets
// are gone (their drivers, if registered, are unregistered). Both are
// sorted.
func Reconcile(found []string, known map[string]SocketState, now time.Time) (register, gone []string) {
	present := map[string]bool{}
	for _, s := range found {
		present[s] = true
		st, ok := known[s]
		if !ok || (!st.Registered && !now.Before(st.RetryAt)) {
			register = append(register, s)
		}
	}
	for s := range known {
		if !present[s] {
			gone = append(gone, s)
		}
	}
	sort.Strings(register)
	sort.Strings(gone)
	return register, gone
}

// ValidateInfo checks a plugin's GetInfo answer and returns the driver's
// name and the endpoint of its Node service: type CSIPlugin, a name, a
// unix socket endpoint, and a CSI version 1.x among its supported
// versions.
func ValidateInfo(info *registerapi.PluginInfo) (driver, endpoint string, err error) {
	switch {
	case info.GetType() != registerapi.CSIPlugin:
		return "", "", fmt.Errorf("plugin type %q is not supported (only %s)", info.GetType(), registerapi.CSIPlugin)
	case info.GetName() == "":
		return "", "", errors.New("the plugin has no name")
	case info.GetEndpoint() == "":
		return "", "", fmt.Errorf("plugin %s gives no endpoint", info.GetName())
	}
	if _, err := csi.SocketPath(info.GetEndpoint()); err != nil {
		return "", "", fmt.Errorf("plugin %s: %v", info.GetName(), err)
	}
	for _, v := range info.GetSupportedVersions() {
		if v = strings.TrimPrefix(v, "v"); v == "1" || strings.HasPrefix(v, "1.") {
			return info.GetName(), info.GetEndpoint(), nil
		}
	}
	return "", "", fmt.Errorf("plugin %s supports none of the CSI versions this kubelet speaks (1.x): %v", info.GetName(), info.GetSupportedVersions())
}

// Watcher watches Dir for registration sockets and registers their CSI
// drivers in Plugins and the node's CSINode. Run it once.
type Watcher struct {
	Dir      string
	Plugins  *Plugins
	NodeInfo NodeInfoWriter
	Log      *zap.Logger
	Clock    clock.Clock
	// Period is how often Dir is read (1s); RetryPeriod how long a failed
	// registration waits (10s).
	Period, RetryPeriod time.Duration
	// Dial connects to a unix socket (csi.Dial when nil).
	Dial func(endpoint string) (*grpc.ClientConn, error)

	sockets map[string]SocketState
}

// Run makes Dir (0750) and watches it until ctx ends; then it closes the
// plugins' connections.
func (w *Watcher) Run(ctx context.Context) {
	if w.Log == nil {
		w.Log = zap.NewNop()
	}
	if w.Clock == nil {
		w.Clock = clock.RealClock{}
	}
	if w.Period <= 0 {
		w.Period = time.Second
	}
	if w.RetryPeriod <= 0 {
		w.RetryPeriod = 10 * time.Second
	}
	if w.Dial == nil {
		w.Dial = csi.Dial
	}
	w.sockets = map[string]SocketState{}
	defer w.Plugins.Close()
	if err := os.MkdirAll(w.Dir, 0o750); err != nil {
		w.Log.Error("making the plugin registration directory", zap.String("dir", w.Dir), zap.Error(err))
	}
	for {
		w.once(ctx)
		t := w.Clock.NewTimer(w.Period)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// once reads Dir and acts on Reconcile's decision.
func (w *Watcher) once(ctx context.Context) {
	found, err := Sockets(w.Dir)
	if err != nil {
		w.Log.Warn("reading the plugin registration directory", zap.String("dir", w.Dir), zap.Error(err))
		return
	}
	now := w.Clock.Now()
	register, gone := Reconcile(found, w.sockets, now)
	for _, s := range gone {
		st := w.sockets[s]
		delete(w.sockets, s)
		if st.Registered && !w.driverHasSocket(st.Driver) {
			w.Plugins.Remove(st.Driver)
			if err := w.NodeInfo.Unregister(ctx, st.Driver); err != nil {
				w.Log.Warn("removing a CSI driver from the CSINode", zap.String("driver", st.Driver), zap.Error(err))
			}
			w.Log.Info("CSI driver unregistered: its registration socket is gone", zap.String("driver", st.Driver), zap.String("socket", s))
		}
	}
	for _, s := range register {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		driver, err := w.register(cctx, s)
		cancel()
		st := SocketState{Driver: driver, Registered: err == nil}
		if err != nil {
			st.RetryAt = now.Add(w.RetryPeriod)
			w.Log.Warn("registering a CSI plugin", zap.String("socket", s), zap.String("driver", driver), zap.Error(err))
		} else {
			w.Log.Info("CSI driver registered", zap.String("driver", driver), zap.String("socket", s))
		}
		w.sockets[s] = st
	}
}

// driverHasSocket: another known socket still registers driver.
func (w *Watcher) driverHasSocket(driver string) bool {
	for _, st := range w.sockets {
		if st.Registered && st.Driver == driver {
			return true
		}
	}
	return false
}

// register asks the plugin at sock for its info, registers its driver,
// and tells the plugin the outcome.
func (w *Watcher) register(ctx context.Context, sock string) (string, error) {
	conn, err := w.Dial(sock)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	reg := registerapi.NewRegistrationClient(conn)
	info, err := reg.GetInfo(ctx, &registerapi.InfoRequest{})
	if err != nil {
		return "", fmt.Errorf("GetInfo: %w", err)
	}
	driver, endpoint, err := ValidateInfo(info)
	if err == nil {
		err = w.registerDriver(ctx, driver, endpoint)
	}
	status := &registerapi.RegistrationStatus{PluginRegistered: err == nil}
	if err != nil {
		status.Error = err.Error()
	}
	if _, nerr := reg.NotifyRegistrationStatus(ctx, status); nerr != nil {
		w.Log.Warn("NotifyRegistrationStatus", zap.String("driver", info.GetName()), zap.Error(nerr))
	}
	return info.GetName(), err
}

// registerDriver calls NodeGetInfo at endpoint, writes the driver's
// CSINode entry and adds the driver to Plugins.
func (w *Watcher) registerDriver(ctx context.Context, driver, endpoint string) error {
	conn, err := w.Dial(endpoint)
	if err != nil {
		return err
	}
	node := csipb.NewNodeClient(conn)
	info, err := node.NodeGetInfo(ctx, &csipb.NodeGetInfoRequest{})
	if err == nil && info.GetNodeId() == "" {
		err = errors.New("NodeGetInfo returned no node_id")
	}
	if err != nil {
		conn.Close()
		return fmt.Errorf("NodeGetInfo of %s: %w", driver, err)
	}
	entry := DriverEntry(driver, info.GetNodeId(), info.GetAccessibleTopology().GetSegments(), info.GetMaxVolumesPerNode())
	if err := w.NodeInfo.Register(ctx, entry); err != nil {
		conn.Close()
		return fmt.Errorf("updating the node's CSINode: %w", err)
	}
	w.Plugins.Add(driver, endpoint, conn, node)
	return nil
}

// Sockets lists the unix sockets directly in dir (not dot files), sorted;
// a missing dir has none.
func Sockets(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.Type()&fs.ModeSocket == 0 {
			continue
		}
		out = append(out, filepath.Join(dir, e.Name()))
	}
	return out, nil
}
