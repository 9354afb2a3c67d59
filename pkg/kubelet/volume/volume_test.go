package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/testutil"
)

type fakeGetter struct {
	mu      sync.Mutex
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
	// token is the token handed out; asked records each request as
	// "ns/sa/pod uid/audience/seconds".
	token string
	asked []string
	// pvcs ("ns/name") and pvs; claimReads counts claim reads.
	pvcs       map[string]*corev1.PersistentVolumeClaim
	pvs        map[string]*corev1.PersistentVolume
	claimReads int
}

func (g *fakeGetter) PersistentVolumeClaim(ns, name string) (*corev1.PersistentVolumeClaim, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.claimReads++
	if c, ok := g.pvcs[ns+"/"+name]; ok {
		return proto.Clone(c).(*corev1.PersistentVolumeClaim), nil
	}
	return nil, apierrors.NotFound("persistentvolumeclaims", name)
}

func (g *fakeGetter) PersistentVolume(name string) (*corev1.PersistentVolume, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if pv, ok := g.pvs[name]; ok {
		return proto.Clone(pv).(*corev1.PersistentVolume), nil
	}
	return nil, apierrors.NotFound("persistentvolumes", name)
}

func (g *fakeGetter) ServiceAccountToken(_ context.Context, pod *corev1.Pod, audience string, secs int64) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked = append(g.asked, fmt.Sprintf("%s/%s/%s/%s/%d", pod.GetMetadata().GetNamespace(), pod.GetSpec().GetServiceAccountName(),
		pod.GetMetadata().GetUid(), audience, secs))
	return g.token, nil
}

func (g *fakeGetter) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if cm, ok := g.cms[ns+"/"+name]; ok {
		return proto.Clone(cm).(*corev1.ConfigMap), nil
	}
	return nil, apierrors.NotFound("configmaps", name)
}

func (g *fakeGetter) Secret(ns, name string) (*corev1.Secret, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if s, ok := g.secrets[ns+"/"+name]; ok {
		return proto.Clone(s).(*corev1.Secret), nil
	}
	return nil, apierrors.NotFound("secrets", name)
}

func (g *fakeGetter) setCM(ns, name string, data map[string]string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cms[ns+"/"+name] = &corev1.ConfigMap{Data: data}
}

func newTestManager(t *testing.T, tmpfs bool) (*Manager, *fakeGetter, string) {
	t.Helper()
	root := t.TempDir()
	g := &fakeGetter{cms: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		pvcs: map[string]*corev1.PersistentVolumeClaim{}, pvs: map[string]*corev1.PersistentVolume{}}
	m := NewManager(root, g, nil)
	m.DisableTmpfs = !tmpfs
	return m, g, root
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testutil.Missing(t, "tmpfs mounts need root")
	}
}

func podWith(uid string, vols ...*corev1.Volume) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", Namespace: "ns", Uid: uid}, Spec: &corev1.PodSpec{Volumes: vols}}
}

func readLink(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mode(t *testing.T, p string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// visible lists the user-visible entries of a volume directory.
func visible(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

func TestEmptyDirAndTeardown(t *testing.T) {
	m, _, root := newTestManager(t, false)
	pod := podWith("u1", &corev1.Volume{Name: "scratch", EmptyDir: &corev1.EmptyDirVolumeSource{}})
	paths, err := m.Setup(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(root, "pods", "u1", "volumes", "empty-dir", "scratch")
	if paths["scratch"] != want {
		t.Fatalf("path %q, want %q", paths["scratch"], want)
	}
	if got := mode(t, want); got != 0o777 {
		t.Errorf("mode %v, want 0777", got)
	}
	if err := os.WriteFile(filepath.Join(want, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Idempotent: the data stays.
	if _, err := m.Setup(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if readLink(t, filepath.Join(want, "f")) != "x" {
		t.Error("emptyDir content lost by a second Setup")
	}
	if uids, err := m.PodsOnDisk(); err != nil || len(uids) != 1 || uids[0] != "u1" {
		t.Errorf("PodsOnDisk = %v, %v", uids, err)
	}
	if err := m.Teardown("u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "pods", "u1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pod dir left: %v", err)
	}
	if err := m.Teardown("u1"); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
	if err := m.Teardown("../x"); err == nil {
		t.Error("Teardown accepted a bad UID")
	}
}

func TestTmpfsVolumes(t *testing.T) {
	needRoot(t)
	m, g, _ := newTestManager(t, true)
	t.Cleanup(func() {
		if err := m.Teardown("u1"); err != nil {
			t.Error(err)
		}
	})
	g.secrets["ns/creds"] = &corev1.Secret{Data: map[string][]byte{"password": []byte("hunter2")}}
	pod := podWith("u1",
		&corev1.Volume{Name: "mem", EmptyDir: &corev1.EmptyDirVolumeSource{Medium: "Memory", SizeLimit: &metav1.Quantity{String_: "8Mi"}}},
		&corev1.Volume{Name: "creds", Secret: &corev1.SecretVolumeSource{SecretName: "creds"}},
	)
	paths, err := m.Setup(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mem", "creds"} {
		mounted, err := isMountPoint(paths[name])
		if err != nil || !mounted {
			t.Fatalf("%s: not a mount point: %v", name, err)
		}
	}
	info := mountInfo(t, paths["mem"])
	if !strings.Contains(info, " tmpfs ") || !strings.Contains(info, "size=8192k") {
		t.Errorf("mem mount: %s", info)
	}
	if got := mode(t, paths["mem"]); got != 0o777 {
		t.Errorf("mem mode %v", got)
	}
	if readLink(t, filepath.Join(paths["creds"], "password")) != "hunter2" {
		t.Error("secret content")
	}
	// Setup again: no second mount.
	if _, err := m.Setup(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if ms, _ := mountsUnder(m.PodDir("u1")); len(ms) != 2 {
		t.Errorf("mounts after a second Setup: %v", ms)
	}
	if err := m.Teardown("u1"); err != nil {
		t.Fatal(err)
	}
	if ms, _ := mountsUnder(m.PodDir("u1")); len(ms) != 0 {
		t.Errorf("mounts left: %v", ms)
	}
}

func mountInfo(t *testing.T, mp string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && unescapeOctal(f[4]) == mp {
			return line
		}
	}
	t.Fatalf("%s is not in mountinfo", mp)
	return ""
}

func TestHostPath(t *testing.T) {
	m, _, _ := newTestManager(t, false)
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(base, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	typ := func(s string) *string { return &s }
	for _, tt := range []struct {
		name, path string
		typ        *string
		wantErr    string
		check      func() error
	}{
		{name: "no check", path: filepath.Join(base, "absent"), typ: typ("")},
		{name: "nil type", path: filepath.Join(base, "absent")},
		{name: "DirectoryOrCreate creates", path: filepath.Join(base, "new/deep"), typ: typ("DirectoryOrCreate"), check: func() error {
			fi, err := os.Stat(filepath.Join(base, "new/deep"))
			if err == nil && !fi.IsDir() {
				err = errors.New("not a directory")
			}
			return err
		}},
		{name: "DirectoryOrCreate on a file", path: file, typ: typ("DirectoryOrCreate"), wantErr: "is not a directory"},
		{name: "Directory exists", path: base, typ: typ("Directory")},
		{name: "Directory missing", path: filepath.Join(base, "nope"), typ: typ("Directory"), wantErr: "does not exist"},
		{name: "FileOrCreate creates", path: filepath.Join(base, "made"), typ: typ("FileOrCreate"), check: func() error {
			_, err := os.Stat(filepath.Join(base, "made"))
			return err
		}},
		{name: "FileOrCreate needs the parent", path: filepath.Join(base, "no/parent"), typ: typ("FileOrCreate"), wantErr: "creating hostPath file"},
		{name: "File", path: file, typ: typ("File")},
		{name: "File is a directory", path: base, typ: typ("File"), wantErr: "is not a file"},
		{name: "Socket", path: sock, typ: typ("Socket")},
		{name: "Socket is a file", path: file, typ: typ("Socket"), wantErr: "is not a socket"},
		{name: "CharDevice", path: "/dev/null", typ: typ("CharDevice")},
		{name: "relative", path: "rel/path", typ: typ(""), wantErr: "not absolute"},
		{name: "bad type", path: base, typ: typ("Weird"), wantErr: "unsupported hostPath type"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pod := podWith("u1", &corev1.Volume{Name: "h", HostPath: &corev1.HostPathVolumeSource{Path: tt.path, Type: tt.typ}})
			paths, err := m.Setup(context.Background(), pod)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), `volume "h": `) {
					t.Fatalf("error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if paths["h"] != filepath.Clean(tt.path) {
				t.Errorf("path %q", paths["h"])
			}
			if tt.check != nil {
				if err := tt.check(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestConfigMapVolume(t *testing.T) {
	m, g, _ := newTestManager(t, false)
	g.cms["ns/cfg"] = &corev1.ConfigMap{Data: map[string]string{"a.conf": "A", "b.conf": "B"}, BinaryData: map[string][]byte{"blob": {0, 1, 2}}}
	m600, m400 := int32(0o600), int32(0o400)
	pod := podWith("u1",
		&corev1.Volume{Name: "all", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "cfg"}},
		&corev1.Volume{Name: "items", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "cfg", DefaultMode: &m600, Items: []*corev1.KeyToPath{
			{Key: "a.conf", Path: "etc/app/a.conf"}, {Key: "b.conf", Path: "b", Mode: &m400},
		}}},
		&corev1.Volume{Name: "opt", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "missing", Optional: proto.Bool(true)}},
		&corev1.Volume{Name: "optitem", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "cfg", Optional: proto.Bool(true), Items: []*corev1.KeyToPath{
			{Key: "nope", Path: "x"}, {Key: "a.conf", Path: "a"},
		}}},
	)
	paths, err := m.Setup(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	all := paths["all"]
	if got := visible(t, all); strings.Join(got, ",") != "a.conf,b.conf,blob" {
		t.Errorf("all: %v", got)
	}
	if readLink(t, filepath.Join(all, "a.conf")) != "A" || readLink(t, filepath.Join(all, "blob")) != "\x00\x01\x02" {
		t.Error("all: contents")
	}
	if got := mode(t, filepath.Join(all, "a.conf")); got != 0o644 {
		t.Errorf("default mode %v", got)
	}
	items := paths["items"]
	if got := visible(t, items); strings.Join(got, ",") != "b,etc" {
		t.Errorf("items: %v", got)
	}
	if readLink(t, filepath.Join(items, "etc/app/a.conf")) != "A" || mode(t, filepath.Join(items, "etc/app/a.conf")) != 0o600 {
		t.Error("items: nested file")
	}
	if mode(t, filepath.Join(items, "b")) != 0o400 {
		t.Errorf("item mode %v", mode(t, filepath.Join(items, "b")))
	}
	if got := visible(t, paths["opt"]); len(got) != 0 {
		t.Errorf("optional missing configmap: %v", got)
	}
	if got := visible(t, paths["optitem"]); strings.Join(got, ",") != "a" {
		t.Errorf("optional item: %v", got)
	}

	// Errors name the volume and the reason; the good volumes are still returned.
	bad := podWith("u2",
		&corev1.Volume{Name: "good", EmptyDir: &corev1.EmptyDirVolumeSource{}},
		&corev1.Volume{Name: "cm", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "x"}},
		&corev1.Volume{Name: "key", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "cfg", Items: []*corev1.KeyToPath{{Key: "nope", Path: "n"}}}},
		&corev1.Volume{Name: "sec", Secret: &corev1.SecretVolumeSource{SecretName: "y"}},
		&corev1.Volume{Name: "escape", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "cfg", Items: []*corev1.KeyToPath{{Key: "a.conf", Path: "../evil"}}}},
	)
	paths, err = m.Setup(context.Background(), bad)
	for _, want := range []string{`volume "cm": configmap "x" not found`, `volume "key": configmap "cfg" has no key "nope"`,
		`volume "sec": secret "y" not found`, `volume "escape": item "a.conf" path "../evil": must not contain ".."`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
	if paths["good"] == "" || len(paths) != 1 {
		t.Errorf("paths on error: %v", paths)
	}
}

// TestAtomicUpdate checks that a change of the configMap shows through the
// volume's links in one switch, and that an unchanged one writes nothing.
func TestAtomicUpdate(t *testing.T) {
	m, g, _ := newTestManager(t, false)
	g.setCM("ns", "cfg", map[string]string{"keep": "1", "drop": "old", "change": "v1"})
	pod := podWith("u1", &corev1.Volume{Name: "c", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "cfg"}})
	paths, err := m.Setup(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["c"]
	v1, err := os.Readlink(filepath.Join(dir, dataDirName))
	if err != nil || !strings.HasPrefix(v1, "..") {
		t.Fatalf("..data -> %q, %v", v1, err)
	}
	if link, _ := os.Readlink(filepath.Join(dir, "change")); link != "..data/change" {
		t.Errorf("user link -> %q", link)
	}

	// Unchanged: same version.
	if _, err := m.Setup(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.Readlink(filepath.Join(dir, dataDirName)); again != v1 {
		t.Errorf("rewritten without a change: %s -> %s", v1, again)
	}

	// Hold the old version open, as a reader in the middle of a read would.
	old, err := os.Open(filepath.Join(dir, "change"))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	g.setCM("ns", "cfg", map[string]string{"keep": "1", "change": "v2", "new": "n"})
	if _, err := m.Setup(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	v2, _ := os.Readlink(filepath.Join(dir, dataDirName))
	if v2 == v1 {
		t.Fatal("..data not switched")
	}
	if readLink(t, filepath.Join(dir, "change")) != "v2" || readLink(t, filepath.Join(dir, "new")) != "n" || readLink(t, filepath.Join(dir, "keep")) != "1" {
		t.Error("new contents not visible through the links")
	}
	if got := visible(t, dir); strings.Join(got, ",") != "change,keep,new" {
		t.Errorf("visible after update: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, v1)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old version %s left: %v", v1, err)
	}
	b := make([]byte, 8)
	if n, _ := old.Read(b); string(b[:n]) != "v1" {
		t.Errorf("the open old file reads %q", b[:n])
	}
	var dots []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			dots = append(dots, e.Name())
		}
	}
	if len(dots) != 2 {
		t.Errorf("atomic writer entries %v, want ..data and one version", dots)
	}

	// A mode change alone is a change.
	m444 := int32(0o444)
	pod.Spec.Volumes[0].ConfigMap.DefaultMode = &m444
	if _, err := m.Setup(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if mode(t, filepath.Join(dir, "keep")) != 0o444 {
		t.Error("mode change not applied")
	}
}

func TestSecretWithoutTmpfs(t *testing.T) {
	m, g, _ := newTestManager(t, false)
	g.secrets["ns/s"] = &corev1.Secret{Data: map[string][]byte{"tls.key": []byte("k")}}
	m0400 := int32(0o400)
	paths, err := m.Setup(context.Background(), podWith("u1", &corev1.Volume{Name: "s", Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: &m0400}}))
	if err != nil {
		t.Fatal(err)
	}
	if readLink(t, filepath.Join(paths["s"], "tls.key")) != "k" || mode(t, filepath.Join(paths["s"], "tls.key")) != 0o400 {
		t.Error("secret file")
	}
	if !strings.Contains(paths["s"], "/volumes/secret/s") {
		t.Errorf("path %s", paths["s"])
	}
}

func TestMounts(t *testing.T) {
	m, g, _ := newTestManager(t, false)
	g.setCM("ns", "cfg", map[string]string{"app.conf": "x"})
	host := t.TempDir()
	if err := os.Symlink("/etc", filepath.Join(host, "escape")); err != nil {
		t.Fatal(err)
	}
	pod := podWith("u1",
		&corev1.Volume{Name: "data", EmptyDir: &corev1.EmptyDirVolumeSource{}},
		&corev1.Volume{Name: "cfg", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "cfg"}},
		&corev1.Volume{Name: "host", HostPath: &corev1.HostPathVolumeSource{Path: host}},
	)
	paths, err := m.Setup(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	prop := "HostToContainer"
	c := &corev1.Container{Name: "app", VolumeMounts: []*corev1.VolumeMount{
		{Name: "data", MountPath: "/data"},
		{Name: "data", MountPath: "/logs", SubPath: "logs/app", ReadOnly: true},
		{Name: "cfg", MountPath: "/etc/app"},
		{Name: "cfg", MountPath: "/etc/app.conf", SubPath: "app.conf"},
		{Name: "host", MountPath: "/host", MountPropagation: &prop},
	}}
	mounts, err := m.Mounts(pod, c, nil, paths)
	if err != nil {
		t.Fatal(err)
	}
	realData, _ := filepath.EvalSymlinks(paths["data"])
	cfgVersion, _ := os.Readlink(filepath.Join(paths["cfg"], dataDirName))
	realCfg, _ := filepath.EvalSymlinks(paths["cfg"])
	want := []*runtimeapi.Mount{
		{ContainerPath: "/data", HostPath: paths["data"]},
		{ContainerPath: "/logs", HostPath: filepath.Join(realData, "logs/app"), Readonly: true},
		{ContainerPath: "/etc/app", HostPath: paths["cfg"], Readonly: true},
		{ContainerPath: "/etc/app.conf", HostPath: filepath.Join(realCfg, cfgVersion, "app.conf"), Readonly: true},
		{ContainerPath: "/host", HostPath: host, Propagation: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER},
	}
	if len(mounts) != len(want) {
		t.Fatalf("mounts %v", mounts)
	}
	for i := range want {
		if !proto.Equal(mounts[i], want[i]) {
			t.Errorf("mount %d = %v, want %v", i, mounts[i], want[i])
		}
	}
	if fi, err := os.Stat(filepath.Join(paths["data"], "logs/app")); err != nil || !fi.IsDir() {
		t.Errorf("subPath not created: %v", err)
	}

	for _, tt := range []struct {
		vm      *corev1.VolumeMount
		wantErr string
	}{
		{&corev1.VolumeMount{Name: "host", MountPath: "/x", SubPath: "escape"}, "leaves the volume"},
		{&corev1.VolumeMount{Name: "host", MountPath: "/x", SubPath: "escape/new"}, "leaves the volume"},
		{&corev1.VolumeMount{Name: "host", MountPath: "/x", SubPath: "escape/new/deeper"}, "leaves the volume"},
		{&corev1.VolumeMount{Name: "host", MountPath: "/x", SubPath: "../up"}, `must not contain ".."`},
		{&corev1.VolumeMount{Name: "host", MountPath: "/x", SubPath: "/abs"}, "must be relative"},
		{&corev1.VolumeMount{Name: "cfg", MountPath: "/x", SubPath: "absent"}, "no such file"},
		{&corev1.VolumeMount{Name: "nope", MountPath: "/x"}, `the pod has no volume "nope"`},
		{&corev1.VolumeMount{Name: "data", MountPath: "/x", SubPathExpr: "$(POD)/$(EMPTY)/$(POD)"}, "missing value for EMPTY, POD"},
		{&corev1.VolumeMount{Name: "data", MountPath: "/x", SubPathExpr: "$(UP)/x"}, `expanded to "../x": must not contain ".."`},
		{&corev1.VolumeMount{Name: "data", MountPath: "/x", SubPathExpr: "$(ABS)"}, `expanded to "/etc": must be a relative path`},
	} {
		env := []*runtimeapi.KeyValue{{Key: "EMPTY"}, {Key: "UP", Value: []byte("..")}, {Key: "ABS", Value: []byte("/etc")}}
		_, err := m.Mounts(pod, &corev1.Container{Name: "c", VolumeMounts: []*corev1.VolumeMount{tt.vm}}, env, paths)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: error %v, want %q", tt.vm, err, tt.wantErr)
		}
	}
	if _, err := os.Stat("/etc/new"); err == nil {
		t.Error("subPath created a directory outside the volume")
	}
	if _, err := m.Mounts(pod, c, nil, map[string]string{"data": paths["data"]}); err == nil || !strings.Contains(err.Error(), "is not set up") {
		t.Errorf("missing host path: %v", err)
	}
}

func TestUnescapeOctal(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/x\134y`: `/x\y`, `/bad\9`: `/bad\9`, `/end\04`: `/end\04`} {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestProjectedVolume: every source lands in one directory with its
// modes, and a new token or changed object is written in place.
func TestProjectedVolume(t *testing.T) {
	m, g, _ := newTestManager(t, false)
	g.cms["ns/kube-root-ca.crt"] = &corev1.ConfigMap{Data: map[string]string{"ca.crt": "CA", "other": "x"}}
	g.secrets["ns/creds"] = &corev1.Secret{Data: map[string][]byte{"user": []byte("bob"), "pass": []byte("pw")}}
	g.token = "tok-1"
	m0600, m0400 := int32(0o600), int32(0o400)
	pod := podWith("u1", &corev1.Volume{Name: "api", Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: &m0600,
		Sources: []*corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: proto.Int64(3607), Path: "token"}},
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: "vault", Path: "vault/token"}},
			{ConfigMap: &corev1.ConfigMapProjection{Name: "kube-root-ca.crt", Items: []*corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{Secret: &corev1.SecretProjection{Name: "creds", Items: []*corev1.KeyToPath{{Key: "pass", Path: "pass", Mode: &m0400}}}},
			{Secret: &corev1.SecretProjection{Name: "absent", Optional: proto.Bool(true)}},
			{DownwardApi: &corev1.DownwardAPIProjection{Items: []*corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{ApiVersion: "v1", FieldPath: "metadata.namespace"}},
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}, Mode: proto.Int32(0o644)},
				{Path: "tier", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['tier']"}},
				{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory",
					Divisor: &metav1.Quantity{String_: "1Mi"}}},
			}}},
		},
	}})
	pod.Metadata.Labels = map[string]string{"tier": "web", "app": "shop \"x\""}
	pod.Spec.ServiceAccountName = "builder"
	pod.Spec.Containers = []*corev1.Container{{Name: "app", Resources: &corev1.ResourceRequirements{
		Limits: map[string]*metav1.Quantity{"memory": {String_: "64Mi"}}}}}
	paths, err := m.Setup(context.Background(), pod)
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["api"]
	if !strings.Contains(dir, "/volumes/projected/api") {
		t.Errorf("path %s", dir)
	}
	if got := strings.Join(visible(t, dir), ","); got != "ca.crt,labels,mem,namespace,pass,tier,token,vault" {
		t.Errorf("files %s", got)
	}
	for f, want := range map[string]string{"token": "tok-1", "vault/token": "tok-1", "ca.crt": "CA", "pass": "pw", "namespace": "ns",
		"labels": "app=\"shop \\\"x\\\"\"\ntier=\"web\"", "tier": "web", "mem": "64"} {
		if got := readLink(t, filepath.Join(dir, f)); got != want {
			t.Errorf("%s: %q, want %q", f, got, want)
		}
	}
	for f, want := range map[string]fs.FileMode{"token": 0o600, "ca.crt": 0o600, "pass": 0o400, "labels": 0o644, "namespace": 0o600} {
		if got := mode(t, filepath.Join(dir, f)); got != want {
			t.Errorf("%s: mode %v, want %v", f, got, want)
		}
	}
	if got := strings.Join(g.asked, " "); got != "ns/builder/u1//3607 ns/builder/u1/vault/3600" {
		t.Errorf("token requests %s", got)
	}

	// A new token and a changed label are written in place.
	g.token = "tok-2"
	pod.Metadata.Labels["tier"] = "db"
	if _, err := m.Setup(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if readLink(t, filepath.Join(dir, "token")) != "tok-2" || readLink(t, filepath.Join(dir, "tier")) != "db" {
		t.Errorf("not refreshed: token %q tier %q", readLink(t, filepath.Join(dir, "token")), readLink(t, filepath.Join(dir, "tier")))
	}

	// The volume is mounted read-only.
	c := &corev1.Container{Name: "app", VolumeMounts: []*corev1.VolumeMount{{Name: "api", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}}
	mounts, err := m.Mounts(pod, c, nil, paths)
	if err != nil || len(mounts) != 1 || !mounts[0].Readonly {
		t.Errorf("mounts %v, %v", mounts, err)
	}

	// Errors name the volume and the source.
	bad := podWith("u2",
		&corev1.Volume{Name: "dup", Projected: &corev1.ProjectedVolumeSource{Sources: []*corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "x"}},
			{DownwardApi: &corev1.DownwardAPIProjection{Items: []*corev1.DownwardAPIVolumeFile{{Path: "x", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}},
		}}},
		&corev1.Volume{Name: "field", Projected: &corev1.ProjectedVolumeSource{Sources: []*corev1.VolumeProjection{
			{DownwardApi: &corev1.DownwardAPIProjection{Items: []*corev1.DownwardAPIVolumeFile{{Path: "ip", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}}},
		}}},
		&corev1.Volume{Name: "cm", Projected: &corev1.ProjectedVolumeSource{Sources: []*corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{Name: "nope"}},
		}}},
	)
	_, err = m.Setup(context.Background(), bad)
	for _, want := range []string{`volume "dup": sources[1]: path "x" is projected twice`,
		`volume "field": sources[0]: downwardAPI "ip": unsupported fieldRef fieldPath "status.podIP"`,
		`volume "cm": sources[0]: configmap "nope" not found`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
}

// TestNFSVolumeIsRefused: a pod's nfs volume (which the API accepts, as
// Kubernetes does) fails its setup with a message saying why, and the
// pod's other volumes are still set up.
func TestNFSVolumeIsRefused(t *testing.T) {
	m, _, _ := newTestManager(t, false)
	pod := podWith("u1", &corev1.Volume{Name: "scratch", EmptyDir: &corev1.EmptyDirVolumeSource{}},
		&corev1.Volume{Name: "share", Nfs: &corev1.NFSVolumeSource{Server: "nfs.example.com", Path: "/exports"}})
	paths, err := m.Setup(context.Background(), pod)
	if err == nil || !strings.Contains(err.Error(), `volume "share": nfs volumes are not supported by this kubelet`) {
		t.Errorf("setup error %v", err)
	}
	if paths["scratch"] == "" {
		t.Errorf("the other volume was not set up: %v", paths)
	}
}
