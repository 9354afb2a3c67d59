package volume

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func TestDownwardAPIVolume(t *testing.T) {
	m, _, _ := newTestManager(t, false)
	pod := podWith("u1", &corev1.Volume{Name: "podinfo", DownwardApi: &corev1.DownwardAPIVolumeSource{
		DefaultMode: proto.Int32(0o640),
		Items: []*corev1.DownwardAPIVolumeFile{
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			{Path: "uid", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}},
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}, Mode: proto.Int32(0o600)},
			{Path: "meta/annotations", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations"}},
			{Path: "cpu_limit", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.cpu",
				Divisor: &metav1.Quantity{String_: "1m"}}},
			{Path: "mem_request", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "requests.memory",
				Divisor: &metav1.Quantity{String_: "1Mi"}}},
		},
	}})
	pod.Metadata.Labels = map[string]string{"zone": "b", "app": "web"}
	pod.Metadata.Annotations = map[string]string{"build": "42"}
	pod.Spec.Containers = []*corev1.Container{{Name: "app", Resources: &corev1.ResourceRequirements{
		Limits: map[string]*metav1.Quantity{"cpu": {String_: "250m"}}, Requests: map[string]*metav1.Quantity{"memory": {String_: "32Mi"}}}}}
	paths, err := m.Setup(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["podinfo"]
	if !strings.HasSuffix(dir, "/volumes/downward-api/podinfo") {
		t.Errorf("path %s", dir)
	}
	want := map[string]string{"name": "p", "uid": "u1", "labels": "app=\"web\"\nzone=\"b\"", "meta/annotations": "build=\"42\"",
		"cpu_limit": "250", "mem_request": "32"}
	for f, w := range want {
		if got := readLink(t, filepath.Join(dir, f)); got != w {
			t.Errorf("%s = %q, want %q", f, got, w)
		}
	}
	if got := mode(t, filepath.Join(dir, "labels")); got != 0o600 {
		t.Errorf("labels mode %v", got)
	}
	if got := mode(t, filepath.Join(dir, "name")); got != 0o640 {
		t.Errorf("name mode %v", got)
	}

	// A label change switches ..data to a new version in one step.
	before := readLink(t, filepath.Join(dir, "name"))
	v1, _ := os.Readlink(filepath.Join(dir, dataDirName))
	pod.Metadata.Labels["zone"] = "c"
	if _, err := m.Setup(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	v2, _ := os.Readlink(filepath.Join(dir, dataDirName))
	if v1 == v2 || readLink(t, filepath.Join(dir, "labels")) != "app=\"web\"\nzone=\"c\"" || readLink(t, filepath.Join(dir, "name")) != before {
		t.Errorf("after the label change: ..data %s -> %s, labels %q", v1, v2, readLink(t, filepath.Join(dir, "labels")))
	}
	if _, err := os.Stat(filepath.Join(dir, v1)); err == nil {
		t.Errorf("old version %s left behind", v1)
	}
	// Nothing changed: nothing rewritten.
	if _, err := m.Setup(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if v3, _ := os.Readlink(filepath.Join(dir, dataDirName)); v3 != v2 {
		t.Errorf("rewritten without a change: %s -> %s", v2, v3)
	}

	// Always mounted read-only, even a subPath of it.
	c := &corev1.Container{Name: "app", VolumeMounts: []*corev1.VolumeMount{
		{Name: "podinfo", MountPath: "/etc/podinfo"}, {Name: "podinfo", MountPath: "/etc/labels", SubPath: "labels"}}}
	mounts, err := m.Mounts(pod, c, nil, paths)
	if err != nil || len(mounts) != 2 || !mounts[0].Readonly || !mounts[1].Readonly {
		t.Errorf("mounts %v, %v", mounts, err)
	}

	// Only pod metadata can be a file, as in Kubernetes.
	bad := podWith("u2", &corev1.Volume{Name: "ip", DownwardApi: &corev1.DownwardAPIVolumeSource{Items: []*corev1.DownwardAPIVolumeFile{
		{Path: "ip", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}}})
	if _, err := m.Setup(context.Background(), bad); err == nil || !strings.Contains(err.Error(), `volume "ip": downwardAPI "ip": unsupported fieldRef fieldPath "status.podIP"`) {
		t.Errorf("status.podIP file: %v", err)
	}
}

func TestSubPathExpr(t *testing.T) {
	m, _, _ := newTestManager(t, false)
	pod := podWith("u1", &corev1.Volume{Name: "logs", EmptyDir: &corev1.EmptyDirVolumeSource{}})
	paths, err := m.Setup(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	c := &corev1.Container{Name: "app", VolumeMounts: []*corev1.VolumeMount{{Name: "logs", MountPath: "/logs", SubPathExpr: "$(POD_NAME)/$$(x)"}}}
	mounts, err := m.Mounts(pod, c, []*runtimeapi.KeyValue{{Key: "POD_NAME", Value: []byte("web-0")}}, paths)
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(paths["logs"])
	if want := filepath.Join(real, "web-0", "$(x)"); len(mounts) != 1 || mounts[0].HostPath != want {
		t.Errorf("mounts %v, want host path %s", mounts, want)
	}
	if fi, err := os.Stat(filepath.Join(paths["logs"], "web-0", "$(x)")); err != nil || !fi.IsDir() {
		t.Errorf("subPathExpr directory not created: %v", err)
	}
}

func gidOf(t *testing.T, p string) int {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Gid)
}

func TestFSGroup(t *testing.T) {
	needRoot(t)
	const gid = 2345
	m, g, _ := newTestManager(t, false)
	g.setCM("ns", "cfg", map[string]string{"app.conf": "x"})
	g.secrets["ns/creds"] = &corev1.Secret{Data: map[string][]byte{"pass": []byte("pw")}}
	pod := podWith("u1",
		&corev1.Volume{Name: "data", EmptyDir: &corev1.EmptyDirVolumeSource{}},
		&corev1.Volume{Name: "cfg", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "cfg", Items: []*corev1.KeyToPath{{Key: "app.conf", Path: "conf/app.conf"}}}},
		&corev1.Volume{Name: "creds", Secret: &corev1.SecretVolumeSource{SecretName: "creds", DefaultMode: proto.Int32(0o400)}},
		&corev1.Volume{Name: "info", DownwardApi: &corev1.DownwardAPIVolumeSource{Items: []*corev1.DownwardAPIVolumeFile{
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}, Mode: proto.Int32(0o600)}}}},
	)
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{FsGroup: proto.Int64(gid)}
	paths, err := m.Setup(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	data := paths["data"]
	if gidOf(t, data) != gid {
		t.Errorf("emptyDir group %d", gidOf(t, data))
	}
	if fi, _ := os.Stat(data); fi.Mode()&fs.ModeSetgid == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("emptyDir mode %v", fi.Mode())
	}
	// Files: the group, readable by it (a 0400 secret becomes 0440).
	for f, wantMode := range map[string]fs.FileMode{
		filepath.Join(paths["cfg"], "conf/app.conf"): 0o644,
		filepath.Join(paths["creds"], "pass"):        0o440,
		filepath.Join(paths["info"], "name"):         0o640,
	} {
		real, err := filepath.EvalSymlinks(f)
		if err != nil {
			t.Fatal(err)
		}
		if gidOf(t, real) != gid || mode(t, real) != wantMode {
			t.Errorf("%s: group %d mode %v, want %d %v", f, gidOf(t, real), mode(t, real), gid, wantMode)
		}
		if d := filepath.Dir(real); gidOf(t, d) != gid {
			t.Errorf("%s: directory group %d", d, gidOf(t, d))
		}
	}
	// A file a container writes into the setgid emptyDir gets the group.
	if err := os.WriteFile(filepath.Join(data, "new"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if gidOf(t, filepath.Join(data, "new")) != gid {
		t.Error("a new file did not inherit the group")
	}

	// The ownership walk: Always changes everything; OnRootMismatch leaves
	// a tree whose root is right alone.
	tree := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tree, "a/b"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "a/b/f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(tree, "link")); err != nil {
		t.Fatal(err)
	}
	always := &ownership{gid: gid, policy: FSGroupChangeAlways}
	if err := always.apply(tree, false); err != nil {
		t.Fatal(err)
	}
	if gidOf(t, filepath.Join(tree, "a/b/f")) != gid || mode(t, filepath.Join(tree, "a/b/f")) != 0o660 {
		t.Errorf("file after Always: group %d mode %v", gidOf(t, filepath.Join(tree, "a/b/f")), mode(t, filepath.Join(tree, "a/b/f")))
	}
	if fi, _ := os.Stat(filepath.Join(tree, "a/b")); fi.Mode()&fs.ModeSetgid == 0 || fi.Mode().Perm() != 0o770 {
		t.Errorf("dir after Always: %v", fi.Mode())
	}
	if gidOf(t, "/etc/passwd") == gid {
		t.Error("a symlink was followed out of the volume")
	}
	if err := os.WriteFile(filepath.Join(tree, "later"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(tree, "later"), -1, 0); err != nil {
		t.Fatal(err)
	}
	onRoot := &ownership{gid: gid, policy: FSGroupChangeOnRootMismatch}
	if err := onRoot.apply(tree, false); err != nil {
		t.Fatal(err)
	}
	if gidOf(t, filepath.Join(tree, "later")) != 0 {
		t.Error("OnRootMismatch walked a tree whose root matched")
	}
	if err := os.Chown(tree, -1, 0); err != nil {
		t.Fatal(err)
	}
	if err := onRoot.apply(tree, false); err != nil {
		t.Fatal(err)
	}
	if gidOf(t, filepath.Join(tree, "later")) != gid {
		t.Error("OnRootMismatch did not walk a tree whose root mismatched")
	}
}

func boundClaim(ns, name, uid, pv string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name, Uid: uid},
		Spec: &corev1.PersistentVolumeClaimSpec{VolumeName: pv}, Status: &corev1.PersistentVolumeClaimStatus{Phase: "Bound"}}
}

func TestClaimVolume(t *testing.T) {
	m, g, _ := newTestManager(t, false)
	host := t.TempDir()
	claimVol := func(claim string, ro bool) *corev1.Volume {
		return &corev1.Volume{Name: "data", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim, ReadOnly: ro}}
	}
	setup := func(uid string, v *corev1.Volume) (map[string]string, error) {
		return m.Setup(context.Background(), podWith(uid, v))
	}

	// Not there, not bound, volume not bound back: the pod waits.
	g.pvcs["ns/pending"] = &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Uid: "c0"}, Status: &corev1.PersistentVolumeClaimStatus{Phase: "Pending"}}
	g.pvcs["ns/deleting"] = boundClaim("ns", "deleting", "c1", "pv-x")
	g.pvcs["ns/deleting"].Metadata.DeletionTimestamp = timestamppb.Now()
	g.pvcs["ns/stolen"] = boundClaim("ns", "stolen", "c2", "pv-other")
	g.pvs["pv-other"] = &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: "pv-other"},
		Spec: &corev1.PersistentVolumeSpec{HostPath: &corev1.HostPathVolumeSource{Path: host}, ClaimRef: &corev1.ObjectReference{Uid: "someone-else"}}}
	g.pvcs["ns/nfs"] = boundClaim("ns", "nfs", "c3", "pv-nfs")
	g.pvs["pv-nfs"] = &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: "pv-nfs"},
		Spec: &corev1.PersistentVolumeSpec{Nfs: &corev1.NFSVolumeSource{Server: "x", Path: "/"}, ClaimRef: &corev1.ObjectReference{Uid: "c3"}}}
	for claim, want := range map[string]string{
		"missing":  `volume "data": error processing PVC ns/missing: failed to fetch PVC from API server: persistentvolumeclaims "missing" not found`,
		"pending":  `error processing PVC ns/pending: PVC is not bound`,
		"deleting": `error processing PVC ns/deleting: PVC is being deleted`,
		"stolen":   `error processing PVC ns/stolen: found PV object pv-other but its pv.Spec.ClaimRef.UID someone-else does not point to claim.UID c2`,
		"nfs":      `PV pv-nfs: nfs volumes are not supported`,
	} {
		paths, err := setup("u-"+claim, claimVol(claim, false))
		if err == nil || !strings.Contains(err.Error(), want) || !IsPending(err) || paths["data"] != "" {
			t.Errorf("%s: %v (pending %v), want %q", claim, err, IsPending(err), want)
		}
	}
	if _, err := m.Mounts(podWith("u-pending", claimVol("pending", false)), &corev1.Container{VolumeMounts: []*corev1.VolumeMount{{Name: "data", MountPath: "/d"}}}, nil, nil); err == nil ||
		!strings.Contains(err.Error(), "PVC is not bound") {
		t.Errorf("mount of a pending claim: %v", err)
	}

	// Bound to a hostPath PV: its path, read-only when the source says so;
	// the claim is read once per pod.
	g.pvcs["ns/data"] = boundClaim("ns", "data", "c4", "pv-host")
	g.pvs["pv-host"] = &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: "pv-host"},
		Spec: &corev1.PersistentVolumeSpec{HostPath: &corev1.HostPathVolumeSource{Path: host}, ClaimRef: &corev1.ObjectReference{Uid: "c4"}}}
	pod := podWith("u1", claimVol("data", true))
	paths, err := m.Setup(context.Background(), pod)
	if err != nil || paths["data"] != host {
		t.Fatalf("paths %v, %v", paths, err)
	}
	reads := g.claimReads
	if _, err := m.Setup(context.Background(), pod); err != nil || g.claimReads != reads {
		t.Errorf("second Setup: %v, claim reads %d -> %d", err, reads, g.claimReads)
	}
	mounts, err := m.Mounts(pod, &corev1.Container{VolumeMounts: []*corev1.VolumeMount{{Name: "data", MountPath: "/d"}}}, nil, paths)
	if err != nil || len(mounts) != 1 || !mounts[0].Readonly || mounts[0].HostPath != host {
		t.Errorf("mounts %v, %v", mounts, err)
	}

	// A local-path volume whose directory is gone is created, 0777.
	lp := filepath.Join(t.TempDir(), "pvc-c5_ns_lp")
	g.pvcs["ns/lp"] = boundClaim("ns", "lp", "c5", "pvc-c5")
	g.pvs["pvc-c5"] = &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: "pvc-c5", Annotations: map[string]string{api.AnnProvisionedBy: api.LocalPathProvisioner}},
		Spec: &corev1.PersistentVolumeSpec{HostPath: &corev1.HostPathVolumeSource{Path: lp, Type: proto.String("DirectoryOrCreate")}, ClaimRef: &corev1.ObjectReference{Uid: "c5"}}}
	if paths, err := setup("u2", claimVol("lp", false)); err != nil || paths["data"] != lp {
		t.Fatalf("local-path: %v, %v", paths, err)
	}
	if fi, err := os.Stat(lp); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o777 {
		t.Errorf("local-path directory: %v, %v", fi, err)
	}

	// A local PV must exist unless it is a local-path one.
	g.pvcs["ns/local"] = boundClaim("ns", "local", "c6", "pv-local")
	g.pvs["pv-local"] = &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: "pv-local"},
		Spec: &corev1.PersistentVolumeSpec{Local: &corev1.LocalVolumeSource{Path: filepath.Join(host, "absent")}, ClaimRef: &corev1.ObjectReference{Uid: "c6"}}}
	if _, err := setup("u3", claimVol("local", false)); err == nil || !strings.Contains(err.Error(), "local volume path") {
		t.Errorf("missing local path: %v", err)
	}
	// Teardown never touches the PV's files.
	if err := os.WriteFile(filepath.Join(host, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.Teardown("u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(host, "keep")); err != nil {
		t.Errorf("teardown removed the PV's data: %v", err)
	}
}

func TestStats(t *testing.T) {
	m, g, _ := newTestManager(t, false)
	host := t.TempDir()
	g.pvcs["ns/data"] = boundClaim("ns", "data", "c1", "pv-1")
	g.pvs["pv-1"] = &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: "pv-1"},
		Spec: &corev1.PersistentVolumeSpec{HostPath: &corev1.HostPathVolumeSource{Path: host}, ClaimRef: &corev1.ObjectReference{Uid: "c1"}}}
	pod := podWith("u1",
		&corev1.Volume{Name: "scratch", EmptyDir: &corev1.EmptyDirVolumeSource{}},
		&corev1.Volume{Name: "data", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}},
		&corev1.Volume{Name: "host", HostPath: &corev1.HostPathVolumeSource{Path: host}},
		&corev1.Volume{Name: "later", EmptyDir: &corev1.EmptyDirVolumeSource{}},
	)
	if got := m.Stats(pod); len(got) != 0 {
		t.Errorf("stats before Setup: %+v", got)
	}
	paths, err := m.Setup(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(paths["scratch"], "f"), make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(host, "a/b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(paths["scratch"], "f"), filepath.Join(paths["scratch"], "hardlink")); err != nil {
		t.Fatal(err)
	}
	byName := map[string]Stats{}
	for _, s := range m.Stats(pod) {
		byName[s.Volume] = s
	}
	if len(byName) != 3 {
		t.Fatalf("stats %+v: want scratch, later and data (no hostPath)", byName)
	}
	sc := byName["scratch"]
	if sc.Namespace != "ns" || sc.Pod != "p" || sc.Claim != "" || sc.UsedBytes < 64<<10 || sc.UsedBytes > 2*(64<<10)+(64<<10) || sc.InodesUsed != 2 {
		t.Errorf("scratch %+v: want 64KiB once (the hard link not counted twice), 2 inodes", sc)
	}
	if sc.CapacityBytes <= 0 || sc.AvailableBytes <= 0 || sc.Inodes <= 0 || sc.InodesFree <= 0 {
		t.Errorf("scratch filesystem figures %+v", sc)
	}
	if d := byName["data"]; d.Claim != "data" || d.InodesUsed != 3 {
		t.Errorf("data %+v: want claim data, 3 inodes (root, a, a/b)", d)
	}
}

func TestSubPathPinned(t *testing.T) {
	needRoot(t)
	m, _, root := newTestManager(t, true)
	pod := podWith("u1", &corev1.Volume{Name: "data", EmptyDir: &corev1.EmptyDirVolumeSource{}})
	paths, err := m.Setup(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	c := &corev1.Container{Name: "app", VolumeMounts: []*corev1.VolumeMount{{Name: "data", MountPath: "/d"}, {Name: "data", MountPath: "/s", SubPath: "a/b"}}}
	for round := 0; round < 2; round++ { // a restarted container pins again
		mounts, err := m.Mounts(pod, c, nil, paths)
		if err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(root, "pods/u1/volume-subpaths/data/app/1")
		if len(mounts) != 2 || mounts[1].HostPath != want {
			t.Fatalf("mounts %v, want the subPath pinned at %s", mounts, want)
		}
		if mps, err := mountsUnder(want); err != nil || len(mps) != 1 {
			t.Fatalf("mounts at %s: %v, %v (want exactly one)", want, mps, err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "pods/u1/volume-subpaths/data/app/1/f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readLink(t, filepath.Join(paths["data"], "a/b/f")); got != "x" {
		t.Errorf("through the pin: %q", got)
	}
	// A symlink where the check saw a directory is not followed.
	real, _ := filepath.EvalSymlinks(paths["data"])
	if err := os.Symlink("/etc", filepath.Join(real, "swapped")); err != nil {
		t.Fatal(err)
	}
	if _, err := openNoFollow(real, filepath.Join(real, "swapped")); err == nil {
		t.Error("openNoFollow followed a symlink")
	}
	if err := m.Teardown("u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "pods/u1")); !os.IsNotExist(err) {
		t.Errorf("pod directory after teardown: %v", err)
	}
}
