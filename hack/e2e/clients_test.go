package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// clientsCluster is the cluster the tests of Kubernetes' own clients
// (kubectl, Helm) drive: keel-apiserver built from the tree (embedded
// etcd, authorization Node,RBAC) and, with workloads, keel-scheduler,
// keel-controller-manager and a hollow kubelet (--runtime fake) running
// the node hollow-0, so that Deployments roll out without containers.
type clientsCluster struct {
	dir, pkiDir, server string
	// kubeconfig is a standard kubeconfig as hack/local-up.sh writes it,
	// with the contexts keel (the admin, namespace default; current) and
	// eve (a user whom no binding names).
	kubeconfig string
	// env is the clients' environment: KUBECONFIG, and a HOME of the
	// test's own (kubectl's and Helm's caches).
	env []string
}

func startClientsCluster(t *testing.T, workloads bool) *clientsCluster {
	t.Helper()
	bin := binaries(t)
	c := &clientsCluster{dir: t.TempDir()}
	c.pkiDir = filepath.Join(c.dir, "pki")
	if _, err := pki.Init(pki.InitOptions{Dir: c.pkiDir, Hostname: "localhost",
		Nodes: []pki.Node{{Name: "hollow-0", IPs: []net.IP{net.ParseIP("127.0.0.1")}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.IssueInDir(c.pkiDir, "eve", pki.CertSpec{CommonName: "eve", Client: true}); err != nil {
		t.Fatal(err)
	}
	p := daemontest.FreePorts(t, 6)
	c.server = p[0]
	api := daemontest.Start(t, filepath.Join(bin, "apiserver"), "--data-dir", filepath.Join(c.dir, "etcd"), "--embedded-etcd-unsafe-no-fsync",
		"--secure-address", c.server, "--http-address", p[1], "--authorization-mode", "Node,RBAC",
		"--tls-cert-file", pki.CertPath(c.pkiDir, pki.APIServerName), "--tls-private-key-file", pki.KeyPath(c.pkiDir, pki.APIServerName),
		"--client-ca-file", pki.CertPath(c.pkiDir, pki.CAName), "--log-level", "info",
		"--service-account-key-file", filepath.Join(c.pkiDir, pki.ServiceAccountPublicKeyFile),
		"--service-account-signing-key-file", filepath.Join(c.pkiDir, pki.ServiceAccountKeyFile))
	api.WaitReady(t, "http://"+p[1]+"/readyz", time.Minute)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("apiserver log (tail):\n%s", api.Tail(40))
		}
	})

	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	cert := func(name string) string { return pki.CertPath(c.pkiDir, name) }
	key := func(name string) string { return pki.KeyPath(c.pkiDir, name) }
	conf := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: keel
  cluster: {server: %q, certificate-authority: %q}
users:
- name: admin
  user: {client-certificate: %q, client-key: %q}
- name: eve
  user: {client-certificate: %q, client-key: %q}
contexts:
- name: keel
  context: {cluster: keel, user: admin, namespace: default}
- name: eve
  context: {cluster: keel, user: eve, namespace: default}
current-context: keel
`, "https://"+c.server, cert(pki.CAName), cert(pki.AdminName), key(pki.AdminName), cert("eve"), key("eve"))
	if err := os.WriteFile(c.kubeconfig, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c.env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "HOME="+filepath.Join(c.dir, "home"))
	if !workloads {
		// Pods need their namespace's default ServiceAccount, which no
		// controller-manager makes here.
		if out, err := c.kubectl(context.Background(), "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default}\n", "create", "-f", "-"); err != nil {
			t.Fatalf("creating the default ServiceAccount: %v\n%s", err, out)
		}
		return c
	}
	daemontest.Start(t, filepath.Join(bin, "scheduler"), "--kubeconfig", daemontest.KubeconfigTLS(t, c.pkiDir, pki.SchedulerName, c.server),
		"--http-address", p[2], "--log-level", "warn")
	cm := daemontest.Start(t, filepath.Join(bin, "controller-manager"), "--kubeconfig", daemontest.KubeconfigTLS(t, c.pkiDir, pki.ControllerManagerName, c.server),
		"--http-address", p[3], "--use-service-account-credentials", "--root-ca-file", pki.CertPath(c.pkiDir, pki.CAName), "--log-level", "warn")
	kubelet := daemontest.Start(t, filepath.Join(bin, "kubelet"), "--server", c.server, "--pki-dir", c.pkiDir, "--node-name", "hollow-0",
		"--runtime", "fake", "--hollow-nodes", "1", "--hollow-node-prefix", "hollow",
		"--node-ip", "127.0.0.1", "--healthz-address", p[4], "--port", p[5][strings.LastIndexByte(p[5], ':')+1:],
		"--root-dir", filepath.Join(c.dir, "kubelet"), "--log-level", "warn")
	kubelet.WaitReady(t, "http://"+p[4]+"/readyz", time.Minute)
	cm.WaitReady(t, "http://"+p[3]+"/readyz", time.Minute)
	testutil.Eventually(t, time.Minute, "the node Ready and the default ServiceAccount made", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		out, err := c.kubectl(ctx, "", "get", "node", "hollow-0", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil || out != "True" {
			return fmt.Errorf("node hollow-0 Ready: %q %v", out, err)
		}
		if out, err := c.kubectl(ctx, "", "get", "serviceaccount", "default", "-o", "name"); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	return c
}

// kubectlPath is the installed kubectl. Without one the test is missing
// a part (testutil.Missing): skipped on a developer's machine, failed in
// CI, whose hack/install-deps.sh builds it.
func kubectlPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kubectl")
	if err != nil {
		testutil.Missing(t, "kubectl is not installed (hack/install-deps.sh installs it)")
	}
	return path
}

// kubectl runs the installed kubectl with the cluster's kubeconfig and
// returns its combined output.
func (c *clientsCluster) kubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	return c.run(ctx, stdin, "kubectl", args...)
}

// run runs the command name (found on PATH) in the clients' environment
// and returns its combined output.
func (c *clientsCluster) run(ctx context.Context, stdin, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = c.env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
