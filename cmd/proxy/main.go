// Command keel-proxy runs on every node: it programs iptables for the
// cluster's Services (ClusterIP, NodePort, external IPs) and answers
// cluster DNS on the node. See README.md for flags and the config file, and
// pkg/proxy/app for the wiring.
package main

import (
	"keel.dev/keel/pkg/daemon"
	"keel.dev/keel/pkg/proxy/app"
)

func main() { daemon.Main(app.NewCommand()) }
