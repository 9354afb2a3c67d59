// Command keel-controller-manager runs Keel's reconcilers. See README.md for
// flags and the config file, and pkg/controller/app for the wiring.
package main

import (
	"keel.dev/keel/pkg/controller/app"
	"keel.dev/keel/pkg/daemon"
)

func main() { daemon.Main(app.NewCommand()) }
