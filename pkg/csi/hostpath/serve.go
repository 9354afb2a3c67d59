package hostpath

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// Registration is the kubelet plugin-registration service of a CSI node
// plugin (what Kubernetes' node-driver-registrar serves): it names the
// driver and the socket of its Node service. Registered, if set, is
// called with the kubelet's answer.
type Registration struct {
	registerapi.UnimplementedRegistrationServer
	Driver   string
	Endpoint string
	// Registered receives NotifyRegistrationStatus's error ("" when the
	// kubelet registered the driver).
	Registered func(errMsg string)
}

// SupportedVersion is the CSI version the driver speaks.
const SupportedVersion = "1.0.0"

func (r *Registration) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	return &registerapi.PluginInfo{Type: registerapi.CSIPlugin, Name: r.Driver, Endpoint: r.Endpoint,
		SupportedVersions: []string{SupportedVersion}}, nil
}

func (r *Registration) NotifyRegistrationStatus(_ context.Context, st *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	if r.Registered != nil {
		msg := st.GetError()
		if !st.GetPluginRegistered() && msg == "" {
			msg = "not registered"
		}
		r.Registered(msg)
	}
	return &registerapi.RegistrationStatusResponse{}, nil
}

// Listen listens on the unix socket path, replacing a stale socket file
// left by an earlier run; the socket is private to root (0600), as the
// kubelet and the controller-manager run as root.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Servers are the driver's gRPC servers, one per socket.
type Servers struct {
	servers []*grpc.Server
	errs    chan error
}

// Serve serves on the listeners given (nil: not served): the Controller
// service (with Identity) on controller, the Node service (with Identity)
// on node, and Registration on registration. Stop ends them.
func Serve(d *Driver, controller, node, registration net.Listener, reg registerapi.RegistrationServer) *Servers {
	s := &Servers{errs: make(chan error, 3)}
	start := func(l net.Listener, register func(*grpc.Server)) {
		if l == nil {
			return
		}
		g := grpc.NewServer()
		register(g)
		s.servers = append(s.servers, g)
		go func() { s.errs <- g.Serve(l) }()
	}
	start(controller, func(g *grpc.Server) {
		csipb.RegisterIdentityServer(g, Identity{D: d})
		csipb.RegisterControllerServer(g, Controller{D: d})
	})
	start(node, func(g *grpc.Server) {
		csipb.RegisterIdentityServer(g, Identity{D: d})
		csipb.RegisterNodeServer(g, Node{D: d})
	})
	start(registration, func(g *grpc.Server) { registerapi.RegisterRegistrationServer(g, reg) })
	return s
}

// Err receives the error of a server that stopped.
func (s *Servers) Err() <-chan error { return s.errs }

// Stop stops every server.
func (s *Servers) Stop() {
	for _, g := range s.servers {
		g.Stop()
	}
}

// RegistrationSocket is the name of a driver's registration socket in
// the kubelet's plugins_registry directory (<driver>-reg.sock, as
// node-driver-registrar names it).
func RegistrationSocket(dir, driver string) string {
	return filepath.Join(dir, driver+"-reg.sock")
}

// mountinfoHas tells whether mountinfo lists the mount point p.
func mountinfoHas(mountinfo, p string) bool {
	for _, line := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && unescape(f[4]) == p {
			return true
		}
	}
	return false
}

// unescape decodes mountinfo's \NNN octal escapes.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%3o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
