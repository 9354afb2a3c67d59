// Package testimages builds the container images Keel's tests run, from
// files already on the machine, because no public registry is reachable:
//
//   - BusyboxRef: Debian's static busybox (package busybox-static) as
//     /bin/busybox, with a symlink in /bin for every applet it lists (sh,
//     sleep, httpd, wget, nslookup, nc, cat, echo, env, true, false, ...),
//     /usr/bin/env, an /etc/passwd and /etc/group with root and nobody, a
//     world-writable /tmp and a /var/www/index.html for httpd.
//   - PauseRef: Keel's own pause binary (cmd/pause, built static) as /pause,
//     the pod sandbox image.
//
// Images are single-layer, for linux/GOARCH, in the Docker v2 schema 2
// format, and deterministic: every file has the same owner (0:0) and the
// fixed time Epoch, entries are sorted, so the same input files always give
// the same layer, config and manifest digests.
//
// The references name the registry host Registry ("registry.keel.test"),
// which does not exist: images reach containerd either by loading a tarball
// (WriteTarball; containerd's import keeps the reference from the archive),
// or by pushing them to a local registry (Push) that containerd is told to
// use for that host (see pkg/containerdtest). Push keeps the manifest as
// built, so a pulled image has the digest Image.Digest reports; a copy made
// with skopeo from the tarball is re-serialized and gets another digest.
package testimages

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/renameio/v2"
)

const (
	// Registry is the registry host every test image reference names.
	Registry = "registry.keel.test"
	// BusyboxRef is the busybox image. The tag is the busybox release of
	// Debian 12's busybox-static; it is a constant, not read from the binary.
	BusyboxRef = Registry + "/busybox:1.35"
	// PauseRef is the pod sandbox image built from cmd/pause; containerd's
	// sandbox_image names it.
	PauseRef = Registry + "/pause:3.9"

	// DefaultBusyboxPath is where Debian's busybox-static installs busybox.
	DefaultBusyboxPath = "/usr/bin/busybox"

	// PauseUID is the user (and group) the pause image runs as.
	PauseUID = 65535
)

// Epoch is the creation time of every image and the modification time of
// every file in them, so that builds are reproducible.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Image is a built image and the reference it is known by.
type Image struct {
	// Ref is the image's full reference, e.g. BusyboxRef.
	Ref string
	// Image is the image itself; it is computed lazily and may be used from
	// several goroutines.
	Image v1.Image
}

// Digest returns the image's manifest digest ("sha256:…").
func (i Image) Digest() (string, error) {
	h, err := i.Image.Digest()
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

// file is one entry of an image layer.
type file struct {
	name     string // relative, no leading slash; directories without trailing slash
	typ      byte   // tar.TypeReg, tar.TypeDir, tar.TypeSymlink
	mode     int64
	uid, gid int
	linkname string
	data     []byte
}

// Busybox builds BusyboxRef from the static busybox binary at busyboxPath
// (DefaultBusyboxPath when empty). It runs the binary once (`busybox
// --list`) to learn its applets.
func Busybox(busyboxPath string) (Image, error) {
	if busyboxPath == "" {
		busyboxPath = DefaultBusyboxPath
	}
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return Image{}, fmt.Errorf("testimages: reading busybox (apt-get install busybox-static): %w", err)
	}
	out, err := exec.Command(busyboxPath, "--list").Output()
	if err != nil {
		return Image{}, fmt.Errorf("testimages: %s --list: %w", busyboxPath, err)
	}
	applets := strings.Fields(string(out))
	if len(applets) == 0 {
		return Image{}, fmt.Errorf("testimages: %s --list printed no applets", busyboxPath)
	}
	files := []file{
		{name: "bin", typ: tar.TypeDir, mode: 0o755},
		{name: "bin/busybox", typ: tar.TypeReg, mode: 0o755, data: bin},
		{name: "etc", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/group", typ: tar.TypeReg, mode: 0o644, data: []byte("root:x:0:\nnogroup:x:65534:\n")},
		{name: "etc/passwd", typ: tar.TypeReg, mode: 0o644, data: []byte(
			"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{name: "root", typ: tar.TypeDir, mode: 0o700},
		{name: "tmp", typ: tar.TypeDir, mode: 0o1777},
		{name: "usr", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/bin", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/bin/env", typ: tar.TypeSymlink, mode: 0o777, linkname: "/bin/busybox"},
		{name: "var", typ: tar.TypeDir, mode: 0o755},
		{name: "var/www", typ: tar.TypeDir, mode: 0o755},
		{name: "var/www/index.html", typ: tar.TypeReg, mode: 0o644, data: []byte("keel busybox test image\n")},
	}
	for _, a := range applets {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		files = append(files, file{name: "bin/" + a, typ: tar.TypeSymlink, mode: 0o777, linkname: "busybox"})
	}
	cfg := v1.Config{
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd: []string{"sh"},
	}
	img, err := build(files, cfg, "keel testimages: busybox from "+busyboxPath)
	if err != nil {
		return Image{}, err
	}
	return Image{Ref: BusyboxRef, Image: img}, nil
}

// Pause builds PauseRef from a pause binary (see BuildPauseBinary). The
// binary must be static: the image holds nothing else.
func Pause(pauseBinary string) (Image, error) {
	bin, err := os.ReadFile(pauseBinary)
	if err != nil {
		return Image{}, fmt.Errorf("testimages: reading pause binary: %w", err)
	}
	files := []file{{name: "pause", typ: tar.TypeReg, mode: 0o755, data: bin}}
	cfg := v1.Config{
		Entrypoint: []string{"/pause"},
		User:       fmt.Sprintf("%d:%d", PauseUID, PauseUID),
	}
	img, err := build(files, cfg, "keel testimages: pause")
	if err != nil {
		return Image{}, err
	}
	return Image{Ref: PauseRef, Image: img}, nil
}

// build makes a one-layer image of files with the given runtime config.
func build(files []file, cfg v1.Config, createdBy string) (v1.Image, error) {
	layerTar, err := tarFiles(files)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return nil, fmt.Errorf("testimages: layer: %w", err)
	}
	created := v1.Time{Time: Epoch}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      created,
		Config:       cfg,
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: created, CreatedBy: createdBy},
	})
	if err != nil {
		return nil, fmt.Errorf("testimages: append layer: %w", err)
	}
	return img, nil
}

// tarFiles writes files as a tar stream, sorted by name, with fixed owners
// and times.
func tarFiles(files []file) ([]byte, error) {
	sorted := append([]file(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, f := range sorted {
		if i > 0 && sorted[i-1].name == f.name {
			return nil, fmt.Errorf("testimages: duplicate file %q", f.name)
		}
		hdr := &tar.Header{
			Typeflag: f.typ,
			Name:     f.name,
			Linkname: f.linkname,
			Mode:     f.mode,
			Uid:      f.uid,
			Gid:      f.gid,
			ModTime:  Epoch,
			Format:   tar.FormatPAX,
		}
		if f.typ == tar.TypeDir {
			hdr.Name += "/"
		}
		if f.typ == tar.TypeReg {
			hdr.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if f.typ == tar.TypeReg {
			if _, err := tw.Write(f.data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteTarball writes img to path as a docker-archive tarball (the `docker
// save` layout: manifest.json with RepoTags, config, gzipped layers), which
// `containerd`'s import, `ctr images import` and skopeo's docker-archive:
// transport all read. The same image always gives the same bytes. The file
// is written to a temporary name and renamed into place.
func WriteTarball(path string, img Image) error {
	tag, err := name.NewTag(img.Ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("testimages: reference %q: %w", img.Ref, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := renameio.NewPendingFile(path, renameio.WithStaticPermissions(0o644))
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if err := tarball.Write(tag, img.Image, f); err != nil {
		return fmt.Errorf("testimages: writing %s: %w", img.Ref, err)
	}
	return f.CloseAtomicallyReplace()
}

// PushRef returns the reference img has once pushed to the registry at
// registryAddr ("host:port"): the same repository and tag on that host, e.g.
// "127.0.0.1:5000/busybox:1.35".
func PushRef(registryAddr string, img Image) (string, error) {
	tag, err := name.NewTag(img.Ref, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("testimages: reference %q: %w", img.Ref, err)
	}
	return registryAddr + "/" + tag.RepositoryStr() + ":" + tag.TagStr(), nil
}

// Push uploads img to the registry at registryAddr ("host:port") over plain
// HTTP, under the reference PushRef returns, which it also returns.
func Push(ctx context.Context, registryAddr string, img Image) (string, error) {
	ref, err := PushRef(registryAddr, img)
	if err != nil {
		return "", err
	}
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		return "", fmt.Errorf("testimages: reference %q: %w", ref, err)
	}
	if err := remote.Write(tag, img.Image, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("testimages: pushing %s: %w", ref, err)
	}
	return ref, nil
}

// BuildPauseBinary compiles cmd/pause from this module's source into out:
// static (CGO_ENABLED=0), stripped and with -trimpath, so the same source
// and Go toolchain give the same bytes. It needs the go tool and the module
// source, as tests and hack/ scripts have.
func BuildPauseBinary(ctx context.Context, out string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	// `go test` puts its own toolchain first on PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("testimages: no go tool to build the pause binary: %w", err)
	}
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-buildvcs=false",
		"-ldflags=-s -w -buildid=", "-o", out, "./cmd/pause")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testimages: building pause: %v\n%s", err, b)
	}
	return nil
}

// moduleRoot finds this module's source: from this file's location, or
// (in a -trimpath build) from the working directory upwards.
func moduleRoot() (string, error) {
	hasPause := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "cmd", "pause", "main.go"))
		return err == nil
	}
	if _, self, _, ok := runtime.Caller(0); ok && filepath.IsAbs(self) {
		if root := filepath.Join(filepath.Dir(self), "..", ".."); hasPause(root) {
			return root, nil
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(string(b), "module keel.dev/keel\n") && hasPause(dir) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testimages: cannot find the keel.dev/keel source (cmd/pause) to build the pause binary")
		}
		dir = parent
	}
}

// Tarball is an image written to disk by WriteAll.
type Tarball struct {
	Ref    string // image reference, e.g. PauseRef
	Path   string // the docker-archive file
	Digest string // manifest digest
	Image  Image
}

// Options tells WriteAll where its inputs are.
type Options struct {
	// BusyboxPath is the static busybox binary; DefaultBusyboxPath when empty.
	BusyboxPath string
	// PauseBinary is a prebuilt pause binary; when empty, WriteAll builds
	// cmd/pause with BuildPauseBinary.
	PauseBinary string
}

// WriteAll builds every test image and writes each as a tarball in dir:
// busybox.tar and pause.tar, in that order.
func WriteAll(ctx context.Context, dir string, opts Options) ([]Tarball, error) {
	imgs, err := BuildAll(ctx, opts)
	if err != nil {
		return nil, err
	}
	var out []Tarball
	for _, img := range imgs {
		tag, err := name.NewTag(img.Ref, name.StrictValidation)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, path.Base(tag.RepositoryStr())+".tar")
		if err := WriteTarball(p, img); err != nil {
			return nil, err
		}
		d, err := img.Digest()
		if err != nil {
			return nil, err
		}
		out = append(out, Tarball{Ref: img.Ref, Path: p, Digest: d, Image: img})
	}
	return out, nil
}

// BuildAll builds every test image: busybox, then pause.
func BuildAll(ctx context.Context, opts Options) ([]Image, error) {
	bb, err := Busybox(opts.BusyboxPath)
	if err != nil {
		return nil, err
	}
	pauseBin := opts.PauseBinary
	if pauseBin == "" {
		dir, err := os.MkdirTemp("", "keel-pause-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		pauseBin = filepath.Join(dir, "pause")
		if err := BuildPauseBinary(ctx, pauseBin); err != nil {
			return nil, err
		}
	}
	// Pause reads the binary into memory: the directory may go on return.
	p, err := Pause(pauseBin)
	if err != nil {
		return nil, err
	}
	return []Image{bb, p}, nil
}
