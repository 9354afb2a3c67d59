package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/testutil"
)

// The multi-node test's cluster: its own names, node subnet and pod ranges,
// apart from hack/multinode.sh's defaults and from the other tests'.
const (
	mnPrefix  = "kmt"
	mnSubnet  = "10.89.201" // .1 the host bridge, .2 and .3 the nodes
	mnPodNet  = "10.244"    // node N gets 10.244.(120+N).0/24
	mnPodBase = 121
)

// TestMultiNode starts a two-node cluster with hack/multinode.sh on ports
// of its own, each node a network namespace running its own containerd,
// kubelet and proxy, and checks what a multi-machine cluster promises:
// both nodes register Ready, each routing the other's podCIDR through its
// InternalIP; a Deployment with pod anti-affinity on kubernetes.io/hostname
// puts a pod on each node; pods reach each other across nodes on their pod
// IPs; a Service answers from a pod on each node on its ClusterIP, reaching
// the pods of both nodes, and on its NodePort at each node's InternalIP from
// the other node; a NodePort Service with externalTrafficPolicy Local
// answers at a node's InternalIP only from that node's pod; each node's
// cluster DNS resolves the Service's name to its ClusterIP; volumes and
// their pods meet on the right node (testMultiNodeStorage); the apiserver
// (RBAC) refuses none of the daemons, each running as itself; and --down
// stops every daemon and removes the namespaces, links and routes.
func TestMultiNode(t *testing.T) {
	if os.Geteuid() != 0 {
		testutil.Missing(t, "hack/multinode.sh makes network namespaces and runs containerd: needs root")
	}
	for _, tool := range []string{"ip", "nsenter", "iptables-save", "busybox", "curl", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			testutil.Missing(t, "hack/multinode.sh needs "+tool+" (hack/install-deps.sh)")
		}
	}
	dir := t.TempDir()
	sc := newScript(t, []string{"KEEL_API_PORT", "KEEL_API_HTTP_PORT",
		"KEEL_SCHEDULER_HTTP_PORT", "KEEL_CONTROLLER_MANAGER_HTTP_PORT"},
		"KEEL_MULTINODE_DIR="+dir, "KEELCONFIG="+filepath.Join(dir, "config"),
		"KEEL_NODES=2", "KEEL_MULTINODE_PREFIX="+mnPrefix, "KEEL_NODE_SUBNET="+mnSubnet+".0/24",
		"KEEL_POD_CIDR_BASE="+fmt.Sprintf("%s.%d.0/24", mnPodNet, mnPodBase))
	run := sc.run
	keelctl := func(args ...string) (string, error) { return run(30*time.Second, "bin/keelctl", args...) }

	var nodes []mnNode
	for i := 1; i <= 2; i++ {
		nodes = append(nodes, mnNode{fmt.Sprintf("%s-node%d", mnPrefix, i), fmt.Sprintf("%s.%d", mnSubnet, i+1),
			fmt.Sprintf("%s.%d.0/24", mnPodNet, mnPodBase+i-1)})
	}
	// logs has the last lines of every daemon's log, the containerds' too.
	logs := func() string {
		files := []string{"logs/apiserver.log", "logs/scheduler.log", "logs/controller-manager.log"}
		for _, n := range nodes {
			files = append(files, "logs/kubelet-"+n.name+".log", "logs/proxy-"+n.name+".log", filepath.Join(n.name, "containerd", "testenv.log"))
		}
		return tailLogs(dir, files...)
	}

	t.Cleanup(func() {
		// The daemons' pids, and the containerds' (testenv's).
		running := pids(filepath.Join(dir, "run", "*.pid"), filepath.Join(dir, "*", "containerd", "testenv.pid"))
		start := time.Now()
		if out, err := run(2*time.Minute, "hack/multinode.sh", "--down"); err != nil {
			t.Errorf("multinode.sh --down: %v\n%s", err, out)
		}
		t.Logf("multinode.sh --down took %v", time.Since(start).Round(100*time.Millisecond))
		waitStopped(t, running)
		if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil || strings.Contains(string(out), mnPrefix+"-") {
			t.Errorf("namespaces left after --down: %v\n%s", err, out)
		}
		links := []string{mnPrefix + "-br"}
		for i := range nodes {
			links = append(links, fmt.Sprintf("%s-veth%d", mnPrefix, i+1))
		}
		for _, l := range links {
			if _, err := net.InterfaceByName(l); err == nil {
				t.Errorf("link %s left after --down", l)
			}
		}
		if out, err := exec.Command("iptables-save").Output(); err != nil || strings.Contains(string(out), fmt.Sprintf("%s.%d.", mnPodNet, mnPodBase)) {
			t.Errorf("rules for the test's pod ranges left in the host after --down: %v\n%s", err, out)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs())
		}
	})
	start := time.Now()
	if out, err := run(5*time.Minute, "hack/multinode.sh"); err != nil {
		t.Fatalf("hack/multinode.sh: %v\n%s\n%s", err, out, logs())
	}
	failOnForbidden(t, filepath.Join(dir, "logs", "apiserver.log"))
	t.Logf("hack/multinode.sh took %v", time.Since(start).Round(100*time.Millisecond))

	c, err := client.FromConfig(filepath.Join(dir, "config"), "", "keel-e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx10s := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 10*time.Second)
	}

	// Both nodes Ready, with the addresses and podCIDRs the script gave
	// them; each routes the other's podCIDR through its InternalIP.
	testutil.Eventually(t, 2*time.Minute, "both nodes Ready", func() error {
		ctx, cancel := ctx10s()
		defer cancel()
		for _, n := range nodes {
			got, err := c.Nodes().Get(ctx, n.name)
			if err != nil {
				return err
			}
			if !api.IsNodeReady(got) {
				return fmt.Errorf("node %s not Ready: %v", n.name, got.GetStatus().GetConditions())
			}
			var ips []string
			for _, a := range got.GetStatus().GetAddresses() {
				if a.GetType() == api.NodeInternalIP {
					ips = append(ips, a.GetAddress())
				}
			}
			if !slices.Equal(ips, []string{n.ip}) || got.GetSpec().GetPodCidr() != n.podCIDR {
				return fmt.Errorf("node %s: InternalIPs %v, podCIDR %q; want %s, %s", n.name, ips, got.GetSpec().GetPodCidr(), n.ip, n.podCIDR)
			}
		}
		return nil
	})
	for i, n := range nodes {
		other := nodes[1-i]
		want := other.podCIDR + " via " + other.ip + " dev eth0"
		testutil.Eventually(t, 30*time.Second, "host-gw route on "+n.name, func() error {
			out, err := exec.Command("ip", "-n", n.name, "-4", "route", "show", "proto", "77").CombinedOutput()
			if err != nil || !strings.Contains(string(out), want) {
				return fmt.Errorf("routes of %s: %v\n%s\nwant %q", n.name, err, out, want)
			}
			return nil
		})
	}

	// A Deployment of two web servers answering with their own name, kept
	// apart by anti-affinity on the hostname: one on each node.
	manifest := filepath.Join(dir, "web.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchLabels: {app: web}
            topologyKey: kubernetes.io/hostname
      containers:
      - name: httpd
        image: registry.keel.test/busybox:1.35
        command: ["sh", "-c", "hostname > /var/www/index.html; exec httpd -f -p 8080 -h /var/www"]
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := keelctl("apply", "-f", manifest); err != nil {
		t.Fatalf("keelctl apply: %v\n%s", err, out)
	}
	podOn := map[string]*corev1.Pod{} // node name → its web pod
	testutil.Eventually(t, 2*time.Minute, "a web pod running on each node", func() error {
		ctx, cancel := ctx10s()
		defer cancel()
		l, err := c.Pods("default").List(ctx, client.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		clear(podOn)
		for _, p := range l.Items {
			if p.GetStatus().GetPhase() == api.PodRunning && p.GetStatus().GetPodIp() != "" {
				podOn[p.GetSpec().GetNodeName()] = p
			}
		}
		for _, n := range nodes {
			if podOn[n.name] == nil {
				return fmt.Errorf("no running web pod on %s (of %d pods)", n.name, len(l.Items))
			}
		}
		return nil
	})
	var names []string
	for _, n := range nodes {
		pod := podOn[n.name]
		names = append(names, pod.GetMetadata().GetName())
		if ip, err := netip.ParseAddr(pod.GetStatus().GetPodIp()); err != nil || !netip.MustParsePrefix(n.podCIDR).Contains(ip) {
			t.Errorf("pod %s on %s: IP %s outside the node's podCIDR %s", pod.GetMetadata().GetName(), n.name, pod.GetStatus().GetPodIp(), n.podCIDR)
		}
	}
	// responses keeps the lines of out that are a web pod's name.
	responses := func(out string, seen map[string]bool) {
		for _, line := range strings.Split(out, "\n") {
			if slices.Contains(names, strings.TrimSpace(line)) {
				seen[strings.TrimSpace(line)] = true
			}
		}
	}
	// bothSeen is nil once seen holds both pods' names.
	bothSeen := func(seen map[string]bool, out string, err error) error {
		if len(seen) == len(names) {
			return nil
		}
		return fmt.Errorf("answers so far from %v of %v; last: %v\n%s", seen, names, err, out)
	}

	// Pod to pod across nodes, on pod IPs. (Every URL names its port and
	// wget gets no -T: busybox-static's wget crashes without them.)
	for i, n := range nodes {
		from, to := podOn[n.name], podOn[nodes[1-i].name]
		testutil.Eventually(t, time.Minute, "pod on "+n.name+" reaching the pod on the other node", func() error {
			out, err := keelctl("exec", from.GetMetadata().GetName(), "--", "wget", "-q", "-O", "-", "http://"+to.GetStatus().GetPodIp()+":8080/")
			if err != nil || strings.TrimSpace(out) != to.GetMetadata().GetName() {
				return fmt.Errorf("wget %s from %s: %v\n%s", to.GetStatus().GetPodIp(), from.GetMetadata().GetName(), err, out)
			}
			return nil
		})
	}

	ctx, cancel := ctx10s()
	svc, err := c.Services("default").Get(ctx, "web")
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	clusterIP, nodePort := svc.GetSpec().GetClusterIp(), svc.GetSpec().GetPorts()[0].GetNodePort()

	// The ClusterIP from a pod on each node reaches both pods, the one on
	// the other node too.
	for _, n := range nodes {
		from := podOn[n.name].GetMetadata().GetName()
		seen := map[string]bool{}
		loop := fmt.Sprintf("for i in 1 2 3 4 5 6; do wget -q -O - http://%s:80/; done", clusterIP)
		testutil.Eventually(t, time.Minute, "the ClusterIP reaching both pods from "+n.name, func() error {
			out, err := keelctl("exec", from, "--", "sh", "-c", loop)
			responses(out, seen)
			return bothSeen(seen, out, err)
		})
	}

	// The NodePort at each node's InternalIP, from the other node's
	// namespace, reaches both pods.
	for i, n := range nodes {
		from := nodes[1-i].name
		url := fmt.Sprintf("http://%s:%d/", n.ip, nodePort)
		seen := map[string]bool{}
		testutil.Eventually(t, time.Minute, "the NodePort at "+n.ip+" from "+from, func() error {
			out, err := run(20*time.Second, "ip", "netns", "exec", from, "busybox", "wget", "-q", "-O", "-", url)
			responses(out, seen)
			return bothSeen(seen, out, err)
		})
	}

	// A second NodePort Service over the same pods, with
	// externalTrafficPolicy Local: at each node's InternalIP, from the
	// other node's namespace, only the pod on that node answers.
	localManifest := filepath.Join(dir, "web-local.yaml")
	if err := os.WriteFile(localManifest, []byte(`apiVersion: v1
kind: Service
metadata:
  name: web-local
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := keelctl("apply", "-f", localManifest); err != nil {
		t.Fatalf("keelctl apply: %v\n%s", err, out)
	}
	ctx, cancel = ctx10s()
	localSvc, err := c.Services("default").Get(ctx, "web-local")
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	localNodePort := localSvc.GetSpec().GetPorts()[0].GetNodePort()
	for i, n := range nodes {
		from, want := nodes[1-i].name, podOn[n.name].GetMetadata().GetName()
		url := fmt.Sprintf("http://%s:%d/", n.ip, localNodePort)
		get := func() (string, error) {
			out, err := run(20*time.Second, "ip", "netns", "exec", from, "busybox", "wget", "-q", "-O", "-", url)
			return strings.TrimSpace(out), err
		}
		testutil.Eventually(t, time.Minute, "the Local NodePort at "+n.ip+" from "+from, func() error {
			if out, err := get(); err != nil || out != want {
				return fmt.Errorf("wget %s from %s: %v\n%s\nwant %s", url, from, err, out, want)
			}
			return nil
		})
		for range 8 {
			if out, err := get(); err != nil || out != want {
				t.Errorf("externalTrafficPolicy Local: wget %s from %s: %v %q, want only the node's own pod %s", url, from, err, out, want)
			}
		}
	}

	// Each node's cluster DNS resolves the Service's name.
	for _, n := range nodes {
		from := podOn[n.name].GetMetadata().GetName()
		testutil.Eventually(t, time.Minute, "the Service's name resolved on "+n.name, func() error {
			out, err := keelctl("exec", from, "--", "nslookup", "web.default.svc.cluster.local")
			if err != nil || !strings.Contains(out, "Address: "+clusterIP) {
				return fmt.Errorf("nslookup in pod %s: %v\n%s", from, err, out)
			}
			return nil
		})
	}

	// Volumes and their pods on the right node, on the same cluster.
	testMultiNodeStorage(t, dir, c, nodes, keelctl)
}
