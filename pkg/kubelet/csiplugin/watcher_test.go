package csiplugin_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/protobuf/proto"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/csi/hostpath"
	"keel.dev/keel/pkg/kubelet/csiplugin"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// plugin serves a hostpath driver's Node service and registration socket
// in regDir; stop ends it and removes the registration socket.
func plugin(t *testing.T, regDir, name string, versions []string) (registered chan string, stop func()) {
	t.Helper()
	dir, err := os.MkdirTemp("", "csi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &hostpath.Driver{Name: name, Root: dir, NodeID: "n1", MaxVolumes: 7}
	nodeSock := filepath.Join(dir, "node.sock")
	nl, err := hostpath.Listen(nodeSock)
	if err != nil {
		t.Fatal(err)
	}
	regSock := hostpath.RegistrationSocket(regDir, name)
	rl, err := hostpath.Listen(regSock)
	if err != nil {
		t.Fatal(err)
	}
	registered = make(chan string, 10)
	reg := &hostpath.Registration{Driver: name, Endpoint: "unix://" + nodeSock, Registered: func(msg string) { registered <- msg }}
	srv := hostpath.Serve(d, nil, nl, rl, versioned{reg, versions})
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			srv.Stop()
			os.Remove(regSock)
		}
	}
	t.Cleanup(stop)
	return registered, stop
}

// versioned overrides the CSI versions a registration announces.
type versioned struct {
	*hostpath.Registration
	versions []string
}

func (v versioned) GetInfo(ctx context.Context, r *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	info, err := v.Registration.GetInfo(ctx, r)
	if err == nil && v.versions != nil {
		info.SupportedVersions = v.versions
	}
	return info, err
}

// TestWatcherRegistersCSIDrivers runs the plugin watcher as the kubelet of
// n1 (Node,RBAC) against a real apiserver and a real driver's sockets: a
// registered driver gets its CSINode entry (node id, topology keys, volume
// limit) and a Node service the volume manager can reach; a plugin of an
// unsupported CSI version is told why it was refused; a driver whose
// socket goes away leaves the CSINode. None of the kubelet's requests is
// refused; it may not write another node's CSINode.
func TestWatcherRegistersCSIDrivers(t *testing.T) {
	s := testserver.StartSecure(t, []string{"n1"}, nil)
	admin := s.Client(pki.AdminName)
	kubelet := s.Client(pki.KubeletClientName("n1"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	node, err := admin.Nodes().Create(ctx, &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1"}}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	regDir, err := os.MkdirTemp("", "reg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(regDir) })

	plugins := csiplugin.NewPlugins()
	w := &csiplugin.Watcher{Dir: regDir, Plugins: plugins, NodeInfo: csiplugin.NodeInfo{Client: kubelet, NodeName: "n1"},
		Period: 50 * time.Millisecond, RetryPeriod: time.Hour}
	wctx, wcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	t.Cleanup(func() { wcancel(); <-done })

	good, stopGood := plugin(t, regDir, "hostpath.csi.keel.dev", nil)
	bad, _ := plugin(t, regDir, "old.csi.keel.dev", []string{"0.3.0"})
	select {
	case msg := <-good:
		if msg != "" {
			t.Fatalf("the driver was refused: %s", msg)
		}
	case <-ctx.Done():
		t.Fatal("the driver was never told it was registered")
	}
	select {
	case msg := <-bad:
		if want := "supports none of the CSI versions this kubelet speaks (1.x): [0.3.0]"; msg == "" || !strings.Contains(msg, want) {
			t.Errorf("the old plugin was told %q, want %q", msg, want)
		}
	case <-ctx.Done():
		t.Fatal("the old plugin was never told")
	}
	csinodes := client.For[*storagev1.CSINode](admin, "")
	seven := int32(7)
	want := &storagev1.CSINodeDriver{Name: "hostpath.csi.keel.dev", NodeId: "n1", TopologyKeys: []string{hostpath.TopologyKey},
		Allocatable: &storagev1.VolumeNodeResources{Count: &seven}}
	cn, err := csinodes.Get(ctx, "n1")
	if err != nil {
		t.Fatal(err)
	}
	if len(cn.GetSpec().GetDrivers()) != 1 || !proto.Equal(cn.GetSpec().GetDrivers()[0], want) {
		t.Errorf("CSINode drivers %v, want only %v", cn.GetSpec().GetDrivers(), want)
	}
	if refs := cn.GetMetadata().GetOwnerReferences(); len(refs) != 1 || refs[0].GetKind() != "Node" || refs[0].GetUid() != node.GetMetadata().GetUid() {
		t.Errorf("CSINode owners %v, want the Node", refs)
	}
	nc, err := plugins.NodeClient("hostpath.csi.keel.dev")
	if err != nil {
		t.Fatal(err)
	}
	if info, err := nc.NodeGetInfo(ctx, &csipb.NodeGetInfoRequest{}); err != nil || info.GetNodeId() != "n1" {
		t.Errorf("NodeGetInfo through the registry: %v %v", info, err)
	}
	if _, err := plugins.NodeClient("old.csi.keel.dev"); !errors.Is(err, csiplugin.ErrNotRegistered) {
		t.Errorf("the refused driver: %v", err)
	}

	stopGood()
	testutil.Eventually(t, 30*time.Second, "the driver gone from the CSINode", func() error {
		cn, err := csinodes.Get(ctx, "n1")
		if err != nil {
			return err
		}
		if len(cn.GetSpec().GetDrivers()) != 0 {
			return fmt.Errorf("drivers %v", cn.GetSpec().GetDrivers())
		}
		return nil
	})
	if _, err := plugins.NodeClient("hostpath.csi.keel.dev"); !errors.Is(err, csiplugin.ErrNotRegistered) {
		t.Errorf("the unregistered driver: %v", err)
	}
	if f := s.Forbidden(); len(f) > 0 {
		t.Errorf("the apiserver refused the kubelet's requests: %v", f)
	}
	// The node may not touch another node's CSINode.
	if _, err := client.For[*storagev1.CSINode](kubelet, "").Create(ctx, &storagev1.CSINode{Metadata: &metav1.ObjectMeta{Name: "n2"}}, client.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("n1 creating n2's CSINode: %v, want Forbidden", err)
	}
}
