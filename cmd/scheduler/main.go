// Command keel-scheduler binds pending pods to nodes. See README.md for
// flags and the config files, and pkg/scheduler/app for the wiring.
package main

import (
	"keel.dev/keel/pkg/daemon"
	"keel.dev/keel/pkg/scheduler/app"
)

func main() { daemon.Main(app.NewCommand()) }
