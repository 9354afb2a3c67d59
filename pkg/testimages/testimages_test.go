package testimages

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"keel.dev/keel/pkg/testutil"
)

func requireBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(DefaultBusyboxPath); err != nil {
		testutil.Missing(t, fmt.Sprintf("%s missing (install busybox-static, hack/install-deps.sh): %v", DefaultBusyboxPath, err))
	}
}

// layerFiles returns the tar headers of the image's single layer by name.
func layerFiles(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("image has %d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(Epoch) {
			t.Errorf("%s: owner %d:%d mtime %v, want 0:0 %v", h.Name, h.Uid, h.Gid, h.ModTime, Epoch)
		}
		files[h.Name] = h
	}
	return files
}

func TestBusyboxContents(t *testing.T) {
	requireBusybox(t)
	img, err := Busybox("")
	if err != nil {
		t.Fatal(err)
	}
	if img.Ref != BusyboxRef {
		t.Errorf("Ref = %q", img.Ref)
	}
	files := layerFiles(t, img.Image)
	if h := files["bin/busybox"]; h == nil || h.Typeflag != tar.TypeReg || h.Mode&0o111 == 0 {
		t.Fatalf("bin/busybox missing or not an executable file: %+v", h)
	}
	want, _ := os.ReadFile(DefaultBusyboxPath)
	if got := files["bin/busybox"].Size; got != int64(len(want)) {
		t.Errorf("bin/busybox size %d, want %d", got, len(want))
	}
	for _, applet := range []string{"sh", "sleep", "httpd", "wget", "nslookup", "cat", "echo", "ls", "env", "true", "false", "nc", "ps", "kill"} {
		h := files["bin/"+applet]
		if h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "busybox" {
			t.Errorf("bin/%s: %+v, want a symlink to busybox", applet, h)
		}
	}
	for _, name := range []string{"etc/passwd", "etc/group", "var/www/index.html"} {
		if h := files[name]; h == nil || h.Typeflag != tar.TypeReg {
			t.Errorf("%s missing", name)
		}
	}
	if h := files["tmp/"]; h == nil || h.Typeflag != tar.TypeDir || h.Mode != 0o1777 {
		t.Errorf("tmp/: %+v, want a 1777 directory", h)
	}
	if h := files["usr/bin/env"]; h == nil || h.Linkname != "/bin/busybox" {
		t.Errorf("usr/bin/env: %+v", h)
	}
	cf, err := img.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	if len(cf.Config.Cmd) != 1 || cf.Config.Cmd[0] != "sh" || len(cf.Config.Env) == 0 {
		t.Errorf("config %+v", cf.Config)
	}
}

func buildPause(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pause")
	if err := BuildPauseBinary(context.Background(), bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestPauseContents(t *testing.T) {
	img, err := Pause(buildPause(t))
	if err != nil {
		t.Fatal(err)
	}
	files := layerFiles(t, img.Image)
	if len(files) != 1 || files["pause"] == nil || files["pause"].Mode != 0o755 {
		t.Fatalf("pause layer = %v, want just an executable /pause", files)
	}
	cf, err := img.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/pause" || cf.Config.User != "65535:65535" {
		t.Errorf("config %+v", cf.Config)
	}
}

// TestDeterministic builds everything twice, from scratch, and expects the
// same digests and byte-identical tarballs.
func TestDeterministic(t *testing.T) {
	requireBusybox(t)
	ctx := context.Background()
	var digests [2][]string
	var tarBytes [2][][]byte
	for i := range 2 {
		tbs, err := WriteAll(ctx, t.TempDir(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(tbs) != 2 || tbs[0].Ref != BusyboxRef || tbs[1].Ref != PauseRef {
			t.Fatalf("WriteAll = %+v", tbs)
		}
		for _, tb := range tbs {
			b, err := os.ReadFile(tb.Path)
			if err != nil {
				t.Fatal(err)
			}
			digests[i] = append(digests[i], tb.Digest)
			tarBytes[i] = append(tarBytes[i], b)
		}
	}
	for j := range digests[0] {
		if digests[0][j] != digests[1][j] {
			t.Errorf("image %d: digest %s then %s", j, digests[0][j], digests[1][j])
		}
		if !bytes.Equal(tarBytes[0][j], tarBytes[1][j]) {
			t.Errorf("image %d: tarballs differ", j)
		}
	}
}

// TestTarballRoundTrip reads a written tarball back by its tag.
func TestTarballRoundTrip(t *testing.T) {
	requireBusybox(t)
	img, err := Busybox("")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "busybox.tar")
	if err := WriteTarball(p, img); err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(BusyboxRef)
	if err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(p, &tag)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	got, err := back.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != want {
		t.Errorf("digest read back %s, want %s", got, want)
	}
}

func TestPushRef(t *testing.T) {
	got, err := PushRef("127.0.0.1:5000", Image{Ref: BusyboxRef})
	if err != nil || got != "127.0.0.1:5000/busybox:1.35" {
		t.Errorf("PushRef = %q, %v", got, err)
	}
	if _, err := PushRef("127.0.0.1:5000", Image{Ref: "not a ref"}); err == nil {
		t.Error("PushRef accepted a bad reference")
	}
}
