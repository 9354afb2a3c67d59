// Package volume prepares a pod's volumes on the node for the kubelet:
// emptyDir, hostPath, configMap, secret, downwardAPI, projected and
// persistentVolumeClaim (hostPath and local PVs), the way the Kubernetes
// kubelet lays them out, and turns a container's volumeMounts into CRI
// mounts.
//
// Layout: every volume of a pod that needs a directory of its own lives at
//
//	RootDir/pods/<pod UID>/volumes/<kind>/<volume name>
//
// with kind empty-dir, configmap, secret, downward-api or projected; a
// hostPath volume is the host path itself, a persistentVolumeClaim volume
// its PV's path, or for a CSI PV the path its driver published it at,
// RootDir/pods/<pod UID>/volumes/kubernetes.io~csi/<PV name>/mount (see
// setupCSI). Medium Memory emptyDirs and every secret, downwardAPI and
// projected volume are tmpfs mounts (secret data and tokens never touch
// the disk). ConfigMap, secret, downwardAPI and projected volumes are
// written atomically (see writeAtomic): a running container sees a change
// as one switch from the old set of files to the new one.
//
// A pod's fsGroup (securityContext.fsGroup, with fsGroupChangePolicy) is
// applied as in Kubernetes: the files of configMap, secret, downwardAPI
// and projected volumes are written with its group and group-readable;
// emptyDir and local PV trees are given to it (group read/write, setgid
// directories) once per pod on this kubelet, Always or OnRootMismatch.
package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/kubelet/envvars"
)

// Getter is how the manager reads configMaps and secrets (the kubelet
// passes informer-backed getters). A missing object is an apierrors
// NotFound error.
type Getter interface {
	ConfigMap(ns, name string) (*corev1.ConfigMap, error)
	Secret(ns, name string) (*corev1.Secret, error)
	// ServiceAccountToken returns a token of pod's service account, bound
	// to the pod, for audience (empty: the apiserver's) with about
	// expirationSeconds of lifetime: a fresh one whenever the last one
	// handed out is due for refresh (see package token).
	ServiceAccountToken(ctx context.Context, pod *corev1.Pod, audience string, expirationSeconds int64) (string, error)
	Claims
}

// Directory names of the volume kinds under a pod's volumes directory.
const (
	KindEmptyDir  = "empty-dir"
	KindConfigMap = "configmap"
	KindSecret    = "secret"
	KindProjected = "projected"
	KindDownward  = "downward-api"
)

// DefaultTokenExpirationSeconds is the lifetime of a serviceAccountToken
// projection that sets none (Kubernetes' hour).
const DefaultTokenExpirationSeconds = 3600

// DefaultMode is the mode of configMap and secret files when the volume
// sets no defaultMode.
const DefaultMode = 0o644

// Manager prepares and removes pod volumes. It keeps no state of its own
// besides the files, so a restarted kubelet picks up where it left off.
// Methods are safe for concurrent use.
type Manager struct {
	rootDir string
	getter  Getter
	log     *zap.Logger

	// CSI, set before first use, serves persistentVolumeClaim volumes
	// whose PV has a csi source (see setupCSI); nil refuses them.
	CSI CSIHost

	// DisableTmpfs, set before first use, keeps Memory emptyDirs and
	// secrets in ordinary directories instead of tmpfs mounts: for hollow
	// nodes and unprivileged tests only (secrets then reach the disk).
	DisableTmpfs bool

	mu sync.Mutex // serializes Setup and Teardown
	// failed holds why each volume of a pod failed its last Setup (pod
	// UID → volume name → error), for Mounts' errors; guarded by mu.
	failed map[string]map[string]error
	// owned holds the volumes of each pod (pod UID → volume name) whose
	// tree was given to the pod's fsGroup; guarded by mu.
	owned map[string]map[string]bool
	// claims holds the persistentVolumeClaim volumes of each pod resolved
	// (pod UID → volume name): a bound claim keeps its volume, so it is
	// read from the API once per pod; guarded by mu.
	claims map[string]map[string]*claimVolume
}

// NewManager returns a Manager that keeps pod volumes under rootDir/pods and
// reads configMaps and secrets through g.
func NewManager(rootDir string, g Getter, log *zap.Logger) *Manager {
	if log == nil {
		log = zap.NewNop()
	}
	return &Manager{rootDir: rootDir, getter: g, log: log, failed: map[string]map[string]error{},
		owned: map[string]map[string]bool{}, claims: map[string]map[string]*claimVolume{}}
}

// PodDir returns the directory of a pod's files: RootDir/pods/<uid>.
func (m *Manager) PodDir(podUID string) string {
	return filepath.Join(m.rootDir, "pods", podUID)
}

// VolumeDir returns where a volume of the given kind (KindEmptyDir, …) of a
// pod lives.
func (m *Manager) VolumeDir(podUID, kind, name string) string {
	return filepath.Join(m.PodDir(podUID), "volumes", kind, name)
}

// PodsOnDisk returns the UIDs of the pods that have a directory under
// RootDir/pods, so that a restarted kubelet can Teardown those it no longer
// runs.
func (m *Manager) PodsOnDisk() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(m.rootDir, "pods"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var uids []string
	for _, e := range entries {
		if e.IsDir() {
			uids = append(uids, e.Name())
		}
	}
	return uids, nil
}

// Setup prepares every volume of pod and returns, by volume name, the host
// path to bind-mount. It is idempotent and cheap when nothing changed, and
// is meant to be called on every pod sync: configMap and secret volumes are
// rewritten (atomically) when their object changed.
//
//   - emptyDir: a directory, mode 0777; medium Memory: a tmpfs mount, its
//     size limited to sizeLimit when set.
//   - hostPath: the path itself, checked according to type: "" no check;
//     DirectoryOrCreate / FileOrCreate create a directory (0755, with
//     parents) / an empty file (0644, parent must exist) when nothing is
//     there; Directory, File, Socket, CharDevice, BlockDevice must exist
//     and be one.
//   - configMap / secret: one file per key (data and binaryData for
//     configMaps), or per item (key, path, mode), with defaultMode (0644)
//     otherwise. A missing object (or item key) is an error unless the
//     volume is optional, in which case the volume is empty (the item
//     skipped). Secret volumes are tmpfs mounts.
//   - downwardAPI: one file per item (see downwardFiles), rewritten when
//     the pod's labels or annotations change.
//   - projected: the files of its sources in one directory (see
//     setupProjected); service account tokens are refreshed here too.
//   - persistentVolumeClaim: the path of the PV bound to the claim (see
//     resolveClaim); a CSI PV is staged and published by its driver
//     first (see setupCSI). Its error is a PendingError: no container may start
//     without it.
//
// On error, the paths of the volumes that are ready are returned with an
// error naming each failed volume and why (e.g. `volume "cfg": configmap
// "x" not found`).
func (m *Manager) Setup(ctx context.Context, pod *corev1.Pod) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	uid := pod.GetMetadata().GetUid()
	if uid == "" {
		return nil, errors.New("pod has no UID")
	}
	ns := pod.GetMetadata().GetNamespace()
	own := podOwnership(pod)
	paths := map[string]string{}
	failed := map[string]error{}
	var errs []error
	for _, v := range pod.GetSpec().GetVolumes() {
		if err := ctx.Err(); err != nil {
			return paths, err
		}
		name := v.GetName()
		if err := validName(name); err != nil {
			errs = append(errs, fmt.Errorf("volume %q: %v", name, err))
			continue
		}
		var p string
		var err error
		switch {
		case v.GetEmptyDir() != nil:
			if p, err = m.setupEmptyDir(uid, name, v.GetEmptyDir()); err == nil {
				err = m.ownOnce(uid, name, p, own, false)
			}
		case v.GetHostPath() != nil:
			p, err = setupHostPath(v.GetHostPath())
		case v.GetConfigMap() != nil:
			p, err = m.setupConfigMap(uid, ns, name, v.GetConfigMap(), own)
		case v.GetSecret() != nil:
			p, err = m.setupSecret(uid, ns, name, v.GetSecret(), own)
		case v.GetDownwardApi() != nil:
			p, err = m.setupDownwardAPI(pod, name, v.GetDownwardApi(), own)
		case v.GetProjected() != nil:
			p, err = m.setupProjected(ctx, pod, name, v.GetProjected(), own)
		case v.GetPersistentVolumeClaim() != nil:
			cv := m.claims[uid][name]
			if cv == nil {
				if cv, err = m.resolveClaim(ctx, pod, v.GetPersistentVolumeClaim()); err == nil {
					if m.claims[uid] == nil {
						m.claims[uid] = map[string]*claimVolume{}
					}
					m.claims[uid][name] = cv
				}
			}
			if err == nil {
				p = cv.path
				if cv.owned {
					err = m.ownOnce(uid, name, p, own, v.GetPersistentVolumeClaim().GetReadOnly())
				}
			}
			if err != nil {
				err = &PendingError{err}
			}
		case v.GetNfs() != nil:
			err = errors.New("nfs volumes are not supported by this kubelet")
		default:
			err = errors.New("no supported volume source (emptyDir, hostPath, configMap, secret, downwardAPI, projected, persistentVolumeClaim)")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("volume %q: %w", name, err))
			failed[name] = err
			continue
		}
		paths[name] = p
	}
	m.failed[uid] = failed
	return paths, errors.Join(errs...)
}

// ownOnce gives the tree of volume name at dir to the pod's fsGroup the
// first time it is set up by this manager (see ownership.apply). Called
// with mu held.
func (m *Manager) ownOnce(uid, name, dir string, o *ownership, readOnly bool) error {
	if o == nil || m.owned[uid][name] {
		return nil
	}
	if err := o.apply(dir, readOnly); err != nil {
		return fmt.Errorf("applying fsGroup %d: %v", o.gid, err)
	}
	if m.owned[uid] == nil {
		m.owned[uid] = map[string]bool{}
	}
	m.owned[uid][name] = true
	return nil
}

// validName refuses volume names that are not one plain path element.
func validName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("invalid volume name")
	}
	return nil
}

func (m *Manager) setupEmptyDir(uid, name string, src *corev1.EmptyDirVolumeSource) (string, error) {
	dir := m.VolumeDir(uid, KindEmptyDir, name)
	if src.GetMedium() == "Memory" {
		var size int64
		if s := src.GetSizeLimit().GetString_(); s != "" {
			q, err := resource.ParseQuantity(s)
			if err != nil {
				return "", fmt.Errorf("sizeLimit %q: %v", s, err)
			}
			size = q.Value()
		}
		if err := m.ensureTmpfs(dir, size, 0o777); err != nil {
			return "", err
		}
		return dir, nil
	} else if src.GetMedium() != "" {
		return "", fmt.Errorf("unsupported emptyDir medium %q", src.GetMedium())
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	// Any user of the container may write to it, as in Kubernetes.
	if err := setPerm(dir, 0o777); err != nil {
		return "", err
	}
	return dir, nil
}

func setupHostPath(src *corev1.HostPathVolumeSource) (string, error) {
	p := src.GetPath()
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("hostPath %q is not absolute", p)
	}
	p = filepath.Clean(p)
	typ := src.GetType()
	if typ == "" {
		return p, nil
	}
	fi, err := os.Stat(p)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("hostPath %s: %v", p, err)
	}
	want := func(ok bool, what string) (string, error) {
		if !exists {
			return "", fmt.Errorf("hostPath type check failed: %s does not exist (type %s)", p, typ)
		}
		if !ok {
			return "", fmt.Errorf("hostPath type check failed: %s is not a %s", p, what)
		}
		return p, nil
	}
	switch typ {
	case "DirectoryOrCreate":
		if !exists {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return "", fmt.Errorf("creating hostPath directory %s: %v", p, err)
			}
			return p, nil
		}
		return want(fi.IsDir(), "directory")
	case "FileOrCreate":
		if !exists {
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return "", fmt.Errorf("creating hostPath file %s: %v", p, err)
			}
			return p, f.Close()
		}
		return want(!fi.IsDir(), "file")
	case "Directory":
		return want(exists && fi.IsDir(), "directory")
	case "File":
		return want(exists && fi.Mode().IsRegular(), "file")
	case "Socket":
		return want(exists && fi.Mode()&fs.ModeSocket != 0, "socket")
	case "CharDevice":
		return want(exists && fi.Mode()&fs.ModeCharDevice != 0, "character device")
	case "BlockDevice":
		return want(exists && fi.Mode()&fs.ModeDevice != 0 && fi.Mode()&fs.ModeCharDevice == 0, "block device")
	}
	return "", fmt.Errorf("unsupported hostPath type %q", typ)
}

func (m *Manager) setupConfigMap(uid, ns, name string, src *corev1.ConfigMapVolumeSource, own *ownership) (string, error) {
	dir := m.VolumeDir(uid, KindConfigMap, name)
	data, err := m.configMapData(ns, src.GetName(), src.GetOptional())
	if err != nil {
		return "", err
	}
	files, err := payload("configmap", src.GetName(), data, src.GetItems(), src.DefaultMode, src.GetOptional())
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := writeAtomic(dir, files, own); err != nil {
		return "", err
	}
	return dir, nil
}

func (m *Manager) setupSecret(uid, ns, name string, src *corev1.SecretVolumeSource, own *ownership) (string, error) {
	dir := m.VolumeDir(uid, KindSecret, name)
	data, err := m.secretData(ns, src.GetSecretName(), src.GetOptional())
	if err != nil {
		return "", err
	}
	files, err := payload("secret", src.GetSecretName(), data, src.GetItems(), src.DefaultMode, src.GetOptional())
	if err != nil {
		return "", err
	}
	if err := m.ensureTmpfs(dir, 0, 0o755); err != nil {
		return "", err
	}
	if err := writeAtomic(dir, files, own); err != nil {
		return "", err
	}
	return dir, nil
}

// configMapData returns the keys of the named configMap (data and
// binaryData); nil when it is missing and optional.
func (m *Manager) configMapData(ns, name string, optional bool) (map[string][]byte, error) {
	cm, err := m.getter.ConfigMap(ns, name)
	switch {
	case apierrors.IsNotFound(err) && optional:
		return nil, nil
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("configmap %q not found", name)
	case err != nil:
		return nil, fmt.Errorf("reading configmap %q: %v", name, err)
	}
	data := make(map[string][]byte, len(cm.GetData())+len(cm.GetBinaryData()))
	for k, v := range cm.GetData() {
		data[k] = []byte(v)
	}
	for k, v := range cm.GetBinaryData() {
		data[k] = v
	}
	return data, nil
}

// secretData returns the keys of the named secret; nil when it is missing
// and optional.
func (m *Manager) secretData(ns, name string, optional bool) (map[string][]byte, error) {
	s, err := m.getter.Secret(ns, name)
	switch {
	case apierrors.IsNotFound(err) && optional:
		return nil, nil
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("secret %q not found", name)
	case err != nil:
		return nil, fmt.Errorf("reading secret %q: %v", name, err)
	}
	return s.GetData(), nil
}

// file is one file of a configMap or secret volume.
type file struct {
	data []byte
	mode fs.FileMode
}

// payload returns the files of a configMap/secret volume by relative path.
func payload(kind, objName string, data map[string][]byte, items []*corev1.KeyToPath, dm *int32, optional bool) (map[string]file, error) {
	mode, err := defaultMode(dm)
	if err != nil {
		return nil, err
	}
	files := map[string]file{}
	if len(items) == 0 {
		for k, v := range data {
			if err := checkPath(k); err != nil {
				return nil, fmt.Errorf("%s %q key %q: %v", kind, objName, k, err)
			}
			files[k] = file{v, mode}
		}
		return files, nil
	}
	for _, it := range items {
		v, ok := data[it.GetKey()]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("%s %q has no key %q", kind, objName, it.GetKey())
		}
		if err := checkPath(it.GetPath()); err != nil {
			return nil, fmt.Errorf("item %q path %q: %v", it.GetKey(), it.GetPath(), err)
		}
		m := mode
		if it.Mode != nil {
			if *it.Mode < 0 || *it.Mode > 0o777 {
				return nil, fmt.Errorf("item %q mode %#o is out of range (0 to 0777)", it.GetKey(), *it.Mode)
			}
			m = fs.FileMode(*it.Mode)
		}
		files[filepath.Clean(it.GetPath())] = file{v, m}
	}
	return files, nil
}

// defaultMode is a volume's defaultMode, DefaultMode when unset.
func defaultMode(dm *int32) (fs.FileMode, error) {
	if dm == nil {
		return DefaultMode, nil
	}
	if *dm < 0 || *dm > 0o777 {
		return 0, fmt.Errorf("defaultMode %#o is out of range (0 to 0777)", *dm)
	}
	return fs.FileMode(*dm), nil
}

// checkPath refuses file paths that could leave the volume or clash with
// the atomic writer's own entries.
func checkPath(p string) error {
	if p == "" {
		return errors.New("empty path")
	}
	if filepath.IsAbs(p) {
		return errors.New("must be relative")
	}
	if hasDotDot(p) {
		return errors.New(`must not contain ".."`)
	}
	if strings.HasPrefix(p, "..") {
		return errors.New(`must not start with ".."`)
	}
	return nil
}

// ensureTmpfs makes dir a tmpfs mount (size bytes, 0: the kernel's default)
// unless it is one already, or a plain directory when tmpfs is disabled.
func (m *Manager) ensureTmpfs(dir string, size int64, mode fs.FileMode) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if m.DisableTmpfs {
		return setPerm(dir, mode)
	}
	mounted, err := isMountPoint(dir)
	if err != nil {
		return err
	}
	if mounted {
		return nil
	}
	opts := fmt.Sprintf("mode=%o", mode)
	if size > 0 {
		opts += fmt.Sprintf(",size=%d", size)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mounting a tmpfs at %s: %v (needs root)", dir, err)
	}
	return nil
}

// setPerm gives dir the permission bits perm, keeping its setgid bit (set
// by an fsGroup).
func setPerm(dir string, perm fs.FileMode) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() == perm {
		return nil
	}
	return os.Chmod(dir, perm|fi.Mode()&fs.ModeSetgid)
}

// isMountPoint tells whether dir is the root of a mount, by comparing its
// device with its parent's (enough for the tmpfs mounts made here).
func isMountPoint(dir string) (bool, error) {
	var st, parent syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return false, nil
		}
		return false, err
	}
	if err := syscall.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev || st.Ino == parent.Ino, nil
}

// Teardown unpublishes the pod's CSI volumes (and unstages those no other
// pod on the node uses), unmounts every mount under the pod's directory
// (its tmpfs volumes) and removes the directory. It succeeds for a pod without one.
// The pod's containers must be gone: a mount that cannot be unmounted
// stops the removal (nothing is deleted through a mount).
func (m *Manager) Teardown(podUID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := validName(podUID); err != nil {
		return fmt.Errorf("pod UID %q: %v", podUID, err)
	}
	delete(m.failed, podUID)
	delete(m.owned, podUID)
	delete(m.claims, podUID)
	dir := m.PodDir(podUID)
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := m.teardownCSI(podUID); err != nil {
		return err
	}
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	// Deepest first.
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	for _, mp := range mounts {
		if err := syscall.Unmount(mp, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
			m.log.Warn("unmount failed; detaching", zap.String("path", mp), zap.Error(err))
			if err := syscall.Unmount(mp, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
				return fmt.Errorf("unmounting %s: %v", mp, err)
			}
		}
	}
	if left, err := mountsUnder(dir); err != nil {
		return err
	} else if len(left) > 0 {
		return fmt.Errorf("pod %s: still mounted: %s", podUID, strings.Join(left, ", "))
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s: %v", dir, err)
	}
	return nil
}

// mountsUnder returns the mount points at or below dir, from
// /proc/self/mountinfo.
func mountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	dir = filepath.Clean(dir)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeOctal(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out, nil
}

// unescapeOctal decodes mountinfo's \NNN escapes (space, tab, newline, \).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, ok := octal(s[i+1 : i+4]); ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func octal(s string) (byte, bool) {
	if len(s) != 3 {
		return 0, false
	}
	var v int
	for _, c := range s {
		if c < '0' || c > '7' {
			return 0, false
		}
		v = v*8 + int(c-'0')
	}
	if v > 255 {
		return 0, false
	}
	return byte(v), true
}

// setupFailure is why volume name of pod uid failed its last Setup, or nil.
func (m *Manager) setupFailure(uid, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failed[uid][name]
}

// Mounts returns the CRI mounts of container c's volumeMounts, given the
// host paths Setup returned and the container's environment (for
// subPathExpr); a volume that is not set up is an error saying why its
// last Setup failed (e.g. `secret "x" not found`).
//
//   - subPath mounts the file or directory at that path inside the volume
//     (created as a directory in writable volumes when missing); it must
//     be relative, without "..", and may not resolve (through symlinks)
//     outside the volume. What was checked is bind-mounted at the pod's
//     volume-subpaths directory (see pinSubPath), and that is what the
//     container mounts, so a symlink swapped in meanwhile is not followed
//     (not with DisableTmpfs: unprivileged, the checked path is mounted).
//   - subPathExpr is expanded first, $(VAR) taking the container's
//     environment variables as Kubernetes does: a variable that is
//     undefined or empty is an error.
//   - readOnly mounts read-only, and so do a persistentVolumeClaim
//     source's readOnly and configMap, secret, downwardAPI and projected
//     volumes (always), as in Kubernetes.
//   - mountPropagation None, HostToContainer and Bidirectional map to the
//     CRI's.
func (m *Manager) Mounts(pod *corev1.Pod, c *corev1.Container, env []*runtimeapi.KeyValue, hostPaths map[string]string) ([]*runtimeapi.Mount, error) {
	vols := map[string]*corev1.Volume{}
	for _, v := range pod.GetSpec().GetVolumes() {
		vols[v.GetName()] = v
	}
	var out []*runtimeapi.Mount
	for i, vm := range c.GetVolumeMounts() {
		name := vm.GetName()
		v, ok := vols[name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %q: the pod has no volume %q", vm.GetMountPath(), name)
		}
		host, ok := hostPaths[name]
		if !ok {
			if err := m.setupFailure(pod.GetMetadata().GetUid(), name); err != nil {
				return nil, fmt.Errorf("volumeMount %q: volume %q: %w", vm.GetMountPath(), name, err)
			}
			return nil, fmt.Errorf("volumeMount %q: volume %q is not set up", vm.GetMountPath(), name)
		}
		apiData := v.GetConfigMap() != nil || v.GetSecret() != nil || v.GetProjected() != nil || v.GetDownwardApi() != nil
		sp := vm.GetSubPath()
		if expr := vm.GetSubPathExpr(); expr != "" {
			var err error
			if sp, err = expandSubPath(expr, env); err != nil {
				return nil, fmt.Errorf("volumeMount %q of container %q: subPathExpr %q: %v", vm.GetMountPath(), c.GetName(), expr, err)
			}
		}
		if sp != "" {
			root, p, err := subPath(host, sp, !apiData)
			if err == nil && !m.DisableTmpfs {
				p, err = m.pinSubPath(pod.GetMetadata().GetUid(), name, c.GetName(), i, root, p)
			}
			if err != nil {
				return nil, fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q: subPath %q: %v", vm.GetMountPath(), c.GetName(), sp, err)
			}
			host = p
		}
		mount := &runtimeapi.Mount{
			ContainerPath: vm.GetMountPath(),
			HostPath:      host,
			Readonly:      vm.GetReadOnly() || apiData || v.GetPersistentVolumeClaim().GetReadOnly(),
		}
		switch vm.GetMountPropagation() {
		case "", api.MountPropagationNone:
			mount.Propagation = runtimeapi.MountPropagation_PROPAGATION_PRIVATE
		case api.MountPropagationHostToContainer:
			mount.Propagation = runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
		case api.MountPropagationBidirectional:
			mount.Propagation = runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
		default:
			return nil, fmt.Errorf("volumeMount %q: unknown mountPropagation %q", vm.GetMountPath(), vm.GetMountPropagation())
		}
		out = append(out, mount)
	}
	return out, nil
}

// expandSubPath expands a subPathExpr with the container's environment:
// every $(VAR) must name a variable with a value; the result must be a
// relative path without "..".
func expandSubPath(expr string, env []*runtimeapi.KeyValue) (string, error) {
	vars := make(map[string]string, len(env))
	for _, kv := range env {
		vars[kv.GetKey()] = string(kv.GetValue())
	}
	var missing []string
	out := envvars.Expand(expr, func(name string) (string, bool) {
		v, ok := vars[name]
		if !ok || v == "" {
			if !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
			return "", true
		}
		return v, true
	})
	if len(missing) > 0 {
		sort.Strings(missing)
		return "", fmt.Errorf("missing value for %s", strings.Join(missing, ", "))
	}
	if filepath.IsAbs(out) {
		return "", fmt.Errorf("expanded to %q: must be a relative path", out)
	}
	if hasDotDot(out) {
		return "", fmt.Errorf("expanded to %q: must not contain \"..\"", out)
	}
	return out, nil
}

func hasDotDot(p string) bool {
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return true
		}
	}
	return false
}

// subPath resolves sub inside the volume at root: the real paths of the
// root and of sub, which must stay inside the volume. create makes a missing path a directory with the
// mode of the volume's root (as Kubernetes), below the deepest existing
// ancestor, which must itself resolve inside the volume.
func subPath(root, sub string, create bool) (realRoot, real string, err error) {
	if filepath.IsAbs(sub) {
		return "", "", errors.New("must be relative")
	}
	if hasDotDot(sub) {
		return "", "", errors.New(`must not contain ".."`)
	}
	realRoot, err = filepath.EvalSymlinks(root)
	if err != nil {
		return "", "", err
	}
	p := filepath.Join(root, sub)
	real, err = filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) && create {
		if err := mkdirInside(realRoot, p); err != nil {
			return "", "", err
		}
		real, err = filepath.EvalSymlinks(p)
	}
	if err != nil {
		return "", "", err
	}
	if !within(realRoot, real) {
		return "", "", errors.New("leaves the volume")
	}
	return realRoot, real, nil
}

// mkdirInside creates the missing directories of p, a path inside the
// volume whose real root is realRoot: the deepest ancestor of p that exists
// must resolve inside the volume, and each new directory is made below
// its real path, with the root's mode (permissions and setgid).
func mkdirInside(realRoot, p string) error {
	fi, err := os.Stat(realRoot)
	if err != nil {
		return err
	}
	mode := fi.Mode() & (fs.ModePerm | fs.ModeSetgid)
	existing := p
	var missing []string
	for {
		_, err := os.Lstat(existing)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, filepath.Base(existing))
		existing = filepath.Dir(existing)
	}
	cur, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return err
	}
	if !within(realRoot, cur) {
		return errors.New("leaves the volume")
	}
	for i := len(missing) - 1; i >= 0; i-- {
		cur = filepath.Join(cur, missing[i])
		if err := os.Mkdir(cur, mode.Perm()); err != nil {
			return err
		}
		if err := os.Chmod(cur, mode); err != nil { // Mkdir's mode is subject to the umask
			return err
		}
	}
	return nil
}

func within(root, p string) bool {
	return p == root || strings.HasPrefix(p, root+"/")
}
