package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	clientconfig "keel.dev/keel/pkg/client/config"
	"keel.dev/keel/pkg/controller/app"
	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// These tests run the real keel-controller-manager binary, built once,
// against an in-process apiserver on embedded etcd.
var binary string

func TestMain(m *testing.M) { daemontest.Main(m, "keel-controller-manager", &binary) }

type proc struct {
	*daemontest.Proc
	httpAddr string
}

func start(t *testing.T, httpAddr string, args ...string) *proc {
	t.Helper()
	return &proc{Proc: daemontest.Start(t, binary, args...), httpAddr: httpAddr}
}

func (p *proc) leading() bool {
	resp, err := http.Get("http://" + p.httpAddr + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.Contains(string(b), "\nkeel_controller_manager_leader 1\n")
}

// TestTwoReplicasOneLeader runs two controller-managers, each as
// system:kube-controller-manager under RBAC: only the leader acts, a
// ReplicaSet gets exactly its replicas, when the leader stops the other
// takes over and keeps reconciling, and deleting the ReplicaSet deletes
// its pods; a Service gets its Endpoints, a deleted namespace is emptied
// of every kind and goes, admin is aggregated, and the --root-ca-file
// bundle is published as kube-root-ca.crt. The apiserver refuses
// the controllers nothing.
func TestTwoReplicasOneLeader(t *testing.T) {
	api := testserver.StartSecure(t, nil, nil)
	api.FailOnForbidden()
	dir := t.TempDir()
	kubeconfig := api.Kubeconfig(pki.ControllerManagerName)
	caFile := pki.CertPath(api.PKIDir, pki.CAName)
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Options{Servers: []string{api.Addr}, TLS: api.TLS(pki.AdminName)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	addrs := daemontest.FreePorts(t, 2)
	var procs []*proc
	for i, addr := range addrs {
		cfg := filepath.Join(dir, fmt.Sprintf("cm%d.yaml", i))
		text := fmt.Sprintf("kubeconfig: %s\nhttp-address: %s\nleader-elect-lease-duration: 2s\nleader-elect-renew-deadline: 1200ms\nleader-elect-retry-period: 200ms\nlog-level: warn\nroot-ca-file: %s\n", kubeconfig, addr, caFile)
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, start(t, addr, "--config", cfg))
	}
	var leader, standby *proc
	testutil.Eventually(t, 30*time.Second, "one leader elected", func() error {
		switch {
		case procs[0].leading() && !procs[1].leading():
			leader, standby = procs[0], procs[1]
		case procs[1].leading() && !procs[0].leading():
			leader, standby = procs[1], procs[0]
		default:
			return fmt.Errorf("leading: %v, %v", procs[0].leading(), procs[1].leading())
		}
		return nil
	})

	replicas := int32(3)
	rs := &appsv1.ReplicaSet{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &appsv1.ReplicaSetSpec{Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}},
	}
	if _, err := c.ReplicaSets("default").Create(ctx, rs, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// podsAre waits until the ReplicaSet has n pods and says so.
	podsAre := func(n int) {
		t.Helper()
		testutil.Eventually(t, 30*time.Second, "the ReplicaSet at its replicas", func() error {
			l, err := c.Pods("default").List(ctx, client.ListOptions{LabelSelector: "app=web"})
			if err != nil {
				return err
			}
			cur, err := c.ReplicaSets("default").Get(ctx, "web")
			if err != nil {
				return err
			}
			if len(l.Items) != n || cur.GetStatus().GetReplicas() != int32(n) {
				return fmt.Errorf("%d pods, status.replicas %d; want %d", len(l.Items), cur.GetStatus().GetReplicas(), n)
			}
			return nil
		})
	}
	podsAre(3)

	leader.Stop(t)
	testutil.Eventually(t, 30*time.Second, "the standby taking over", func() error {
		if !standby.leading() {
			return fmt.Errorf("the standby has not taken over")
		}
		return nil
	})
	cur, err := c.ReplicaSets("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	five := int32(5)
	cur.Spec.Replicas = &five
	if _, err := c.ReplicaSets("default").Update(ctx, cur, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	podsAre(5)

	// Deleting the ReplicaSet deletes its pods (the garbage collector).
	if _, _, err := c.ReplicaSets("default").Delete(ctx, "web", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the ReplicaSet's pods deleted", func() error {
		l, err := c.Pods("default").List(ctx, client.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		if len(l.Items) != 0 {
			return fmt.Errorf("%d pods left after their ReplicaSet was deleted", len(l.Items))
		}
		return nil
	})

	// A Service gets its Endpoints.
	if _, err := c.Services("default").Create(ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "web"},
		Spec: &corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []*corev1.ServicePort{{Port: 80}}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the Service's Endpoints", func() error {
		_, err := c.Endpoints("default").Get(ctx, "web")
		return err
	})
	// A deleted namespace is emptied of every kind, then goes.
	if _, err := c.Namespaces().Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ConfigMaps("team").Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "cm"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Secrets("team").Create(ctx, &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "s"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.For[*rbacv1.Role](c, "team").Create(ctx, &rbacv1.Role{Metadata: &metav1.ObjectMeta{Name: "r"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Namespaces().Delete(ctx, "team", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "namespace team gone", func() error {
		if _, err := c.Namespaces().Get(ctx, "team"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace team: %v", err)
		}
		return nil
	})
	// --root-ca-file is published in every namespace.
	testutil.Eventually(t, 30*time.Second, "kube-root-ca.crt published in default", func() error {
		cm, err := c.ConfigMaps("default").Get(ctx, "kube-root-ca.crt")
		if err == nil && cm.GetData()["ca.crt"] != string(caPEM) {
			err = fmt.Errorf("ca.crt %q, want the --root-ca-file content", cm.GetData()["ca.crt"])
		}
		return err
	})
	testutil.Eventually(t, 30*time.Second, "admin aggregated", func() error {
		admin, err := client.For[*rbacv1.ClusterRole](c, "").Get(ctx, "admin")
		if err == nil && len(admin.GetRules()) == 0 {
			err = fmt.Errorf("admin has no rules")
		}
		return err
	})
}

func TestRefusesBadFlags(t *testing.T) {
	daemontest.ExitsWith(t, binary, "--concurrent-replicaset-syncs", "--concurrent-replicaset-syncs", "0")
	daemontest.ExitsWith(t, binary, "--concurrent-gc-syncs", "--concurrent-gc-syncs", "0")
	daemontest.ExitsWith(t, binary, "--concurrent-deployment-syncs", "--concurrent-deployment-syncs", "0")
	daemontest.ExitsWith(t, binary, "--concurrent-job-syncs", "--concurrent-job-syncs", "0")
	daemontest.ExitsWith(t, binary, "--concurrent-endpoint-syncs", "--concurrent-endpoint-syncs", "0")
	daemontest.ExitsWith(t, binary, "--max-endpoints-per-slice", "--max-endpoints-per-slice", "1001")
	daemontest.ExitsWith(t, binary, "--node-monitor-grace-period", "--node-monitor-grace-period", "1s")
	daemontest.ExitsWith(t, binary, "--concurrent-namespace-syncs", "--concurrent-namespace-syncs", "0")
	daemontest.ExitsWith(t, binary, "--terminated-pod-gc-threshold", "--terminated-pod-gc-threshold", "-1")
	daemontest.ExitsWith(t, binary, "--root-ca-file", "--root-ca-file", filepath.Join(t.TempDir(), "missing.crt"))
	daemontest.ExitsWith(t, binary, "no PEM CERTIFICATE block", "--root-ca-file", writeFile(t, "not a certificate\n"))
	daemontest.ExitsWith(t, binary, "unknown-key", "--config", writeFile(t, "unknown-key: 1\n"))
	daemontest.ExitsWith(t, binary, "--cronjob-clock-rate must be at least 1", "--cronjob-clock-rate", "0.5")
}

func writeFile(t *testing.T, text string) string {
	path := filepath.Join(t.TempDir(), "cm.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestShippedConfigAndUnit(t *testing.T) {
	cmd := app.NewCommand()
	daemontest.ShippedConfig(t, cmd.Flags(), "../../manifests/systemd/controller-manager.yaml",
		map[string]string{"kubeconfig": "/etc/keel/controller-manager.conf", "leader-elect": "true", "concurrent-replicaset-syncs": "5"})
	if _, err := clientconfig.Load("../../manifests/systemd/controller-manager.conf"); err != nil {
		t.Errorf("the example client configuration: %v", err)
	}
	daemontest.VerifyUnit(t, "../../manifests/systemd/keel-controller-manager.service", binary)
}

// TestServiceAccountCredentials runs the controller-manager with
// --use-service-account-credentials: it creates each controller's
// ServiceAccount in kube-system, a Deployment gets its ReplicaSet and
// pods, a Service its Endpoints, a deleted namespace is emptied, a
// deleted Deployment is collected, all with nothing refused; and the pods
// are created by
// system:serviceaccount:kube-system:replicaset-controller, authorized by
// its own binding: once that binding is gone, the apiserver refuses that
// ServiceAccount the pods and no more are created, though the
// controller-manager's own identity could create them.
func TestServiceAccountCredentials(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	api := testserver.StartSecure(t, nil, func(cfg *apiserver.Config) {
		cfg.ServiceAccountSigningKey = key
		cfg.ServiceAccountKeys = []crypto.PublicKey{key.Public()}
	})
	c := api.Client(pki.AdminName)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr := daemontest.FreePorts(t, 1)[0]
	cfg := writeFile(t, fmt.Sprintf("kubeconfig: %s\nhttp-address: %s\nleader-elect: false\nuse-service-account-credentials: true\nlog-level: warn\nroot-ca-file: %s\n",
		api.Kubeconfig(pki.ControllerManagerName), addr, pki.CertPath(api.PKIDir, pki.CAName)))
	start(t, addr, "--config", cfg)

	// deploy creates the Deployment name of two pods labelled app=name.
	deploy := func(name string) {
		t.Helper()
		replicas := int32(2)
		d := &appsv1.Deployment{
			Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: &appsv1.DeploymentSpec{Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}},
		}
		if _, err := c.Deployments("default").Create(ctx, d, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deploy("web")
	pods := func(app string) (int, error) {
		l, err := c.Pods("default").List(ctx, client.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return 0, err
		}
		return len(l.Items), nil
	}
	testutil.Eventually(t, time.Minute, "the Deployment's pods", func() error {
		n, err := pods("web")
		if err == nil && n != 2 {
			err = fmt.Errorf("%d pods, want 2", n)
		}
		return err
	})
	// More of a normal workload: Endpoints, a namespace emptied and
	// removed, the root CA published, a deleted Deployment's ReplicaSet
	// and pods collected.
	if _, err := c.Services("default").Create(ctx, &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "web"},
		Spec: &corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []*corev1.ServicePort{{Port: 80}}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Namespaces().Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ConfigMaps("team").Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "cm"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Namespaces().Delete(ctx, "team", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deploy("gone")
	testutil.Eventually(t, time.Minute, "the workload reconciled", func() error {
		if _, err := c.Endpoints("default").Get(ctx, "web"); err != nil {
			return err
		}
		if _, err := c.Namespaces().Get(ctx, "team"); !apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace team: %v", err)
		}
		if _, err := c.ConfigMaps("default").Get(ctx, "kube-root-ca.crt"); err != nil {
			return err
		}
		l, err := c.ReplicaSets("default").List(ctx, client.ListOptions{})
		if err != nil || len(l.Items) != 2 {
			return fmt.Errorf("%d ReplicaSets (%v), want 2", len(l.Items), err)
		}
		return nil
	})
	if _, _, err := c.Deployments("default").Delete(ctx, "gone", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Minute, "the deleted Deployment's ReplicaSet and pods collected", func() error {
		l, err := c.ReplicaSets("default").List(ctx, client.ListOptions{})
		if err == nil && len(l.Items) != 1 {
			err = fmt.Errorf("%d ReplicaSets, want 1", len(l.Items))
		}
		if n, perr := pods("gone"); err == nil && (perr != nil || n != 0) {
			err = fmt.Errorf("%d pods of the deleted Deployment (%v)", n, perr)
		}
		return err
	})
	for _, sa := range []string{"deployment-controller", "replicaset-controller", "endpoint-controller", "namespace-controller",
		"root-ca-cert-publisher", "generic-garbage-collector"} {
		if _, err := client.For[*corev1.ServiceAccount](c, "kube-system").Get(ctx, sa); err != nil {
			t.Errorf("the ServiceAccount of %s: %v", sa, err)
		}
	}
	if f := api.Forbidden(); len(f) > 0 {
		t.Fatalf("the apiserver refused %d requests of the controllers:\n%s", len(f), strings.Join(f, "\n"))
	}

	// Without its binding, the replicaset controller may not create pods.
	if _, _, err := client.For[*rbacv1.ClusterRoleBinding](c, "").Delete(ctx, "system:controller:replicaset-controller", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cur, err := c.Deployments("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	three := int32(3)
	cur.Spec.Replicas = &three
	if _, err := c.Deployments("default").Update(ctx, cur, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	refused := `User "system:serviceaccount:kube-system:replicaset-controller" cannot create resource "pods"`
	testutil.Eventually(t, time.Minute, "the replicaset controller's pod refused", func() error {
		for _, f := range api.Forbidden() {
			if strings.Contains(f, refused) {
				return nil
			}
		}
		return fmt.Errorf("refused so far: %v", api.Forbidden())
	})
	if n, err := pods("web"); err != nil || n != 2 {
		t.Errorf("%d pods (%v) once the replicaset controller lost its binding, want 2", n, err)
	}
	for _, f := range api.Forbidden() {
		if !strings.Contains(f, `User "system:serviceaccount:kube-system:replicaset-controller"`) {
			t.Errorf("refused another controller: %s", f)
		}
	}
}
