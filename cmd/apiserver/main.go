// Command keel-apiserver serves Keel's gRPC API over etcd. See README.md
// for flags and the config file, and pkg/apiserver/app for the wiring.
package main

import (
	"keel.dev/keel/pkg/apiserver/app"
	"keel.dev/keel/pkg/daemon"
)

func main() { daemon.Main(app.NewCommand()) }
