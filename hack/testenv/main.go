// Command testenv is the Go half of hack/images.sh and hack/containerd.sh:
// it builds the test images, runs a local registry and runs a private
// containerd, through pkg/testimages, pkg/registrytest and
// pkg/containerdtest.
//
//	testenv images --out DIR [--push HOST:PORT] [--busybox PATH] [--pause-binary PATH]
//	testenv registry --dir DIR --addr HOST:PORT [--push]
//	testenv containerd --dir DIR [--images DIR] [--registry HOST=URL]... [--snapshotter NAME]
//
// registry and containerd run in the foreground until SIGTERM or SIGINT,
// then stop what they started (containerd: every pod first). Once ready they
// print a line starting with "ready".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"keel.dev/keel/pkg/containerdtest"
	"keel.dev/keel/pkg/registrytest"
	"keel.dev/keel/pkg/testimages"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var err error
	switch os.Args[1] {
	case "images":
		err = images(ctx, os.Args[2:])
	case "registry":
		err = registry(ctx, os.Args[2:])
	case "containerd":
		err = runContainerd(ctx, os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage:
  testenv images --out DIR [--push HOST:PORT] [--busybox PATH] [--pause-binary PATH]
  testenv registry --dir DIR --addr HOST:PORT [--push]
  testenv containerd --dir DIR [--images DIR] [--registry HOST=URL]... [--snapshotter NAME]`)
	os.Exit(2)
}

func images(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("images", flag.ExitOnError)
	out := fs.String("out", "_output/images", "directory for the tarballs")
	push := fs.String("push", "", "also push the images to the registry at HOST:PORT (plain HTTP)")
	busybox := fs.String("busybox", "", "static busybox binary (default "+testimages.DefaultBusyboxPath+")")
	pauseBin := fs.String("pause-binary", "", "prebuilt pause binary (default: build cmd/pause)")
	fs.Parse(args)
	tbs, err := testimages.WriteAll(ctx, *out, testimages.Options{BusyboxPath: *busybox, PauseBinary: *pauseBin})
	if err != nil {
		return err
	}
	for _, tb := range tbs {
		fmt.Printf("%s\t%s\t%s\n", tb.Ref, tb.Path, tb.Digest)
		if *push != "" {
			ref, err := testimages.Push(ctx, *push, tb.Image)
			if err != nil {
				return err
			}
			fmt.Printf("pushed\t%s\n", ref)
		}
	}
	return nil
}

func registry(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("registry", flag.ExitOnError)
	dir := fs.String("dir", "", "directory for the config and storage (required)")
	addr := fs.String("addr", "127.0.0.1:5000", "listen address")
	push := fs.Bool("push", false, "push the test images once it is up")
	fs.Parse(args)
	if *dir == "" {
		return errors.New("registry: --dir is required")
	}
	r, err := registrytest.Start(ctx, registrytest.Options{Dir: *dir, Addr: *addr})
	if err != nil {
		return err
	}
	defer r.Stop()
	if *push {
		imgs, err := testimages.BuildAll(ctx, testimages.Options{})
		if err != nil {
			return err
		}
		for _, img := range imgs {
			ref, err := r.Push(ctx, img)
			if err != nil {
				return err
			}
			fmt.Printf("pushed\t%s\n", ref)
		}
	}
	fmt.Printf("ready addr=%s dir=%s\n", r.Addr, r.Dir)
	<-ctx.Done()
	return r.Stop()
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runContainerd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("containerd", flag.ExitOnError)
	dir := fs.String("dir", "", "instance directory (required; keep the path short)")
	imagesDir := fs.String("images", "", "load every *.tar in this directory into the k8s.io namespace")
	snapshotter := fs.String("snapshotter", "", "overlayfs or native (default: overlayfs if it works here)")
	cniConfDir := fs.String("cni-conf-dir", "", "CNI conf_dir (default DIR/net.d)")
	var regs multiFlag
	fs.Var(&regs, "registry", "HOST=URL: pull images named HOST/... from URL (http:// is plain HTTP); repeatable")
	fs.Parse(args)
	if *dir == "" {
		return errors.New("containerd: --dir is required")
	}
	if err := containerdtest.Available(); err != nil {
		return err
	}
	opts := containerdtest.Options{Dir: *dir, Snapshotter: *snapshotter, CNIConfDir: *cniConfDir, Registries: map[string]string{}}
	for _, r := range regs {
		host, url, ok := strings.Cut(r, "=")
		if !ok {
			return fmt.Errorf("--registry %q: want HOST=URL", r)
		}
		opts.Registries[host] = url
	}
	if *imagesDir != "" {
		tars, err := filepath.Glob(filepath.Join(*imagesDir, "*.tar"))
		if err != nil {
			return err
		}
		sort.Strings(tars)
		opts.Images = tars
	}
	c, err := containerdtest.Start(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Printf("ready socket=%s config=%s cni_conf_dir=%s snapshotter=%s\n", c.Socket, c.ConfigPath, c.CNIConfDir, c.Snapshotter)
	<-ctx.Done()
	return c.Stop()
}
