package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// TestEtcdSnapshotRestore follows docs/backup.md with the real binaries.
// An apiserver on embedded etcd, under Node,RBAC, takes scheduled
// snapshots (retention 2); the admin makes ConfigMap a, saves a snapshot
// with keelctl etcd snapshot save, makes b, and stops the apiserver.
// keel-apiserver etcd-snapshot restore refuses a truncated snapshot and a
// used data directory, then builds a new one (revisions moved on by
// default, the old ones compacted), on which a new apiserver holds a and not b; writes,
// watches and the controller-manager's ReplicaSet and ServiceAccount
// loops work, and a watch from a resourceVersion of before the restore is
// told to relist. The same snapshot restored into a new three-member
// cluster of Debian's etcd (3.4) serves an apiserver with a and not b,
// from which keelctl saves a snapshot of the external etcd.
func TestEtcdSnapshotRestore(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/apiserver", "./cmd/controller-manager", "./cmd/ctl")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the binaries: %v\n%s", err, out)
	}
	apiserverBin, ctlBin := filepath.Join(bin, "apiserver"), filepath.Join(bin, "ctl")
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	if _, err := pki.Init(pki.InitOptions{Dir: pkiDir, Hostname: "localhost"}); err != nil {
		t.Fatal(err)
	}
	p := daemontest.FreePorts(t, 16)
	tlsFlags := []string{"--tls-cert-file", pki.CertPath(pkiDir, pki.APIServerName), "--tls-private-key-file", pki.KeyPath(pkiDir, pki.APIServerName),
		"--client-ca-file", pki.CertPath(pkiDir, pki.CAName), "--log-level", "info"}
	adminTLS, err := pki.ClientTLSConfig(pki.CertPath(pkiDir, pki.CAName), pki.CertPath(pkiDir, pki.AdminName), pki.KeyPath(pkiDir, pki.AdminName), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	connect := func(server string) *client.Client {
		t.Helper()
		c, err := client.New(client.Options{Servers: []string{server}, TLS: adminTLS, UserAgent: "snapshot-e2e"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	configMap := func(c *client.Client, name string) *corev1.ConfigMap {
		t.Helper()
		var cm *corev1.ConfigMap
		testutil.Eventually(t, time.Minute, "ConfigMap "+name+" created", func() error {
			cm, err = c.ConfigMaps("default").Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: name}}, client.CreateOptions{})
			return err // the first create may race the default namespace's creation
		})
		return cm
	}
	// holds checks that c has ConfigMap a and not b.
	holds := func(c *client.Client, what string) {
		t.Helper()
		if _, err := c.ConfigMaps("default").Get(ctx, "a"); err != nil {
			t.Fatalf("%s: ConfigMap a, made before the snapshot: %v", what, err)
		}
		if _, err := c.ConfigMaps("default").Get(ctx, "b"); !apierrors.IsNotFound(err) {
			t.Fatalf("%s: ConfigMap b, made after the snapshot: %v, want NotFound", what, err)
		}
	}
	keelctl := func(server string, args ...string) (string, error) {
		conf := daemontest.KubeconfigTLS(t, pkiDir, pki.AdminName, server)
		out, err := exec.Command(ctlBin, append([]string{"--config", conf}, args...)...).CombinedOutput()
		return string(out), err
	}
	saved := regexp.MustCompile(`^Snapshot saved at (.*): (\d+) bytes, revision (\d+)\n$`)

	// 1. An apiserver on embedded etcd with scheduled snapshots.
	dataDir, scheduled := filepath.Join(dir, "etcd"), filepath.Join(dir, "scheduled")
	first := daemontest.Start(t, apiserverBin, append([]string{"--data-dir", dataDir,
		"--secure-address", p[1], "--http-address", p[2], "--embedded-etcd-unsafe-no-fsync",
		"--etcd-snapshot-schedule-cron", "@every 1s", "--etcd-snapshot-retention", "2", "--etcd-snapshot-dir", scheduled}, tlsFlags...)...)
	first.WaitReady(t, "http://"+p[2]+"/readyz", time.Minute)
	c := connect(p[1])
	a := configMap(c, "a")

	out, err := keelctl(p[1], "etcd", "snapshot", "save", filepath.Join(dir, "snap.db"))
	m := saved.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("keelctl etcd snapshot save: %v\n%s", err, out)
	}
	snap := m[1]
	if rev, aRev := atoi(m[3]), atoi(a.Metadata.ResourceVersion); rev < aRev {
		t.Errorf("snapshot at revision %d, before ConfigMap a (%d)", rev, aRev)
	}
	b := configMap(c, "b")

	// The scheduled snapshots: at most 2 kept, and the metrics say so.
	metrics := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: adminTLS.RootCAs, Certificates: adminTLS.Certificates, ServerName: "localhost", MinVersion: tls.VersionTLS12}}}
	testutil.Eventually(t, time.Minute, "three scheduled snapshots taken, two kept", func() error {
		resp, err := metrics.Get("https://" + p[1] + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if !regexp.MustCompile(`(?m)^keel_etcd_snapshot_last_success_timestamp_seconds [1-9]`).Match(body) {
			return fmt.Errorf("no successful scheduled snapshot in /metrics yet")
		}
		if !strings.Contains(string(body), "keel_etcd_snapshot_failures_total 0") {
			return fmt.Errorf("scheduled snapshots failed:\n%s", body)
		}
		files, _ := filepath.Glob(filepath.Join(scheduled, "etcd-snapshot-*.db"))
		if len(files) != 2 {
			return fmt.Errorf("%d scheduled snapshots kept, want 2: %v", len(files), files)
		}
		return nil
	})
	first.Stop(t)

	// 2. Restore: refusals first, each creating nothing.
	restore := func(args ...string) (string, error) {
		out, err := exec.Command(apiserverBin, append([]string{"etcd-snapshot", "restore"}, args...)...).CombinedOutput()
		return string(out), err
	}
	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.db")
	if err := os.WriteFile(truncated, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	restored := filepath.Join(dir, "restored")
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{truncated, "--data-dir", restored}, truncated + ": not a whole etcd snapshot"},
		{[]string{snap, "--data-dir", dataDir}, "data directory " + dataDir + " is not empty"},
		{[]string{snap}, "--data-dir is required"},
	} {
		out, err := restore(bad.args...)
		if err == nil || !strings.Contains(out, bad.want) {
			t.Errorf("restore %v: %v\n%s\nwant an error with %q", bad.args, err, out, bad.want)
		}
		if _, err := os.Stat(restored); !os.IsNotExist(err) {
			t.Fatalf("a refused restore made %s", restored)
		}
	}
	// By default revisions move on by 10^9 and the old ones are compacted.
	if out, err := restore(snap, "--data-dir", restored); err != nil || !strings.Contains(out, "restored "+snap) {
		t.Fatalf("restore: %v\n%s", err, out)
	}

	// 3. A new apiserver on the restored directory.
	second := daemontest.Start(t, apiserverBin, append([]string{"--data-dir", restored,
		"--secure-address", p[4], "--http-address", p[5], "--embedded-etcd-unsafe-no-fsync"}, tlsFlags...)...)
	second.WaitReady(t, "http://"+p[5]+"/readyz", time.Minute)
	c2 := connect(p[4])
	holds(c2, "after restoring")
	// A watch resuming from before the restore is told to relist.
	if w, err := c2.ConfigMaps("default").Watch(ctx, client.WatchOptions{ResourceVersion: b.Metadata.ResourceVersion}); err == nil {
		_, err = w.Next()
		w.Stop()
		if !apierrors.IsExpired(err) {
			t.Errorf("a watch from resourceVersion %s, of before the restore: %v, want Expired", b.Metadata.ResourceVersion, err)
		}
	} else if !apierrors.IsExpired(err) {
		t.Errorf("a watch from resourceVersion %s, of before the restore: %v, want Expired", b.Metadata.ResourceVersion, err)
	}
	w, err := c2.ConfigMaps("default").Watch(ctx, client.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	after := configMap(c2, "after")
	if rev, oldRev := atoi(after.Metadata.ResourceVersion), atoi(b.Metadata.ResourceVersion); rev <= oldRev {
		t.Errorf("a write after the restore is at resourceVersion %d, not past %d of before it", rev, oldRev)
	}
	for {
		ev, err := w.Next()
		if err != nil {
			t.Fatalf("watch after the restore: %v", err)
		}
		if ev.Object.GetMetadata().GetName() == "after" {
			break
		}
	}
	// The controller-manager reconciles on the restored cluster.
	daemontest.Start(t, filepath.Join(bin, "controller-manager"), "--kubeconfig", daemontest.KubeconfigTLS(t, pkiDir, pki.ControllerManagerName, p[4]),
		"--http-address", p[6], "--log-level", "warn")
	if _, err := c2.Namespaces().Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "restored"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	two := int32(2)
	labels := map[string]string{"app": "web"}
	if _, err := c2.ReplicaSets("restored").Create(ctx, &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Name: "web"},
		Spec: &appsv1.ReplicaSetSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: labels},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "registry.keel.test/pause:3.9"}}}}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Minute, "the ServiceAccount default and two pods of ReplicaSet web in namespace restored", func() error {
		if _, err := client.For[*corev1.ServiceAccount](c2, "restored").Get(ctx, "default"); err != nil {
			return err
		}
		pods, err := c2.Pods("restored").List(ctx, client.ListOptions{})
		if err != nil {
			return err
		}
		if len(pods.Items) != 2 {
			return fmt.Errorf("%d pods", len(pods.Items))
		}
		return nil
	})
	second.Stop(t)

	// 4. The same snapshot as a new three-member cluster of Debian's etcd.
	etcdBin := "/usr/bin/etcd"
	if _, err := os.Stat(etcdBin); err != nil {
		testutil.Missing(t, "needs Debian's etcd-server (hack/install-deps.sh)")
	}
	var members, clientURLs []string
	for i := range 3 {
		members = append(members, fmt.Sprintf("m%d=http://%s", i, p[7+2*i]))
		clientURLs = append(clientURLs, "http://"+p[8+2*i])
	}
	for i := range 3 {
		name, peer := fmt.Sprintf("m%d", i), "http://"+p[7+2*i]
		memberDir := filepath.Join(dir, name)
		if out, err := restore(snap, "--data-dir", memberDir, "--name", name, "--initial-cluster", strings.Join(members, ","),
			"--initial-advertise-peer-urls", peer, "--initial-cluster-token", "keel-restored"); err != nil {
			t.Fatalf("restore %s: %v\n%s", name, err, out)
		}
		daemontest.Start(t, etcdBin, "--name", name, "--data-dir", memberDir,
			"--listen-client-urls", clientURLs[i], "--advertise-client-urls", clientURLs[i],
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(members, ","), "--initial-cluster-token", "keel-restored",
			"--logger", "zap", "--log-outputs", "stderr")
	}
	testutil.Eventually(t, time.Minute, "the restored etcd cluster healthy", func() error {
		for _, u := range clientURLs {
			if b := get(http.DefaultClient, u+"/health"); !strings.Contains(b, `"health":"true"`) {
				return fmt.Errorf("%s/health: %q", u, b)
			}
		}
		return nil
	})
	third := daemontest.Start(t, apiserverBin, append([]string{"--etcd-servers", strings.Join(clientURLs, ","),
		"--secure-address", p[13], "--http-address", p[14]}, tlsFlags...)...)
	third.WaitReady(t, "http://"+p[14]+"/readyz", time.Minute)
	c3 := connect(p[13])
	holds(c3, "after restoring into three members")
	configMap(c3, "on-three-members")
	out, err = keelctl(p[13], "etcd", "snapshot", "save", filepath.Join(dir, "external.db"))
	if err != nil || !saved.MatchString(out) {
		t.Fatalf("keelctl etcd snapshot save from external etcd: %v\n%s", err, out)
	}
}

// atoi is a resourceVersion as a number (0 if it is none).
func atoi(rv string) int64 {
	n, _ := strconv.ParseInt(rv, 10, 64)
	return n
}
