package csiplugin

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"

	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
)

func TestReconcile(t *testing.T) {
	now := time.Unix(1000, 0)
	known := map[string]SocketState{
		"/r/ok.sock":      {Driver: "ok", Registered: true},
		"/r/failed.sock":  {Driver: "f", RetryAt: now.Add(time.Second)},
		"/r/due.sock":     {Driver: "d", RetryAt: now},
		"/r/removed.sock": {Driver: "x", Registered: true},
	}
	register, gone := Reconcile([]string{"/r/ok.sock", "/r/failed.sock", "/r/due.sock", "/r/new.sock"}, known, now)
	if want := []string{"/r/due.sock", "/r/new.sock"}; !reflect.DeepEqual(register, want) {
		t.Errorf("register %v, want %v", register, want)
	}
	if want := []string{"/r/removed.sock"}; !reflect.DeepEqual(gone, want) {
		t.Errorf("gone %v, want %v", gone, want)
	}
}

func TestValidateInfo(t *testing.T) {
	ok := &registerapi.PluginInfo{Type: registerapi.CSIPlugin, Name: "d", Endpoint: "/p/csi.sock", SupportedVersions: []string{"0.3.0", "v1.2.0"}}
	if d, e, err := ValidateInfo(ok); err != nil || d != "d" || e != "/p/csi.sock" {
		t.Errorf("valid info: %q %q %v", d, e, err)
	}
	for _, tc := range []struct {
		info *registerapi.PluginInfo
		want string
	}{
		{&registerapi.PluginInfo{Type: registerapi.DevicePlugin, Name: "d", Endpoint: "/p", SupportedVersions: []string{"1.0.0"}}, `plugin type "DevicePlugin" is not supported`},
		{&registerapi.PluginInfo{Type: registerapi.CSIPlugin, Endpoint: "/p", SupportedVersions: []string{"1.0.0"}}, "no name"},
		{&registerapi.PluginInfo{Type: registerapi.CSIPlugin, Name: "d", SupportedVersions: []string{"1.0.0"}}, "gives no endpoint"},
		{&registerapi.PluginInfo{Type: registerapi.CSIPlugin, Name: "d", Endpoint: "tcp://1.2.3.4:5", SupportedVersions: []string{"1.0.0"}}, "only unix sockets"},
		{&registerapi.PluginInfo{Type: registerapi.CSIPlugin, Name: "d", Endpoint: "/p", SupportedVersions: []string{"0.3.0", "2.0.0"}}, "supports none of the CSI versions"},
	} {
		if _, _, err := ValidateInfo(tc.info); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.info, err, tc.want)
		}
	}
}

func TestWithDriver(t *testing.T) {
	n := func(v int32) *int32 { return &v }
	a := DriverEntry("a", "n1", map[string]string{"zone": "z", "kubernetes.io/hostname": "n1"}, 5)
	if want := (&storagev1.CSINodeDriver{Name: "a", NodeId: "n1", TopologyKeys: []string{"kubernetes.io/hostname", "zone"},
		Allocatable: &storagev1.VolumeNodeResources{Count: n(5)}}); !proto.Equal(a, want) {
		t.Errorf("DriverEntry %v, want %v", a, want)
	}
	if e := DriverEntry("b", "n1", nil, 0); e.Allocatable != nil || e.TopologyKeys != nil {
		t.Errorf("DriverEntry without limit or topology: %v", e)
	}
	b := DriverEntry("b", "n1", nil, 0)
	cur := &storagev1.CSINodeSpec{Drivers: []*storagev1.CSINodeDriver{b}}
	next, removeFirst := WithDriver(cur, a)
	if removeFirst || len(next.Drivers) != 2 || !proto.Equal(next.Drivers[1], a) {
		t.Errorf("adding a: %v %v", next, removeFirst)
	}
	same, removeFirst := WithDriver(next, a)
	if removeFirst || !proto.Equal(same, next) {
		t.Errorf("re-adding a unchanged: %v %v", same, removeFirst)
	}
	a2 := DriverEntry("a", "n1-new", nil, 0)
	changed, removeFirst := WithDriver(next, a2)
	if !removeFirst || len(changed.Drivers) != 2 || !proto.Equal(changed.Drivers[1], a2) || !proto.Equal(changed.Drivers[0], b) {
		t.Errorf("changing a: %v %v", changed, removeFirst)
	}
	without, had := WithoutDriver(changed, "a")
	if !had || len(without.Drivers) != 1 || !proto.Equal(without.Drivers[0], b) {
		t.Errorf("WithoutDriver: %v %v", without, had)
	}
	if _, had := WithoutDriver(without, "a"); had {
		t.Error("WithoutDriver of a driver not there")
	}
	if len(next.Drivers) != 2 || !proto.Equal(next.Drivers[1], a) {
		t.Errorf("WithDriver changed its input: %v", next)
	}
}
