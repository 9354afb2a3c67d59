package etcd_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/etcdserver/snapshot"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/storage"
)

// TestSnapshotSave: a cluster admin saves a snapshot that holds the
// objects made before it, whose revision keelctl prints; a caller without
// get on /etcd/snapshot (the scheduler, system:monitoring) is refused
// and nothing is written.
func TestSnapshotSave(t *testing.T) {
	s := testserver.StartSecure(t, nil, func(cfg *apiserver.Config) {
		cfg.EtcdSnapshot = cfg.Store.(storage.Snapshotter)
	})
	if _, err := pki.IssueInDir(s.PKIDir, "prometheus", pki.CertSpec{CommonName: "prometheus", Organization: []string{"system:monitoring"}, Client: true}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cm, err := s.Client(pki.AdminName).ConfigMaps("default").Create(ctx, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "before"}}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := func(who string, args ...string) keelctltest.Result {
		return keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, append([]string{"--config", s.Kubeconfig(who)}, args...)...)
	}

	for _, who := range []string{pki.SchedulerName, "prometheus"} {
		path := filepath.Join(dir, who+".db")
		run(who, "etcd", "snapshot", "save", path).Fails(t, `cannot get path "/etcd/snapshot"`)
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("a refused save left files: %v", entries)
		}
	}
	run(pki.AdminName, "etcd", "snapshot", "save").Fails(t, "accepts 1 arg")

	path := filepath.Join(dir, "snap.db")
	out := run(pki.AdminName, "etcd", "snapshot", "save", path).OK(t)
	m := regexp.MustCompile(`^Snapshot saved at .*snap\.db: (\d+) bytes, revision (\d+)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("output %q", out)
	}
	info, err := snapshot.Check(path)
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := strconv.ParseInt(cm.Metadata.ResourceVersion, 10, 64)
	if m[1] != strconv.FormatInt(info.Size, 10) || m[2] != strconv.FormatInt(info.Revision, 10) || info.Revision < rev {
		t.Errorf("printed %s bytes, revision %s; the file has %d bytes, revision %d; the ConfigMap was made at %d", m[1], m[2], info.Size, info.Revision, rev)
	}
	if _, err := os.Stat(path + ".part"); !os.IsNotExist(err) {
		t.Errorf("%s.part left behind: %v", path, err)
	}
}
