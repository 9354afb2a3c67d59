package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsclient "k8s.io/client-go/kubernetes/typed/apps/v1"
	coreclient "k8s.io/client-go/kubernetes/typed/core/v1"
	storageclient "k8s.io/client-go/kubernetes/typed/storage/v1"
	"k8s.io/client-go/rest"

	"keel.dev/keel/hack/bench/benchutil"
	"keel.dev/keel/pkg/pki"
)

// Client rate limits of every component and of the benchmark's client, as
// shared/BENCHMARKS.md measured Kubernetes.
const (
	clientQPS   = 5000
	clientBurst = 10000
)

// cluster is the reference control plane with kwok's nodes.
type cluster struct {
	procs    []*benchutil.Process // etcd first
	core     *coreclient.CoreV1Client
	apps     *appsclient.AppsV1Client
	storage  *storageclient.StorageV1Client
	versions string
}

// proc is the daemon called name, nil when none runs.
func (cl *cluster) proc(name string) *benchutil.Process {
	for _, p := range cl.procs {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func (cl *cluster) stop() {
	for i := len(cl.procs) - 1; i >= 0; i-- {
		cl.procs[i].Stop()
	}
}

// memory reports every daemon's peak RSS.
func (cl *cluster) memory() string {
	var parts []string
	for _, p := range cl.procs {
		_, peak := p.Memory()
		parts = append(parts, fmt.Sprintf("%s %.0f MiB", p.Name, peak))
	}
	return strings.Join(parts, ", ")
}

// start runs a daemon of the cluster; it is stopped with the cluster.
func (cl *cluster) start(dir, name string, argv ...string) error {
	p, err := benchutil.Start(dir, name, argv...)
	if err != nil {
		return err
	}
	cl.procs = append(cl.procs, p)
	return nil
}

// exited names a daemon that has ended, for the error of a wait.
func (cl *cluster) exited() error {
	for _, p := range cl.procs {
		if p.Exited() {
			return fmt.Errorf("%s exited; see %s", p.Name, p.Log)
		}
	}
	return nil
}

// writeKubeconfig writes dir/NAME.conf: the apiserver at addr as the key
// pair NAME of pkiDir.
func writeKubeconfig(dir, pkiDir, addr, name string) (string, error) {
	path := filepath.Join(dir, name+".conf")
	conf := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: k8sref
  cluster: {server: "https://%s", certificate-authority: %q}
users:
- name: %s
  user: {client-certificate: %q, client-key: %q}
contexts:
- name: k8sref
  context: {cluster: k8sref, user: %s}
current-context: k8sref
`, addr, pki.CertPath(pkiDir, pki.CAName), name, pki.CertPath(pkiDir, name), pki.KeyPath(pkiDir, name), name)
	return path, os.WriteFile(path, []byte(conf), 0o600)
}

// startCluster starts etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok in dir, creates the nodes and waits until kwok
// has made them all Ready.
func startCluster(ctx context.Context, dir string, nodes int) (_ *cluster, err error) {
	cl := &cluster{}
	defer func() {
		if err != nil {
			cl.stop()
		}
	}()
	k, err := benchutil.StartKubeAPIServer(ctx, dir, *etcdBin, bin("kube-apiserver"))
	if err != nil {
		return nil, err
	}
	cl.procs = append(cl.procs, k.Etcd, k.APIServer)
	pkiDir, addr, ca := k.PKIDir, k.Addr, pki.CertPath(k.PKIDir, pki.CAName)
	saKey := filepath.Join(pkiDir, pki.ServiceAccountKeyFile)
	conf := map[string]string{}
	for _, name := range []string{pki.AdminName, pki.ControllerManagerName, pki.SchedulerName} {
		if conf[name], err = writeKubeconfig(dir, pkiDir, addr, name); err != nil {
			return nil, err
		}
	}
	// The benchmark's client: the administrator, as kwok.
	// Protobuf, as Kubernetes' own components talk.
	cfg := &rest.Config{Host: "https://" + addr, QPS: clientQPS, Burst: clientBurst, UserAgent: "k8sref-bench",
		ContentConfig:   rest.ContentConfig{ContentType: "application/vnd.kubernetes.protobuf", AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json"},
		TLSClientConfig: rest.TLSClientConfig{CAFile: ca, CertFile: pki.CertPath(pkiDir, pki.AdminName), KeyFile: pki.KeyPath(pkiDir, pki.AdminName)}}
	if cl.core, err = coreclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if cl.apps, err = appsclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if cl.storage, err = storageclient.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if err := cl.waitReady(cl.core.RESTClient(), "/readyz"); err != nil {
		return nil, err
	}
	qps := []string{"--kube-api-qps", strconv.Itoa(clientQPS), "--kube-api-burst", strconv.Itoa(clientBurst)}
	cmConf := conf[pki.ControllerManagerName]
	// --enable-hostpath-provisioner: the in-tree host-path provisioner,
	// for pv-provision (storage.go); no other workload makes claims.
	if err := cl.start(dir, "kube-controller-manager", append([]string{bin("kube-controller-manager"),
		"--kubeconfig", cmConf, "--authentication-kubeconfig", cmConf, "--authorization-kubeconfig", cmConf,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(benchutil.FreePort()), "--leader-elect=false",
		"--use-service-account-credentials", "--service-account-private-key-file", saKey, "--root-ca-file", ca,
		"--enable-hostpath-provisioner"}, qps...)...); err != nil {
		return nil, err
	}
	// The scheduler takes its rate limits from its configuration file only.
	schedConf := conf[pki.SchedulerName]
	schedConfig := filepath.Join(dir, "kube-scheduler.yaml")
	if err := os.WriteFile(schedConfig, []byte(fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection: {kubeconfig: %q, qps: %d, burst: %d}
leaderElection: {leaderElect: false}
`, schedConf, clientQPS, clientBurst)), 0o644); err != nil {
		return nil, err
	}
	if err := cl.start(dir, "kube-scheduler", bin("kube-scheduler"), "--config", schedConfig,
		"--authentication-kubeconfig", schedConf, "--authorization-kubeconfig", schedConf,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(benchutil.FreePort())); err != nil {
		return nil, err
	}
	if err := cl.start(dir, "kwok", bin("kwok"), "--config", *kwokStages, "--kubeconfig", conf[pki.AdminName], "--node-lease-duration-seconds", "40",
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector", kwokAnnotation+"=fake",
		"--node-ip", "127.0.0.1", "--server-address", fmt.Sprintf("127.0.0.1:%d", benchutil.FreePort())); err != nil {
		return nil, err
	}
	if cl.versions, err = cl.describe(); err != nil {
		return nil, err
	}
	if err := cl.createNodes(ctx, nodes); err != nil {
		return nil, err
	}
	return cl, cl.waitNodesReady(ctx, nodes)
}

// waitReady waits until the apiserver answers path with 200.
func (cl *cluster) waitReady(rc rest.Interface, path string) error {
	return benchutil.WaitFor(2*time.Minute, func() (bool, error) {
		if err := cl.exited(); err != nil {
			return false, err
		}
		err := rc.Get().AbsPath(path).Do(context.Background()).Error()
		return err == nil, err
	})
}

// describe states what runs: each binary's version and the fixed settings.
func (cl *cluster) describe() (string, error) {
	var vs []string
	for _, c := range [][]string{{*etcdBin, "--version"}, {bin("kube-apiserver"), "--version"}, {bin("kwok"), "--version"}} {
		out, err := exec.Command(c[0], c[1:]...).Output()
		if err != nil {
			return "", fmt.Errorf("%s --version: %w", c[0], err)
		}
		vs = append(vs, strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]))
	}
	return fmt.Sprintf("%s; etcd (separate process, fsync on), kube-apiserver (Node,RBAC, TLS), kube-controller-manager (--use-service-account-credentials, --enable-hostpath-provisioner), kube-scheduler and kwok as processes on this machine; client QPS/burst %d/%d",
		strings.Join(vs, ", "), clientQPS, clientBurst), nil
}

// kwokAnnotation marks the nodes kwok manages.
const kwokAnnotation = "kwok.x-k8s.io/node"

// createNodes creates hollow-0 … hollow-(n-1), 32 goroutines at a time.
func (cl *cluster) createNodes(ctx context.Context, n int) error {
	q := func(s string) resource.Quantity { return resource.MustParse(s) }
	capacity := corev1.ResourceList{corev1.ResourceCPU: q("32"), corev1.ResourceMemory: q("256Gi"), corev1.ResourcePods: q("110")}
	next := make(chan int)
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				name := fmt.Sprintf("hollow-%d", i)
				node := &corev1.Node{
					ObjectMeta: metav1.ObjectMeta{Name: name,
						Labels:      map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "type": "kwok"},
						Annotations: map[string]string{kwokAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"}},
					// A /24 of its own, from which kwok gives its pods IPs.
					Spec:   corev1.NodeSpec{PodCIDR: fmt.Sprintf("10.%d.%d.0/24", 128+i/256, i%256)},
					Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
				}
				if _, err := cl.core.Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
					errs <- fmt.Errorf("node %s: %w", name, err)
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	return errors.Join(err, <-errs)
}

// waitNodesReady waits until n nodes are Ready.
func (cl *cluster) waitNodesReady(ctx context.Context, n int) error {
	err := benchutil.WaitFor(5*time.Minute, func() (bool, error) {
		if err := cl.exited(); err != nil {
			return false, err
		}
		l, err := cl.core.Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, node := range l.Items {
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == n, fmt.Errorf("%d of %d nodes Ready", ready, n)
	})
	if err != nil {
		return fmt.Errorf("nodes: %w", err)
	}
	return nil
}

// namespace creates ns and its ServiceAccount default, as
// benchutil.CreateNamespace does for Keel: the benchmark times its
// workload, not the serviceaccount controller.
func (cl *cluster) namespace(ctx context.Context, ns string) error {
	if _, err := cl.core.Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
	if _, err := cl.core.ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}
