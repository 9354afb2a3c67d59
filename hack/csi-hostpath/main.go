// Command csi-hostpath is the small CSI driver Keel's tests use (see
// pkg/csi/hostpath): volumes are directories under --root. It serves the
// Controller service on --controller-endpoint (for keel-controller-manager's
// --csi-controller-endpoints), the Node service on --node-endpoint, and
// registers the node plugin with the kubelet through a socket in
// --kubelet-registration-dir (the kubelet's ROOT-DIR/plugins_registry).
// Each endpoint is optional. It needs root for its bind mounts and reads
// nothing from the API.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"keel.dev/keel/pkg/csi/hostpath"
)

func main() {
	d := &hostpath.Driver{Version: "0.1.0"}
	flag.StringVar(&d.Name, "driver-name", "hostpath.csi.keel.dev", "the driver's name (the StorageClass's provisioner)")
	flag.StringVar(&d.Root, "root", "/var/lib/keel/csi-hostpath", "directory of the volumes")
	flag.StringVar(&d.NodeID, "node-id", "", "the node's name (its Node's name; default: the host name)")
	flag.Int64Var(&d.MaxVolumes, "max-volumes-per-node", 0, "the node's volume limit reported (0: none)")
	flag.BoolVar(&d.NoStage, "no-stage", false, "do not offer STAGE_UNSTAGE_VOLUME")
	controller := flag.String("controller-endpoint", "", "unix socket of the Controller service (empty: not served)")
	node := flag.String("node-endpoint", "", "unix socket of the Node service (empty: not served)")
	regDir := flag.String("kubelet-registration-dir", "", "the kubelet's plugins_registry directory, where the registration socket is made (needs --node-endpoint)")
	flag.Parse()
	if d.NodeID == "" {
		h, err := os.Hostname()
		if err != nil {
			log.Fatal(err)
		}
		d.NodeID = h
	}
	if *regDir != "" && *node == "" {
		log.Fatal("--kubelet-registration-dir needs --node-endpoint")
	}
	if err := os.MkdirAll(d.Root, 0o750); err != nil {
		log.Fatal(err)
	}
	listen := func(endpoint string) net.Listener {
		if endpoint == "" {
			return nil
		}
		l, err := hostpath.Listen(endpoint)
		if err != nil {
			log.Fatalf("listening on %s: %v", endpoint, err)
		}
		return l
	}
	cl, nl := listen(*controller), listen(*node)
	var rl net.Listener
	reg := &hostpath.Registration{Driver: d.Name, Endpoint: *node, Registered: func(msg string) {
		if msg != "" {
			log.Printf("the kubelet did not register %s: %s", d.Name, msg)
			return
		}
		log.Printf("the kubelet registered %s", d.Name)
	}}
	if *regDir != "" {
		rl = listen(hostpath.RegistrationSocket(*regDir, d.Name))
	}
	srv := hostpath.Serve(d, cl, nl, rl, reg)
	fmt.Fprintf(os.Stderr, "csi-hostpath %s serving (controller %q, node %q, registration dir %q)\n", d.Name, *controller, *node, *regDir)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		log.Printf("%v: stopping", s)
	case err := <-srv.Err():
		log.Printf("a server stopped: %v", err)
	}
	srv.Stop()
	if rl != nil {
		_ = os.Remove(hostpath.RegistrationSocket(*regDir, d.Name))
	}
}
