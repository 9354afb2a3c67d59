// Command keel-kubelet runs a node's pods through containerd (CRI), or,
// with --runtime=fake, simulates one or many hollow nodes. See README.md
// for flags and the config file, and pkg/kubelet/app for the wiring.
package main

import (
	"keel.dev/keel/pkg/daemon"
	"keel.dev/keel/pkg/kubelet/app"
)

func main() { daemon.Main(app.NewCommand()) }
