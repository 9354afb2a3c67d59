package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	clientconfig "keel.dev/keel/pkg/client/config"
	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/proxy/app"
	"keel.dev/keel/pkg/testutil"
)

// These tests run the real keel-proxy binary, built once. The one that
// programs iptables runs in a network namespace of its own (see
// TestServicesInANetworkNamespace), never on the host's rules.
var binary string

// inNetns is set in the test process re-executed inside a new network
// namespace; it carries the path of the binary already built.
const inNetns = "KEEL_PROXY_TEST_BINARY"

func TestMain(m *testing.M) {
	if b := os.Getenv(inNetns); b != "" {
		binary = b
		os.Exit(m.Run())
	}
	daemontest.Main(m, "keel-proxy", &binary)
}

func TestBadFlags(t *testing.T) {
	daemontest.ExitsWith(t, binary, `--cluster-cidr: cluster CIDR "10.244.0.0": want an IPv4 CIDR`, "--cluster-cidr", "10.244.0.0")
	daemontest.ExitsWith(t, binary, `--cluster-cidr: cluster CIDR "fd00::/8": want an IPv4 CIDR`, "--cluster-cidr", "fd00::/8")
	daemontest.ExitsWith(t, binary, "--masquerade-bit: masquerade bit 32: want 0..31", "--masquerade-bit", "32")
	daemontest.ExitsWith(t, binary, `--dns-address "10.96.0" is not an IPv4 address`, "--dns-address", "10.96.0")
	daemontest.ExitsWith(t, binary, "--min-sync-period at most --sync-period", "--sync-period", "1s", "--min-sync-period", "2s")
	daemontest.ExitsWith(t, binary, `--dns-interface "a-much-too-long-name" must be 1 to 15 characters`, "--dns-interface", "a-much-too-long-name")
}

func TestShippedConfigAndUnit(t *testing.T) {
	cmd := app.NewCommand()
	daemontest.ShippedConfig(t, cmd.Flags(), "../../manifests/systemd/proxy.yaml",
		map[string]string{"kubeconfig": "/etc/keel/proxy.conf", "dns-address": "10.96.0.10", "cluster-cidr": "10.244.0.0/16"})
	if _, err := clientconfig.Load("../../manifests/systemd/proxy.conf"); err != nil {
		t.Errorf("the example client configuration: %v", err)
	}
	daemontest.VerifyUnit(t, "../../manifests/systemd/keel-proxy.service", binary)
}

// TestServicesInANetworkNamespace re-runs itself inside a new network
// namespace (unshare --net), where it starts an apiserver, a backend
// listening on a local interface and keel-proxy, then checks through real
// iptables: the Service answers on its ClusterIP and on its NodePort at a
// node address; a Service without endpoints refuses connections; its name
// resolves through the proxy's DNS; a deleted Service's rules go; and
// --cleanup removes every rule and the DNS interface.
func TestServicesInANetworkNamespace(t *testing.T) {
	if os.Getenv(inNetns) == "" {
		if os.Geteuid() != 0 {
			testutil.Missing(t, "keel-proxy programs iptables in a network namespace: needs root")
		}
		for _, tool := range []string{"unshare", "ip", "iptables-restore", "iptables-save"} {
			if _, err := exec.LookPath(tool); err != nil {
				testutil.Missing(t, tool+" is not installed")
			}
		}
		cmd := exec.Command("unshare", "--net", "--", os.Args[0], "-test.run=^TestServicesInANetworkNamespace$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), inNetns+"="+binary)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("in a new network namespace: %v\n%s", err, out)
		}
		t.Logf("in a new network namespace:\n%s", out)
		return
	}

	sh := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	sh("ip", "link", "set", "lo", "up")
	// The backend (a pod's address) and the node's address, on empty
	// bridges (this kernel has no dummy driver): both local, so the rules'
	// DNAT delivers here.
	const backendIP, nodeIP = "10.244.5.5", "192.168.77.1"
	for name, ip := range map[string]string{"backend": backendIP, "node": nodeIP} {
		sh("ip", "link", "add", name, "type", "bridge")
		sh("ip", "addr", "add", ip+"/32", "dev", name)
		sh("ip", "link", "set", name, "up")
	}
	// A default route, as a node has: without one, a connection to a
	// ClusterIP fails before the rules can rewrite it.
	sh("ip", "route", "add", "default", "dev", "node")
	l, err := net.Listen("tcp", backendIP+":8080")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello from the backend") })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	// keel-proxy runs as system:kube-proxy, under RBAC.
	apiServer := testserver.StartSecure(t, nil, nil)
	apiServer.FailOnForbidden()
	kubeconfig := apiServer.Kubeconfig(pki.ProxyName)
	resolvConf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolvConf, []byte("nameserver 127.0.0.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr := daemontest.FreePorts(t, 1)[0]
	const dnsIP = "10.96.0.10"
	proxy := daemontest.Start(t, binary, "--kubeconfig", kubeconfig, "--http-address", httpAddr, "--min-sync-period", "100ms",
		"--dns-address", dnsIP, "--resolv-conf", resolvConf)
	proxy.WaitReady(t, "http://"+httpAddr+"/readyz", 30*time.Second)

	c, err := client.New(client.Options{Servers: []string{apiServer.Addr}, TLS: apiServer.TLS(pki.AdminName), UserAgent: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svc, err := c.Services("default").Create(ctx, &corev1.Service{
		Metadata: &metav1.ObjectMeta{Name: "echo", Namespace: "default"},
		Spec: &corev1.ServiceSpec{Type: "NodePort", Selector: map[string]string{"app": "echo"},
			Ports: []*corev1.ServicePort{{Name: "http", Protocol: "TCP", Port: 80, TargetPort: api.IntOrStringFromInt(8080)}}},
	}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clusterIP, nodePort := svc.GetSpec().GetClusterIp(), svc.GetSpec().GetPorts()[0].GetNodePort()
	clusterURL := "http://" + clusterIP + ":80/"
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	get := func(url string) error {
		resp, err := hc.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "hello from the backend" {
			return fmt.Errorf("GET %s: %s %q", url, resp.Status, b)
		}
		return nil
	}

	testutil.Eventually(t, 30*time.Second, "a Service without endpoints refusing connections", func() error {
		if err := get(clusterURL); err == nil || !strings.Contains(err.Error(), "connection refused") {
			return fmt.Errorf("GET %s: %v, want connection refused", clusterURL, err)
		}
		return nil
	})
	if _, err := client.For[*discoveryv1.EndpointSlice](c, "default").Create(ctx, &discoveryv1.EndpointSlice{
		Metadata:    &metav1.ObjectMeta{Name: "echo-1", Namespace: "default", Labels: map[string]string{api.LabelServiceName: "echo"}},
		AddressType: api.AddressTypeIPv4, Endpoints: []*discoveryv1.Endpoint{{Addresses: []string{backendIP}}},
		Ports: []*discoveryv1.EndpointPort{{Name: proto.String("http"), Port: proto.Int32(8080), Protocol: proto.String("TCP")}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the Service on its ClusterIP", func() error { return get(clusterURL) })
	nodeURL := fmt.Sprintf("http://%s:%d/", nodeIP, nodePort)
	testutil.Eventually(t, 30*time.Second, "the Service on its NodePort", func() error { return get(nodeURL) })

	testutil.Eventually(t, 30*time.Second, "the Service's name resolved by the proxy's DNS", func() error {
		q := new(mdns.Msg).SetQuestion("echo.default.svc.cluster.local.", mdns.TypeA)
		r, _, err := (&mdns.Client{Timeout: 2 * time.Second}).Exchange(q, net.JoinHostPort(dnsIP, "53"))
		if err != nil {
			return err
		}
		for _, rr := range r.Answer {
			if a, ok := rr.(*mdns.A); ok && a.A.String() == clusterIP {
				return nil
			}
		}
		return fmt.Errorf("answer %v, want %s", r.Answer, clusterIP)
	})

	if _, _, err := c.Services("default").Delete(ctx, "echo", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the deleted Service's rules gone", func() error {
		if out := sh("iptables-save"); strings.Contains(out, clusterIP) || strings.Contains(out, fmt.Sprint(nodePort)) {
			return errors.New("iptables-save still names the Service's ClusterIP or NodePort")
		}
		return nil
	})

	proxy.Stop(t)
	if out, err := exec.Command(binary, "--cleanup").CombinedOutput(); err != nil {
		t.Fatalf("keel-proxy --cleanup: %v\n%s", err, out)
	}
	if out := sh("iptables-save"); strings.Contains(out, "KEEL-") {
		t.Errorf("rules left after --cleanup:\n%s", out)
	}
	if _, err := net.InterfaceByName("keel-dns"); err == nil {
		t.Error("the DNS interface keel-dns left after --cleanup")
	}
}
