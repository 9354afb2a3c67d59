package containerdtest

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/testimages"
	"keel.dev/keel/pkg/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("output differs from %s:\n%s", path, got)
	}
}

func TestRenderConfigGolden(t *testing.T) {
	got, err := RenderConfig(Config{
		Root: "/tmp/ctd/root", State: "/tmp/ctd/state", Socket: "/tmp/ctd/containerd.sock",
		SandboxImage: testimages.PauseRef, Snapshotter: "overlayfs",
		CNIBinDir: "/usr/lib/cni", CNIConfDir: "/tmp/ctd/net.d",
		RegistryConfigDir: "/tmp/ctd/certs.d",
	})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "config.toml", got)
	for _, must := range []string{"restrict_oom_score_adj = true", "SystemdCgroup = false", `sandbox_image = "registry.keel.test/pause:3.9"`} {
		if !strings.Contains(string(got), must) {
			t.Errorf("config lacks %q", must)
		}
	}
}

func TestRenderConfigErrors(t *testing.T) {
	ok := Config{
		Root: "/r", State: "/s", Socket: "/c.sock", SandboxImage: "p", Snapshotter: "native",
		CNIBinDir: "/b", CNIConfDir: "/n",
	}
	if _, err := RenderConfig(ok); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"relative root":   func(c *Config) { c.Root = "root" },
		"no sandbox":      func(c *Config) { c.SandboxImage = "" },
		"bad snapshotter": func(c *Config) { c.Snapshotter = "zfs" },
		"long socket":     func(c *Config) { c.Socket = "/" + strings.Repeat("x", 110) },
		"relative certs":  func(c *Config) { c.RegistryConfigDir = "certs.d" },
	} {
		c := ok
		mutate(&c)
		if _, err := RenderConfig(c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if got := tomlString(`a"b\c`); got != `"a\"b\\c"` {
		t.Errorf("tomlString = %s", got)
	}
}

func TestRegistryHosts(t *testing.T) {
	got, err := RegistryHostsTOML("registry.keel.test", "http://127.0.0.1:5000")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "hosts.toml", got)
	for _, bad := range [][2]string{{"registry.keel.test", "127.0.0.1:5000"}, {"registry.keel.test", "ftp://x"}, {"", "http://x"}, {"a/b", "http://x"}} {
		if _, err := RegistryHostsTOML(bad[0], bad[1]); err == nil {
			t.Errorf("RegistryHostsTOML(%q, %q) accepted", bad[0], bad[1])
		}
	}
	dir := t.TempDir()
	if err := WriteRegistryHost(dir, "127.0.0.1:5000", "http://127.0.0.1:5000"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "127.0.0.1:5000", "hosts.toml")); err != nil {
		t.Error(err)
	}
}

func TestUnescapeMountPath(t *testing.T) {
	if got := unescapeMountPath(`/tmp/a\040b`); got != "/tmp/a b" {
		t.Errorf("unescape = %q", got)
	}
	if got := unescapeMountPath("/plain"); got != "/plain" {
		t.Errorf("unescape = %q", got)
	}
}

// TestStartLoadStop runs a real containerd: the images are loaded into the
// k8s.io namespace where CRI sees them, and Stop leaves nothing mounted.
func TestStartLoadStop(t *testing.T) {
	if err := Available(); err != nil {
		testutil.Missing(t, err.Error())
	}
	if err := OverlaySupported(t.TempDir()); err != nil {
		t.Logf("overlay not usable here, native snapshotter: %v", err)
	}
	c := New(t, Options{}, true)
	client, err := cri.Dial(context.Background(), c.Socket, cri.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, ref := range []string{testimages.BusyboxRef, testimages.PauseRef} {
		st, err := client.ImageStatus(context.Background(), &runtimeapi.ImageSpec{Image: ref}, false)
		if err != nil || st.Image == nil {
			t.Errorf("CRI does not see %s: %v, %v", ref, st.GetImage(), err)
		}
	}
	// Loading again is harmless.
	if _, err := c.LoadImages(context.Background(), filepath.Join(c.Dir, "images", "busybox.tar")); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if m, _ := mountsUnder(c.Dir); len(m) > 0 {
		t.Errorf("still mounted after Stop: %v", m)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}
