package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/etcdserver"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// TestHAControlPlaneSurvivesLosingAnApiserverAndTheLeaders runs an HA
// control plane as separate processes: a three-member etcd cluster (mutual
// TLS between members and to clients, certificates of keelctl pki init), two
// apiservers (each given every etcd member), two schedulers and two
// controller-managers (leader-elected, each as itself over TLS under
// RBAC, refused nothing), and a hollow kubelet with three nodes, every
// client listing both apiservers. A Deployment rolls out; then one
// apiserver, the etcd leader and the leading scheduler and
// controller-manager are killed (SIGKILL). A write and a watch still work
// through the surviving apiserver, and scaling the Deployment up still ends
// with every replica ready: etcd elects a new leader among the two members
// left, the apiservers' etcd clients fail over to them, clients fail over to
// the other apiserver and the standbys take over.
func TestHAControlPlaneSurvivesLosingAnApiserverAndTheLeaders(t *testing.T) {
	etcdBin := "/usr/bin/etcd"
	if _, err := os.Stat(etcdBin); err != nil {
		testutil.Missing(t, "needs Debian's etcd-server (hack/install-deps.sh)")
	}
	bin := binaries(t)
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	// A client certificate per hollow node: each authenticates as
	// system:node:hollow-i, so the Node authorizer decides for it.
	var nodes []pki.Node
	for i := range 3 {
		nodes = append(nodes, pki.Node{Name: fmt.Sprintf("hollow-%d", i), IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	}
	if _, err := pki.Init(pki.InitOptions{Dir: pkiDir, Hostname: "localhost", Nodes: nodes}); err != nil {
		t.Fatal(err)
	}
	p := daemontest.FreePorts(t, 18)
	port := func(i int) string { return p[i][strings.LastIndexByte(p[i], ':')+1:] }

	// A three-member etcd cluster, mutual TLS on client and peer URLs with
	// the certificates of keelctl pki init (etcd's own CA): member i has
	// client URL p[12+2i] and peer URL p[13+2i].
	const members = 3
	var etcds []*daemontest.Proc
	var etcdURLs, peers []string
	for i := range members {
		etcdURLs = append(etcdURLs, "https://"+p[12+2*i])
		peers = append(peers, fmt.Sprintf("etcd%d=https://%s", i, p[13+2*i]))
	}
	serving, etcdDir := etcdserver.ServingFiles(pkiDir), filepath.Join(pkiDir, pki.EtcdDir)
	for i := range members {
		etcds = append(etcds, daemontest.Start(t, etcdBin, "--name", fmt.Sprintf("etcd%d", i), "--data-dir", filepath.Join(dir, fmt.Sprintf("etcd%d", i)),
			"--listen-client-urls", etcdURLs[i], "--advertise-client-urls", etcdURLs[i],
			"--cert-file", serving.CertFile, "--key-file", serving.KeyFile, "--client-cert-auth", "--trusted-ca-file", serving.TrustedCAFile,
			"--listen-peer-urls", "https://"+p[13+2*i], "--initial-advertise-peer-urls", "https://"+p[13+2*i],
			"--peer-cert-file", pki.CertPath(etcdDir, pki.EtcdPeerName), "--peer-key-file", pki.KeyPath(etcdDir, pki.EtcdPeerName),
			"--peer-client-cert-auth", "--peer-trusted-ca-file", serving.TrustedCAFile,
			"--initial-cluster", strings.Join(peers, ","), "--initial-cluster-state", "new", "--initial-cluster-token", "keel-ha-e2e",
			"--logger", "zap", "--log-outputs", "stderr"))
	}
	// etcd's /health and /metrics are on its client URLs: the test reads
	// them with the apiserver's etcd client certificate.
	etcdTLS, err := pki.ClientTLSConfig(serving.TrustedCAFile, pki.CertPath(pkiDir, pki.APIServerEtcdClientName), pki.KeyPath(pkiDir, pki.APIServerEtcdClientName), "")
	if err != nil {
		t.Fatal(err)
	}
	etcdHTTP := &http.Client{Transport: &http.Transport{TLSClientConfig: etcdTLS}}
	defer etcdHTTP.CloseIdleConnections()
	// A certificate of the cluster CA (the admin's) does not open etcd.
	otherCATLS, err := pki.ClientTLSConfig(serving.TrustedCAFile, pki.CertPath(pkiDir, pki.AdminName), pki.KeyPath(pkiDir, pki.AdminName), "")
	if err != nil {
		t.Fatal(err)
	}
	// /health answers 200 only once the member has a leader and a quorum
	// read through it succeeds.
	testutil.Eventually(t, time.Minute, "the etcd cluster healthy", func() error {
		for _, u := range etcdURLs {
			if b := get(etcdHTTP, u+"/health"); !strings.Contains(b, `"health":"true"`) {
				return fmt.Errorf("%s/health: %q", u, b)
			}
		}
		return nil
	})

	otherCA := &http.Client{Transport: &http.Transport{TLSClientConfig: otherCATLS}}
	if _, err := otherCA.Get(etcdURLs[0] + "/health"); err == nil {
		t.Errorf("etcd answered a client with a certificate of the cluster CA, not etcd's")
	}
	otherCA.CloseIdleConnections()

	// The apiservers reach etcd over mutual TLS, and serve only TLS
	// (Node,RBAC, the default) to the
	// scheduler and controller-manager, each with its own certificate, to
	// the hollow kubelet, whose nodes are each themselves, and to the test
	// as the admin.
	var apis []*daemontest.Proc
	servers := []string{p[2], p[3]}
	for i, addr := range servers {
		http := p[4+i]
		apis = append(apis, daemontest.Start(t, filepath.Join(bin, "apiserver"), "--etcd-servers", strings.Join(etcdURLs, ","),
			"--etcd-cafile", serving.TrustedCAFile,
			"--etcd-certfile", pki.CertPath(pkiDir, pki.APIServerEtcdClientName), "--etcd-keyfile", pki.KeyPath(pkiDir, pki.APIServerEtcdClientName),
			"--secure-address", addr, "--http-address", http, "--log-level", "info",
			"--tls-cert-file", pki.CertPath(pkiDir, pki.APIServerName), "--tls-private-key-file", pki.KeyPath(pkiDir, pki.APIServerName),
			"--client-ca-file", pki.CertPath(pkiDir, pki.CAName)))
		waitHTTP(t, "http://"+http+"/readyz")
	}
	t.Cleanup(func() {
		for i, a := range apis {
			for _, line := range strings.Split(a.Out.String(), "\n") {
				if strings.Contains(line, "request forbidden") {
					t.Errorf("apiserver %d refused a request: %s", i, line)
				}
			}
		}
	})
	election := []string{"--leader-elect-lease-duration", "2s", "--leader-elect-renew-deadline", "1200ms", "--leader-elect-retry-period", "200ms", "--log-level", "warn"}
	type daemon struct {
		proc    *daemontest.Proc
		metrics string
	}
	var scheds, cms []daemon
	for i := range 2 {
		a := p[6+i]
		scheds = append(scheds, daemon{daemontest.Start(t, filepath.Join(bin, "scheduler"),
			append([]string{"--kubeconfig", daemontest.KubeconfigTLS(t, pkiDir, pki.SchedulerName, servers...), "--http-address", a}, election...)...), a})
		b := p[8+i]
		cms = append(cms, daemon{daemontest.Start(t, filepath.Join(bin, "controller-manager"),
			append([]string{"--kubeconfig", daemontest.KubeconfigTLS(t, pkiDir, pki.ControllerManagerName, servers...), "--http-address", b}, election...)...), b})
	}
	daemontest.Start(t, filepath.Join(bin, "kubelet"), "--server", strings.Join(servers, ","), "--pki-dir", pkiDir, "--node-name", "hollow-0", "--runtime", "fake",
		"--hollow-nodes", "3", "--hollow-node-prefix", "hollow", "--node-ip", "127.0.0.1", "--healthz-address", p[10], "--port", port(11),
		"--root-dir", filepath.Join(dir, "kubelet"), "--log-level", "warn")

	adminTLS, err := pki.ClientTLSConfig(pki.CertPath(pkiDir, pki.CAName), pki.CertPath(pkiDir, pki.AdminName), pki.KeyPath(pkiDir, pki.AdminName), "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Options{Servers: servers, TLS: adminTLS, UserAgent: "ha-e2e"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	n := int32(6)
	d := &appsv1.Deployment{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &appsv1.DeploymentSpec{Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "registry.keel.test/pause:3.9"}}}}},
	}
	readyIs := func(want int32) {
		t.Helper()
		testutil.Eventually(t, 2*time.Minute, "deployment web ready", func() error {
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			defer rcancel()
			cur, err := c.Deployments("default").Get(rctx, "web")
			if err != nil {
				return err
			}
			if st := cur.GetStatus(); st.GetReadyReplicas() != want || st.GetUpdatedReplicas() != want {
				return fmt.Errorf("deployment web: status %v, want %d ready", st, want)
			}
			return nil
		})
	}
	testutil.Eventually(t, 2*time.Minute, "the Deployment created", func() error {
		_, err := c.Deployments("default").Create(ctx, d, client.CreateOptions{})
		return err // the first create may race the default namespace's creation
	})
	readyIs(6)

	// Both apiservers keep the Service default/kubernetes, whose
	// Endpoints list every live apiserver.
	apiEndpoints := func(want ...string) {
		t.Helper()
		testutil.Eventually(t, time.Minute, "the kubernetes Endpoints listing "+strings.Join(want, " "), func() error {
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			defer rcancel()
			svc, err := c.Services("default").Get(rctx, "kubernetes")
			if err != nil {
				return err
			}
			if svc.GetSpec().GetClusterIp() != "10.96.0.1" {
				return fmt.Errorf("kubernetes Service on %q, want 10.96.0.1", svc.GetSpec().GetClusterIp())
			}
			eps, err := c.Endpoints("default").Get(rctx, "kubernetes")
			if err != nil {
				return err
			}
			var got []string
			for _, ss := range eps.GetSubsets() {
				for _, a := range ss.GetAddresses() {
					for _, p := range ss.GetPorts() {
						got = append(got, net.JoinHostPort(a.GetIp(), fmt.Sprint(p.GetPort())))
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				return fmt.Errorf("kubernetes Endpoints %v", got)
			}
			return nil
		})
	}
	apiEndpoints(slices.Sorted(slices.Values(servers))...)

	// Kill one apiserver, the etcd leader, and whichever scheduler and
	// controller-manager lead.
	leader := func(c *http.Client, urls []string, metric string) int {
		t.Helper()
		i := -1
		testutil.Eventually(t, 30*time.Second, metric+" on one of "+strings.Join(urls, " "), func() error {
			for j, u := range urls {
				if strings.Contains(get(c, u+"/metrics"), "\n"+metric+" 1\n") {
					i = j
					return nil
				}
			}
			return fmt.Errorf("no %s", metric)
		})
		return i
	}
	metricsURLs := func(ds []daemon) []string {
		var out []string
		for _, d := range ds {
			out = append(out, "http://"+d.metrics)
		}
		return out
	}
	kill := func(p *daemontest.Proc) {
		_ = p.Cmd.Process.Kill()
		<-p.Done()
	}
	killed := time.Now()
	kill(apis[0])
	etcdLeader := leader(etcdHTTP, etcdURLs, "etcd_server_is_leader")
	kill(etcds[etcdLeader])
	kill(scheds[leader(http.DefaultClient, metricsURLs(scheds), "keel_scheduler_leader")].proc)
	kill(cms[leader(http.DefaultClient, metricsURLs(cms), "keel_controller_manager_leader")].proc)
	survivors := append(append([]string{}, etcdURLs[:etcdLeader]...), etcdURLs[etcdLeader+1:]...)
	newLeader := survivors[leader(etcdHTTP, survivors, "etcd_server_is_leader")] // elected among the two left
	t.Logf("killed apiserver %s and etcd leader %s; %s leads etcd %v after the kills began",
		servers[0], etcdURLs[etcdLeader], newLeader, time.Since(killed).Round(time.Millisecond))

	// A write, and a watch seeing it, through the surviving apiserver alone.
	only, err := client.New(client.Options{Servers: servers[1:], TLS: adminTLS, UserAgent: "ha-e2e-survivor"})
	if err != nil {
		t.Fatal(err)
	}
	defer only.Close()
	attempt := 0
	testutil.Eventually(t, time.Minute, "a ConfigMap written and watched through the surviving apiserver", func() error {
		attempt++ // a fresh name each attempt, so the event seen is this attempt's write
		name := fmt.Sprintf("after-failover-%d", attempt)
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		w, err := only.ConfigMaps("default").Watch(wctx, client.WatchOptions{FieldSelector: "metadata.name=" + name})
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		defer w.Stop()
		cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"}, Data: map[string]string{"k": "v"}}
		created, err := only.ConfigMaps("default").Create(wctx, cm, client.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create: %w", err)
		}
		for {
			ev, err := w.Next()
			if err != nil {
				return fmt.Errorf("watch: %w", err)
			}
			if ev.Type == client.Added && ev.Object.GetMetadata().GetResourceVersion() == created.GetMetadata().GetResourceVersion() {
				return nil
			}
		}
	})
	t.Logf("write and watch through the surviving apiserver worked at attempt %d, %v after the kills began",
		attempt, time.Since(killed).Round(time.Millisecond))

	testutil.Eventually(t, time.Minute, "the Deployment scaled through the other apiserver", func() error {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		cur, err := c.Deployments("default").Get(rctx, "web")
		if err != nil {
			return err
		}
		nine := int32(9)
		cur.Spec.Replicas = &nine
		_, err = c.Deployments("default").Update(rctx, cur, client.UpdateOptions{})
		return err
	})
	readyIs(9)
	// The killed apiserver's lease expires (15s): only the survivor is listed.
	apiEndpoints(servers[1])
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	testutil.Eventually(t, time.Minute, "URL answering", func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	})
}

func get(c *http.Client, url string) string {
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
