package main

// End-to-end tests: the real keel-kubelet binary on a private, real
// containerd (pkg/containerdtest) with the CNI bridge plugin, an in-process
// apiserver that proxies logs and exec to the kubelet over TLS, and a local
// registry for a real image pull. They need root, containerd, runc, the CNI
// plugins, busybox-static and docker-registry (hack/install-deps.sh), and
// skip with the reason otherwise.
//
// Everything they create is theirs: the bridge keel-e2e0, the pod range
// 10.244.77.0/24, the cgroup /keel-e2e, the masquerade rule of that range;
// all removed at the end. Traffic goes only to the pods' addresses.

import (
	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/daemon/daemontest"

	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/auth/serviceaccount"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/containerdtest"
	"keel.dev/keel/pkg/kubelet/network"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/registrytest"
	"keel.dev/keel/pkg/testimages"
	"keel.dev/keel/pkg/testutil"
)

const (
	e2eNode     = "e2e-node"
	e2ePodCIDR  = "10.244.77.0/24"
	e2eBridge   = "keel-e2e0"
	e2eCgroup   = "/keel-e2e"
	e2eNS       = "default"
	busybox     = testimages.BusyboxRef
	e2eDeadline = 60 * time.Second
)

type e2eEnv struct {
	t   *testing.T
	dir string
	ctd *containerdtest.Containerd
	reg *registrytest.Registry
	api *testserver.APIServer
	// secure is a second apiserver on the same etcd, as pods meet it:
	// TLS, Node,RBAC, ServiceAccount tokens.
	secure   *testserver.APIServer
	c        *client.Client
	kubelet  *proc
	args     []string
	health   string
	ctlCfg   string
	ipamDir  string
	registry string // the registry's address, as image references name it
	caPool   *x509.CertPool
	// ctdRestarted: ctd was killed and replaced (the replacement removes
	// the pods when it stops).
	ctdRestarted bool
}

func setupE2E(t *testing.T) *e2eEnv {
	t.Helper()
	if err := containerdtest.Available(); err != nil {
		testutil.Missing(t, err.Error())
	}
	for _, p := range []string{testimages.DefaultBusyboxPath, registrytest.DefaultBinary, "/usr/lib/cni/bridge"} {
		if _, err := os.Stat(p); err != nil {
			testutil.Missing(t, p+" is missing (hack/install-deps.sh)")
		}
	}
	ctx := context.Background()
	e := &e2eEnv{t: t, dir: t.TempDir()}
	e.reg = registrytest.New(t)
	e.registry = e.reg.Addr
	bb, err := testimages.Busybox("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.Push(ctx, bb); err != nil {
		t.Fatal(err)
	}
	e.ctd = containerdtest.New(t, containerdtest.Options{Registries: map[string]string{e.reg.Addr: "http://" + e.reg.Addr}}, true)

	pkiDir := filepath.Join(e.dir, "pki")
	if _, err := pki.Init(pki.InitOptions{Dir: pkiDir, Hostname: "localhost", Nodes: []pki.Node{{Name: e2eNode, IPs: []net.IP{net.ParseIP("127.0.0.1")}}}}); err != nil {
		t.Fatal(err)
	}
	ktls, err := pki.ClientTLSConfig(pki.CertPath(pkiDir, pki.CAName), pki.CertPath(pkiDir, pki.APIServerKubeletClientName), pki.KeyPath(pkiDir, pki.APIServerKubeletClientName), "")
	if err != nil {
		t.Fatal(err)
	}
	saKey, err := serviceaccount.ReadPrivateKey(filepath.Join(pkiDir, pki.ServiceAccountKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	tokens := func(c *apiserver.Config) {
		c.ServiceAccountSigningKey = saKey
		c.ServiceAccountKeys = []crypto.PublicKey{saKey.Public()}
	}
	etcd, plain := testserver.StartAll(t, func(c *apiserver.Config) { c.KubeletClientTLS = ktls; tokens(c) })
	e.api = plain
	serverTLS, err := pki.ServerTLSConfig(pki.CertPath(pkiDir, pki.APIServerName), pki.KeyPath(pkiDir, pki.APIServerName), pki.CertPath(pkiDir, pki.CAName))
	if err != nil {
		t.Fatal(err)
	}
	serverTLS.ClientAuth = tls.VerifyClientCertIfGiven
	e.secure = testserver.StartWith(t, etcd.Endpoint, testserver.Options{TLS: serverTLS, Configure: func(c *apiserver.Config) {
		c.AuthorizationModes = slices.Clone(apiserver.DefaultAuthorizationModes)
		tokens(c)
	}})
	e.c, err = client.New(client.Options{Servers: []string{e.api.Addr}, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.c.Close() })
	// What the root-ca-cert-publisher would publish: every pod's token
	// volume projects it.
	ca, err := os.ReadFile(pki.CertPath(pkiDir, pki.CAName))
	if err != nil {
		t.Fatal(err)
	}
	e.caPool = x509.NewCertPool()
	e.caPool.AppendCertsFromPEM(ca)
	if _, err := e.c.ConfigMaps(e2eNS).Create(context.Background(), &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: api.RootCAConfigMapName},
		Data: map[string]string{"ca.crt": string(ca)}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	deleteBridge(t)
	e.ipamDir = filepath.Join(e.ctd.Dir, "ipam")
	t.Cleanup(func() { e.cleanupHost(t) })
	e.health = daemontest.FreePorts(t, 1)[0]
	port := strings.Split(daemontest.FreePorts(t, 1)[0], ":")[1]
	e.args = []string{
		"--server", e.api.Addr, "--insecure",
		"--node-name", e2eNode, "--node-ip", "127.0.0.1",
		"--pki-dir", pkiDir, "--address", "127.0.0.1", "--port", port,
		"--container-runtime-endpoint", e.ctd.Socket,
		"--root-dir", filepath.Join(e.dir, "root"), "--pod-log-dir", filepath.Join(e.dir, "logs"),
		"--cgroup-root", e2eCgroup,
		"--cni-conf-dir", e.ctd.CNIConfDir, "--cni-bridge", e2eBridge, "--cni-network-name", "keel-e2e", "--cni-ipam-data-dir", e.ipamDir,
		"--pod-cidr", e2ePodCIDR, "--cluster-cidr", "10.244.0.0/16",
		"--healthz-address", e.health, "--node-status-update-frequency", "1s",
	}
	e.startKubelet()
	if keelctl != "" {
		e.ctlCfg = filepath.Join(e.dir, "no-config")
	}
	return e
}

func (e *e2eEnv) startKubelet() {
	e.kubelet = start(e.t, e.args...)
	e.kubelet.waitReady(e.t, e.health, e2eDeadline)
}

func deleteBridge(t *testing.T) {
	if _, err := os.Stat("/sys/class/net/" + e2eBridge); err != nil {
		return
	}
	if out, err := exec.Command("ip", "link", "delete", e2eBridge).CombinedOutput(); err != nil {
		t.Errorf("deleting bridge %s: %v: %s", e2eBridge, err, out)
	}
}

// cleanupHost removes what the kubelet set up on the host, after
// containerd removed the pods (cleanups run last-registered first, and the
// containerd one was registered before).
func (e *e2eEnv) cleanupHost(t *testing.T) {
	if e.kubelet != nil {
		e.kubelet.Stop(t)
	}
	if !e.ctdRestarted {
		if err := e.ctd.RemoveAllPods(context.Background()); err != nil {
			t.Errorf("removing pods: %v", err)
		}
	}
	deleteBridge(t)
	if err := network.New(network.Config{}, nil, nil).RemoveMasquerade(e2ePodCIDR); err != nil {
		t.Errorf("removing the masquerade rule: %v", err)
	}
	// Volumes the kubelet had no chance to tear down (secrets on tmpfs).
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		var mounts []string
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], e.dir+"/") {
				mounts = append(mounts, f[4])
			}
		}
		for i := len(mounts) - 1; i >= 0; i-- {
			if err := syscall.Unmount(mounts[i], syscall.MNT_DETACH); err != nil {
				t.Errorf("unmounting %s: %v", mounts[i], err)
			}
		}
	}
	// Pod cgroups are removed with their pods; remove the root.
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + e2eCgroup)
	for _, d := range append(dirs, "/sys/fs/cgroup"+e2eCgroup) {
		subs, _ := filepath.Glob(d + "/pod*")
		for _, s := range subs {
			_ = os.Remove(s)
		}
		_ = os.Remove(d)
	}
}

func (e *e2eEnv) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*e2eDeadline)
	e.t.Cleanup(cancel)
	return ctx
}

func (e *e2eEnv) create(t *testing.T, obj proto.Message) {
	t.Helper()
	var err error
	switch o := obj.(type) {
	case *corev1.Pod:
		o.Spec.NodeName = e2eNode
		if o.Spec.TerminationGracePeriodSeconds == nil {
			o.Spec.TerminationGracePeriodSeconds = proto.Int64(2)
		}
		_, err = e.c.Pods(e2eNS).Create(e.ctx(), o, client.CreateOptions{})
	case *corev1.ConfigMap:
		_, err = e.c.ConfigMaps(e2eNS).Create(e.ctx(), o, client.CreateOptions{})
	case *corev1.Secret:
		_, err = e.c.Secrets(e2eNS).Create(e.ctx(), o, client.CreateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (e *e2eEnv) waitPod(t *testing.T, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(e2eDeadline)
	last := ""
	for {
		p, err := e.c.Pods(e2eNS).Get(e.ctx(), name)
		if err == nil && cond(p) {
			return p
		}
		if err != nil {
			last = err.Error()
		} else {
			last = describePod(p)
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s %s: not within %v; last: %s", name, what, e2eDeadline, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func describePod(p *corev1.Pod) string {
	s := "phase " + p.GetStatus().GetPhase()
	for _, c := range p.GetStatus().GetConditions() {
		s += fmt.Sprintf(" %s=%s", c.GetType(), c.GetStatus())
	}
	for _, cs := range append(append([]*corev1.ContainerStatus{}, p.GetStatus().GetInitContainerStatuses()...), p.GetStatus().GetContainerStatuses()...) {
		st := cs.GetState()
		switch {
		case st.GetRunning() != nil:
			s += fmt.Sprintf("; %s running", cs.GetName())
		case st.GetWaiting() != nil:
			s += fmt.Sprintf("; %s waiting %s (%s)", cs.GetName(), st.GetWaiting().GetReason(), st.GetWaiting().GetMessage())
		case st.GetTerminated() != nil:
			s += fmt.Sprintf("; %s terminated %s %d", cs.GetName(), st.GetTerminated().GetReason(), st.GetTerminated().GetExitCode())
		}
		s += fmt.Sprintf(" restarts=%d ready=%v", cs.GetRestartCount(), cs.GetReady())
	}
	return s
}

func runningReady(p *corev1.Pod) bool {
	return p.GetStatus().GetPhase() == api.PodRunning && api.IsPodReady(p)
}

func podCondition(p *corev1.Pod, typ string) string {
	return api.GetPodCondition(p.GetStatus(), typ).GetStatus()
}

// shell is a container running script under sh, ending on SIGTERM.
func shell(name, script string) *corev1.Container {
	return &corev1.Container{Name: name, Image: busybox, Command: []string{"sh", "-c", script}}
}

// forever keeps a script's container running until SIGTERM.
const forever = `trap "exit 0" TERM; sleep 3600 & wait`

// logs reads a container's log through keelctl (or the API when keelctl
// does not build).
func (e *e2eEnv) logs(t *testing.T, pod, container string, previous bool) string {
	t.Helper()
	if keelctl != "" {
		args := []string{"--config", e.ctlCfg, "--server", e.api.Addr, "--insecure", "-n", e2eNS, "logs", pod, "-c", container}
		if previous {
			args = append(args, "--previous")
		}
		out, err := exec.CommandContext(e.ctx(), keelctl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("keelctl %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	stream, err := e.c.API().Logs(e.ctx(), &apiv1.LogsRequest{Namespace: e2eNS, Name: pod, Container: container, Previous: previous})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return b.String()
		}
		if err != nil {
			t.Fatalf("logs %s/%s: %v", pod, container, err)
		}
		b.Write(chunk.GetData())
	}
}

// exec runs a command in a container through keelctl (or the API).
func (e *e2eEnv) exec(t *testing.T, pod, container string, cmd ...string) (string, int) {
	t.Helper()
	if keelctl != "" {
		args := append([]string{"--config", e.ctlCfg, "--server", e.api.Addr, "--insecure", "-n", e2eNS, "exec", pod, "-c", container, "--"}, cmd...)
		c := exec.CommandContext(e.ctx(), keelctl, args...)
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		err := c.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("keelctl exec: %v", err)
		}
		return stdout.String(), c.ProcessState.ExitCode()
	}
	resp, err := e.c.API().Exec(e.ctx(), &apiv1.ExecRequest{Namespace: e2eNS, Name: pod, Container: container, Command: cmd, TimeoutSeconds: 10})
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	return string(resp.GetStdout()), int(resp.GetExitCode())
}

func TestE2E(t *testing.T) {
	e := setupE2E(t)
	start := time.Now()
	// Everything independent runs in parallel; the kubelet restart comes
	// after.
	t.Run("pods", func(t *testing.T) {
		t.Run("web served to the host", e.testWeb)
		t.Run("two containers share localhost and an emptyDir", e.testShared)
		t.Run("init containers in order", e.testInit)
		t.Run("env, configMap and secret", e.testEnvAndVolumes)
		t.Run("liveness failure restarts", e.testLiveness)
		t.Run("readiness gates Ready", e.testReadiness)
		t.Run("restart policies and exit codes", e.testRestartPolicies)
		t.Run("graceful deletion", e.testGracefulDeletion)
		t.Run("image pulled from the registry", e.testPull)
		t.Run("service account token reaches the API", e.testServiceAccountToken)
	})
	if t.Failed() {
		return
	}
	t.Run("kubelet restart keeps containers", e.testKubeletRestart)
	t.Run("containerd restart", e.testContainerdRestart)
	t.Logf("end-to-end tests took %v", time.Since(start).Round(time.Second))
}

func (e *e2eEnv) testWeb(t *testing.T) {
	t.Parallel()
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{
		shell("httpd", `trap "exit 0" TERM; httpd -f -p 8080 -h /var/www & wait`),
	}}})
	p := e.waitPod(t, "web", "Running and Ready", runningReady)
	ip, err := netip.ParseAddr(p.GetStatus().GetPodIp())
	if err != nil || !netip.MustParsePrefix(e2ePodCIDR).Contains(ip) {
		t.Fatalf("pod IP %q not in %s", p.GetStatus().GetPodIp(), e2ePodCIDR)
	}
	if p.GetStatus().GetHostIp() != "127.0.0.1" || !strings.HasPrefix(p.GetStatus().GetContainerStatuses()[0].GetContainerId(), "containerd://") {
		t.Errorf("status: %v", p.GetStatus())
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	url := "http://" + netip.AddrPortFrom(ip, 8080).String() + "/"
	deadline := time.Now().Add(e2eDeadline)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), "keel busybox test image") {
				break
			}
			err = fmt.Errorf("status %s body %q", resp.Status, b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, code := e.exec(t, "web", "httpd", "cat", "/var/www/index.html")
	if code != 0 || out != "keel busybox test image\n" {
		t.Errorf("exec: %q exit %d", out, code)
	}
	if _, code := e.exec(t, "web", "httpd", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exec exit code %d, want 7", code)
	}
}

func (e *e2eEnv) testShared(t *testing.T) {
	t.Parallel()
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "shared"}, Spec: &corev1.PodSpec{
		Volumes: []*corev1.Volume{{Name: "data", EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		Containers: []*corev1.Container{
			withMount(shell("server", `echo hello-from-server > /data/msg; trap "exit 0" TERM; httpd -f -p 8081 -h /data & wait`), "data", "/data"),
			withMount(shell("client", `until wget -q -O /shared/got http://127.0.0.1:8081/msg; do sleep 0.2; done; `+forever), "data", "/shared"),
		},
	}})
	e.waitPod(t, "shared", "Running", runningReady)
	deadline := time.Now().Add(e2eDeadline)
	for {
		out, code := e.exec(t, "shared", "server", "cat", "/data/got")
		if code == 0 && out == "hello-from-server\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client's copy through localhost into the emptyDir: %q exit %d", out, code)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func withMount(c *corev1.Container, vol, path string) *corev1.Container {
	c.VolumeMounts = append(c.VolumeMounts, &corev1.VolumeMount{Name: vol, MountPath: path})
	return c
}

func (e *e2eEnv) testInit(t *testing.T) {
	t.Parallel()
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "init"}, Spec: &corev1.PodSpec{
		Volumes: []*corev1.Volume{{Name: "work", EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		InitContainers: []*corev1.Container{
			withMount(shell("first", `sleep 0.5; echo first >> /work/order`), "work", "/work"),
			withMount(shell("second", `echo second >> /work/order`), "work", "/work"),
		},
		Containers: []*corev1.Container{withMount(shell("main", `cat /work/order; `+forever), "work", "/work")},
	}})
	p := e.waitPod(t, "init", "Running", runningReady)
	for _, ic := range p.GetStatus().GetInitContainerStatuses() {
		if ic.GetState().GetTerminated().GetReason() != "Completed" {
			t.Errorf("init container %s: %v", ic.GetName(), ic.GetState())
		}
	}
	first := p.GetStatus().GetInitContainerStatuses()[0].GetState().GetTerminated().GetFinishedAt().AsTime()
	second := p.GetStatus().GetInitContainerStatuses()[1].GetState().GetTerminated().GetStartedAt().AsTime()
	if second.Before(first) {
		t.Errorf("second init container started %v before the first finished %v", second, first)
	}
	if got := e.logs(t, "init", "main", false); got != "first\nsecond\n" {
		t.Errorf("main's log %q", got)
	}
}

func (e *e2eEnv) testEnvAndVolumes(t *testing.T) {
	t.Parallel()
	e.create(t, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"greeting": "hello", "color": "blue"}})
	e.create(t, &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "creds"}, Data: map[string][]byte{"password": []byte("s3cr3t")}})
	c := shell("app", `echo "env: $GREETING $POD_NAME $POD_IP $PLAIN"; echo "file: $(cat /etc/cfg/greeting) $(cat /etc/sec/password)"; `+forever)
	c.Env = []*corev1.EnvVar{
		{Name: "PLAIN", Value: "plain-$(GREETING)"},
		{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "settings", Key: "greeting"}}},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
	}
	c.VolumeMounts = []*corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/cfg"}, {Name: "sec", MountPath: "/etc/sec"}}
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "env"}, Spec: &corev1.PodSpec{
		Volumes: []*corev1.Volume{
			{Name: "cfg", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "settings"}},
			{Name: "sec", Secret: &corev1.SecretVolumeSource{SecretName: "creds"}},
		},
		Containers: []*corev1.Container{c},
	}})
	p := e.waitPod(t, "env", "Running", runningReady)
	want := fmt.Sprintf("env: hello env %s plain-$(GREETING)\nfile: hello s3cr3t\n", p.GetStatus().GetPodIp())
	deadline := time.Now().Add(e2eDeadline)
	for {
		got := e.logs(t, "env", "app", false)
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %q, want %q", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The secret's files are 0644 by default.
	if out, _ := e.exec(t, "env", "app", "stat", "-L", "-c", "%a", "/etc/sec/password"); out != "644\n" {
		t.Errorf("secret file mode %q", out)
	}
	// A configMap change reaches the running container.
	cm, err := e.c.ConfigMaps(e2eNS).Get(e.ctx(), "settings")
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["greeting"] = "bonjour"
	if _, err := e.c.ConfigMaps(e2eNS).Update(e.ctx(), cm, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(e2eDeadline)
	for {
		out, _ := e.exec(t, "env", "app", "cat", "/etc/cfg/greeting")
		if out == "bonjour" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("configMap volume after the update: %q", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// testServiceAccountToken: a pod's process finds its service account's
// token, the cluster CA and its namespace in the volume the ServiceAccount
// admission plugin added, and calls the API with them (keelctl, from the
// host, on the host network): Forbidden until a RoleBinding lets the
// service account list pods, then the pods. The token stops working once
// the pod is deleted.
func (e *e2eEnv) testServiceAccountToken(t *testing.T) {
	t.Parallel()
	if keelctl == "" {
		testutil.Missing(t, "keelctl does not build")
	}
	c := shell("client", forever)
	c.VolumeMounts = []*corev1.VolumeMount{{Name: "keelctl", MountPath: "/opt/keelctl", ReadOnly: true}}
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "sa-client"}, Spec: &corev1.PodSpec{
		HostNetwork: true,
		Volumes:     []*corev1.Volume{{Name: "keelctl", HostPath: &corev1.HostPathVolumeSource{Path: keelctl, Type: proto.String("File")}}},
		Containers:  []*corev1.Container{c},
	}})
	p := e.waitPod(t, "sa-client", "Running", runningReady)
	if vols := p.GetSpec().GetVolumes(); len(vols) != 2 || !strings.HasPrefix(vols[1].GetName(), api.ServiceAccountVolumePrefix) {
		t.Fatalf("volumes %v, want keelctl and the token volume", vols)
	}
	const dir = api.ServiceAccountTokenMountPath
	if out, _ := e.exec(t, "sa-client", "client", "cat", dir+"/namespace"); out != e2eNS {
		t.Errorf("namespace file %q", out)
	}
	if out, _ := e.exec(t, "sa-client", "client", "stat", "-L", "-c", "%a", dir+"/token"); out != "644\n" {
		t.Errorf("token file mode %q", out)
	}
	script := fmt.Sprintf(`K="/opt/keelctl --config /tmp/keelconfig"
$K config set-cluster in-cluster --server %s --certificate-authority %s/ca.crt >/dev/null &&
$K config set-context in-cluster --cluster in-cluster >/dev/null &&
$K config use-context in-cluster >/dev/null &&
$K --token "$(cat %s/token)" -n "$(cat %s/namespace)" get pods -o name 2>&1`, e.secure.Addr, dir, dir, dir)
	// keelctl's in-cluster configuration: no configuration file, the
	// service's address in the environment.
	host, port, _ := net.SplitHostPort(e.secure.Addr)
	inCluster := fmt.Sprintf(`HOME=/tmp/nohome KUBERNETES_SERVICE_HOST=%s KUBERNETES_SERVICE_PORT=%s /opt/keelctl get pods -o name 2>&1`, host, port)
	for _, sc := range []string{script, inCluster} {
		out, code := e.exec(t, "sa-client", "client", "sh", "-c", sc)
		if code == 0 || !strings.Contains(out, `User "system:serviceaccount:default:default" cannot list resource "pods"`) {
			t.Fatalf("without a RoleBinding: exit %d, %q; want Forbidden", code, out)
		}
	}
	if _, err := client.For[*rbacv1.Role](e.c, e2eNS).Create(e.ctx(), &rbacv1.Role{Metadata: &metav1.ObjectMeta{Name: "pod-reader"},
		Rules: []*rbacv1.PolicyRule{{Verbs: []string{"list"}, ApiGroups: []string{""}, Resources: []string{"pods"}}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*rbacv1.RoleBinding](e.c, e2eNS).Create(e.ctx(), &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: "default-reads-pods"},
		RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pod-reader"},
		Subjects: []*rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: e2eNS}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, e2eDeadline, "the pod lists pods with its token", func() error {
		for _, sc := range []string{script, inCluster} {
			if out, code := e.exec(t, "sa-client", "client", "sh", "-c", sc); code != 0 || !strings.Contains(out, "pod/sa-client\n") {
				return fmt.Errorf("exit %d: %s", code, out)
			}
		}
		return nil
	})

	// The token is bound to the pod: it stops working when the pod goes.
	tok, _ := e.exec(t, "sa-client", "client", "cat", dir+"/token")
	asPod, err := client.New(client.Options{Servers: []string{e.secure.Addr}, TLS: &tls.Config{RootCAs: e.caPool}, BearerToken: tok})
	if err != nil {
		t.Fatal(err)
	}
	defer asPod.Close()
	if _, err := asPod.Pods(e2eNS).List(e.ctx(), client.ListOptions{}); err != nil {
		t.Fatalf("the pod's token from the host: %v", err)
	}
	if _, _, err := e.c.Pods(e2eNS).Delete(e.ctx(), "sa-client", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, e2eDeadline, "the deleted pod's token refused", func() error {
		_, err := asPod.Pods(e2eNS).List(e.ctx(), client.ListOptions{})
		if apierrors.ReasonOf(err) == apierrors.ReasonUnauthorized {
			return nil
		}
		return fmt.Errorf("list: %v", err)
	})
}

func (e *e2eEnv) testLiveness(t *testing.T) {
	t.Parallel()
	c := shell("app", `touch /tmp/alive; `+forever)
	c.LivenessProbe = &corev1.Probe{Exec: &corev1.ExecAction{Command: []string{"test", "-e", "/tmp/alive"}}, PeriodSeconds: 1, FailureThreshold: 1, TimeoutSeconds: 2}
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "live"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{c}}})
	e.waitPod(t, "live", "Running", runningReady)
	if _, code := e.exec(t, "live", "app", "rm", "/tmp/alive"); code != 0 {
		t.Fatalf("rm exit %d", code)
	}
	p := e.waitPod(t, "live", "restarted by its liveness probe", func(p *corev1.Pod) bool {
		cs := p.GetStatus().GetContainerStatuses()
		return len(cs) == 1 && cs[0].GetRestartCount() >= 1 && cs[0].GetState().GetRunning() != nil
	})
	if lt := p.GetStatus().GetContainerStatuses()[0].GetLastState().GetTerminated(); lt == nil || lt.GetExitCode() != 0 {
		t.Errorf("last state %v (the trap exits 0 on SIGTERM)", lt)
	}
	if got := e.logs(t, "live", "app", true); got != "" {
		t.Errorf("previous log %q", got)
	}
}

func (e *e2eEnv) testReadiness(t *testing.T) {
	t.Parallel()
	c := shell("app", `sleep 3; touch /tmp/ready; `+forever)
	c.ReadinessProbe = &corev1.Probe{Exec: &corev1.ExecAction{Command: []string{"test", "-e", "/tmp/ready"}}, PeriodSeconds: 1, TimeoutSeconds: 2}
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "ready"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{c}}})
	p := e.waitPod(t, "ready", "running but not ready", func(p *corev1.Pod) bool {
		cs := p.GetStatus().GetContainerStatuses()
		return len(cs) == 1 && cs[0].GetState().GetRunning() != nil
	})
	if podCondition(p, "Ready") != "False" || podCondition(p, "ContainersReady") != "False" {
		t.Errorf("ready before its readiness probe passed: %s", describePod(p))
	}
	e.waitPod(t, "ready", "Ready", runningReady)
	if _, code := e.exec(t, "ready", "app", "rm", "/tmp/ready"); code != 0 {
		t.Fatal("rm failed")
	}
	e.waitPod(t, "ready", "not Ready again", func(p *corev1.Pod) bool { return podCondition(p, "Ready") == "False" })
}

func (e *e2eEnv) testRestartPolicies(t *testing.T) {
	t.Parallel()
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "never"}, Spec: &corev1.PodSpec{RestartPolicy: "Never",
		Containers: []*corev1.Container{shell("job", `echo failing; exit 3`)}}})
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "onfailure"}, Spec: &corev1.PodSpec{RestartPolicy: "OnFailure",
		Volumes:    []*corev1.Volume{{Name: "state", EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		Containers: []*corev1.Container{withMount(shell("job", `if [ -e /state/ran ]; then echo done; exit 0; fi; touch /state/ran; exit 1`), "state", "/state")}}})
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "message"}, Spec: &corev1.PodSpec{RestartPolicy: "Never",
		Containers: []*corev1.Container{shell("job", `echo "all good" > /dev/termination-log; exit 0`)}}})

	p := e.waitPod(t, "never", "Failed", func(p *corev1.Pod) bool { return p.GetStatus().GetPhase() == "Failed" })
	term := p.GetStatus().GetContainerStatuses()[0].GetState().GetTerminated()
	if term.GetExitCode() != 3 || term.GetReason() != "Error" || p.GetStatus().GetContainerStatuses()[0].GetRestartCount() != 0 {
		t.Errorf("never: %s", describePod(p))
	}
	p = e.waitPod(t, "onfailure", "Succeeded", func(p *corev1.Pod) bool { return p.GetStatus().GetPhase() == "Succeeded" })
	cs := p.GetStatus().GetContainerStatuses()[0]
	if cs.GetRestartCount() != 1 || cs.GetState().GetTerminated().GetExitCode() != 0 || cs.GetLastState().GetTerminated().GetExitCode() != 1 {
		t.Errorf("onfailure: %s", describePod(p))
	}
	p = e.waitPod(t, "message", "Succeeded", func(p *corev1.Pod) bool { return p.GetStatus().GetPhase() == "Succeeded" })
	if m := p.GetStatus().GetContainerStatuses()[0].GetState().GetTerminated().GetMessage(); m != "all good\n" {
		t.Errorf("termination message %q", m)
	}
	if got := e.logs(t, "never", "job", false); got != "failing\n" {
		t.Errorf("log of a finished container %q", got)
	}
}

func (e *e2eEnv) testGracefulDeletion(t *testing.T) {
	t.Parallel()
	// One ends on SIGTERM; the other ignores it (sleep as PID 1) and is
	// killed when its 3s grace period is over.
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "polite"}, Spec: &corev1.PodSpec{TerminationGracePeriodSeconds: proto.Int64(30),
		Containers: []*corev1.Container{shell("app", forever)}}})
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "stubborn"}, Spec: &corev1.PodSpec{TerminationGracePeriodSeconds: proto.Int64(3),
		Containers: []*corev1.Container{{Name: "app", Image: busybox, Command: []string{"sleep", "3600"}}}}})
	e.waitPod(t, "polite", "Running", runningReady)
	e.waitPod(t, "stubborn", "Running", runningReady)
	for _, tc := range []struct {
		name     string
		min, max time.Duration
	}{{"polite", 0, 10 * time.Second}, {"stubborn", 3 * time.Second, 15 * time.Second}} {
		start := time.Now()
		if _, _, err := e.c.Pods(e2eNS).Delete(e.ctx(), tc.name, client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(e2eDeadline)
		for {
			_, err := e.c.Pods(e2eNS).Get(e.ctx(), tc.name)
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not deleted", tc.name)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if d := time.Since(start); d < tc.min || d > tc.max {
			t.Errorf("%s deleted after %v, want between %v and %v", tc.name, d.Round(time.Millisecond), tc.min, tc.max)
		} else {
			t.Logf("%s deleted after %v", tc.name, d.Round(time.Millisecond))
		}
	}
}

func (e *e2eEnv) testPull(t *testing.T) {
	t.Parallel()
	img := e.registry + "/busybox:1.35"
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "pulled"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{
		{Name: "app", Image: img, ImagePullPolicy: "Always", Command: []string{"sh", "-c", forever}},
	}}})
	p := e.waitPod(t, "pulled", "Running", runningReady)
	cs := p.GetStatus().GetContainerStatuses()[0]
	if !strings.Contains(cs.GetImageId(), "@sha256:") {
		t.Errorf("image ID %q: want the pulled digest", cs.GetImageId())
	}
	// An image the registry lacks.
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "missing"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{
		{Name: "app", Image: e.registry + "/nope:1", ImagePullPolicy: "IfNotPresent"},
	}}})
	e.waitPod(t, "missing", "waiting on the pull", func(p *corev1.Pod) bool {
		cs := p.GetStatus().GetContainerStatuses()
		if len(cs) != 1 {
			return false
		}
		r := cs[0].GetState().GetWaiting().GetReason()
		return r == "ErrImagePull" || r == "ImagePullBackOff"
	})
}

func (e *e2eEnv) testKubeletRestart(t *testing.T) {
	before, err := e.c.Pods(e2eNS).Get(e.ctx(), "web")
	if err != nil {
		t.Fatal(err)
	}
	e.kubelet.Stop(t)
	e.startKubelet()
	// For a few seconds after the restart, the pod keeps its containers.
	until := time.Now().Add(3 * time.Second)
	for time.Now().Before(until) {
		after, err := e.c.Pods(e2eNS).Get(e.ctx(), "web")
		if err != nil {
			t.Fatal(err)
		}
		b, a := before.GetStatus().GetContainerStatuses()[0], after.GetStatus().GetContainerStatuses()[0]
		if a.GetContainerId() != b.GetContainerId() || a.GetRestartCount() != b.GetRestartCount() ||
			!a.GetState().GetRunning().GetStartedAt().AsTime().Equal(b.GetState().GetRunning().GetStartedAt().AsTime()) {
			t.Fatalf("after the restart: %v, before %v", a, b)
		}
		if !runningReady(after) {
			t.Fatalf("not running and ready after the restart: %s", describePod(after))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// And the kubelet still works: a new pod runs, exec reaches the old one.
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "after-restart"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{shell("app", forever)}}})
	e.waitPod(t, "after-restart", "Running", runningReady)
	if out, code := e.exec(t, "web", "httpd", "echo", "still here"); code != 0 || out != "still here\n" {
		t.Errorf("exec after restart %q %d", out, code)
	}
}

// containerdPID finds the private containerd's process by its config path.
func (e *e2eEnv) containerdPID(t *testing.T) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + en.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
		if len(args) == 3 && filepath.Base(args[0]) == "containerd" && args[1] == "--config" && args[2] == e.ctd.ConfigPath {
			return pid
		}
	}
	t.Fatal("the test's containerd process is not found")
	return 0
}

// testContainerdRestart kills containerd (its shims and containers live
// on) and starts it again on the same state: the kubelet reconnects, the
// node is Ready again and the pods keep their containers.
func (e *e2eEnv) testContainerdRestart(t *testing.T) {
	before, err := e.c.Pods(e2eNS).Get(e.ctx(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(e.containerdPID(t), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.ctdRestarted = true
	e.waitNode(t, "NotReady while containerd is down", "False")
	ctd, err := containerdtest.Start(context.Background(), containerdtest.Options{Dir: e.ctd.Dir,
		Registries: map[string]string{e.reg.Addr: "http://" + e.reg.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	// Stopped (pods removed) before the first instance's cleanup runs.
	t.Cleanup(func() {
		if e.kubelet != nil {
			e.kubelet.Stop(t)
		}
		if err := ctd.Stop(); err != nil {
			t.Error(err)
		}
	})
	e.waitNode(t, "Ready again", "True")
	after := e.waitPod(t, "web", "Running and Ready", runningReady)
	if b, a := before.GetStatus().GetContainerStatuses()[0], after.GetStatus().GetContainerStatuses()[0]; a.GetContainerId() != b.GetContainerId() || a.GetRestartCount() != b.GetRestartCount() {
		t.Errorf("after the containerd restart: %v, before %v", a, b)
	}
	e.create(t, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "after-containerd"}, Spec: &corev1.PodSpec{Containers: []*corev1.Container{shell("app", forever)}}})
	e.waitPod(t, "after-containerd", "Running", runningReady)
}

func (e *e2eEnv) waitNode(t *testing.T, what, ready string) {
	t.Helper()
	deadline := time.Now().Add(e2eDeadline)
	for {
		n, err := e.c.Nodes().Get(e.ctx(), e2eNode)
		if err == nil {
			if api.GetNodeCondition(n.GetStatus(), api.NodeReady).GetStatus() == ready {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s: not within %v", what, e2eDeadline)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
