package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/kubelet/envvars"
)

// setupProjected writes a projected volume: the files of all its sources
// in one directory (a tmpfs, as it may hold secrets and tokens), written
// atomically. Each file's mode is its item's, else the volume's
// defaultMode (0644).
//
//   - secret / configMap: as a secret / configMap volume's files (all
//     keys, or the items), a missing object being an error unless optional;
//   - downwardAPI: for each item, the pod field fieldRef names
//     (metadata.name, metadata.namespace, metadata.uid, metadata.labels,
//     metadata.annotations — "key=\"value\"" lines sorted by key —, or
//     metadata.labels['KEY'] / metadata.annotations['KEY']), or the
//     container resource resourceFieldRef names (containerName required);
//   - serviceAccountToken: a token of the pod's service account bound to
//     the pod, for audience (default the apiserver's), from the Getter,
//     which keeps it fresh.
//
// Two sources may not project the same path.
func (m *Manager) setupProjected(ctx context.Context, pod *corev1.Pod, name string, src *corev1.ProjectedVolumeSource, own *ownership) (string, error) {
	mode, err := defaultMode(src.DefaultMode)
	if err != nil {
		return "", err
	}
	files := map[string]file{}
	add := func(more map[string]file) error {
		for p, f := range more {
			if _, dup := files[p]; dup {
				return fmt.Errorf("path %q is projected twice", p)
			}
			files[p] = f
		}
		return nil
	}
	ns := pod.GetMetadata().GetNamespace()
	for i, s := range src.GetSources() {
		var more map[string]file
		var err error
		switch {
		case s.GetSecret() != nil:
			sec := s.GetSecret()
			var data map[string][]byte
			if data, err = m.secretData(ns, sec.GetName(), sec.GetOptional()); err == nil {
				more, err = payload("secret", sec.GetName(), data, sec.GetItems(), src.DefaultMode, sec.GetOptional())
			}
		case s.GetConfigMap() != nil:
			cm := s.GetConfigMap()
			var data map[string][]byte
			if data, err = m.configMapData(ns, cm.GetName(), cm.GetOptional()); err == nil {
				more, err = payload("configmap", cm.GetName(), data, cm.GetItems(), src.DefaultMode, cm.GetOptional())
			}
		case s.GetDownwardApi() != nil:
			more, err = m.downwardFiles(pod, s.GetDownwardApi().GetItems(), mode)
		case s.GetServiceAccountToken() != nil:
			more, err = m.serviceAccountToken(ctx, pod, s.GetServiceAccountToken(), mode)
		default:
			err = errors.New("no supported source (secret, configMap, downwardAPI, serviceAccountToken)")
		}
		if err == nil {
			err = add(more)
		}
		if err != nil {
			return "", fmt.Errorf("sources[%d]: %w", i, err)
		}
	}
	dir := m.VolumeDir(pod.GetMetadata().GetUid(), KindProjected, name)
	if err := m.ensureTmpfs(dir, 0, 0o755); err != nil {
		return "", err
	}
	if err := writeAtomic(dir, files, own); err != nil {
		return "", err
	}
	return dir, nil
}

// setupDownwardAPI writes a downwardAPI volume: a tmpfs (as Kubernetes
// keeps it in memory) holding one file per item, written atomically, so a
// change of the pod's labels or annotations is one switch for readers.
func (m *Manager) setupDownwardAPI(pod *corev1.Pod, name string, src *corev1.DownwardAPIVolumeSource, own *ownership) (string, error) {
	mode, err := defaultMode(src.DefaultMode)
	if err != nil {
		return "", err
	}
	files, err := m.downwardFiles(pod, src.GetItems(), mode)
	if err != nil {
		return "", err
	}
	dir := m.VolumeDir(pod.GetMetadata().GetUid(), KindDownward, name)
	if err := m.ensureTmpfs(dir, 0, 0o755); err != nil {
		return "", err
	}
	if err := writeAtomic(dir, files, own); err != nil {
		return "", err
	}
	return dir, nil
}

// downwardFiles returns the files of downward API items (of a downwardAPI
// volume or projection), mode being the default: each holds the pod field
// its fieldRef names (metadata.name, metadata.namespace, metadata.uid,
// metadata.labels, metadata.annotations — "key=\"value\"" lines sorted by
// key —, or metadata.labels['KEY'] / metadata.annotations['KEY']), or the
// container resource its resourceFieldRef names (containerName required; a
// limit the container does not set is the node's allocatable amount).
func (m *Manager) downwardFiles(pod *corev1.Pod, items []*corev1.DownwardAPIVolumeFile, mode fs.FileMode) (map[string]file, error) {
	files := map[string]file{}
	for _, it := range items {
		p := it.GetPath()
		if err := checkPath(p); err != nil {
			return nil, fmt.Errorf("downwardAPI path %q: %v", p, err)
		}
		var v string
		var err error
		switch {
		case it.GetFieldRef() != nil:
			v, err = podField(pod, it.GetFieldRef().GetFieldPath())
		case it.GetResourceFieldRef() != nil:
			v, err = envvars.ResourceValue(pod, nil, it.GetResourceFieldRef(), m.getter)
		default:
			err = errors.New("neither fieldRef nor resourceFieldRef")
		}
		if err != nil {
			return nil, fmt.Errorf("downwardAPI %q: %v", p, err)
		}
		fm := mode
		if it.Mode != nil {
			if *it.Mode < 0 || *it.Mode > 0o777 {
				return nil, fmt.Errorf("downwardAPI %q: mode %#o is out of range (0 to 0777)", p, *it.Mode)
			}
			fm = fs.FileMode(*it.Mode)
		}
		files[filepath.Clean(p)] = file{[]byte(v), fm}
	}
	return files, nil
}

// podField is the content of a downwardAPI file of the pod's metadata.
func podField(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.labels":
		return formatMap(pod.GetMetadata().GetLabels()), nil
	case "metadata.annotations":
		return formatMap(pod.GetMetadata().GetAnnotations()), nil
	case "metadata.name", "metadata.namespace", "metadata.uid":
	default:
		if !strings.HasPrefix(path, "metadata.labels[") && !strings.HasPrefix(path, "metadata.annotations[") {
			return "", fmt.Errorf("unsupported fieldRef fieldPath %q (metadata.name, metadata.namespace, metadata.uid, metadata.labels, metadata.annotations)", path)
		}
	}
	return envvars.FieldValue(pod, path, "", "")
}

// formatMap writes a map as Kubernetes' downward API does: one
// key="value" line per entry (the value quoted as in Go), sorted by key.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + strconv.Quote(m[k])
	}
	return strings.Join(lines, "\n")
}

func (m *Manager) serviceAccountToken(ctx context.Context, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection, mode fs.FileMode) (map[string]file, error) {
	p := src.GetPath()
	if err := checkPath(p); err != nil {
		return nil, fmt.Errorf("serviceAccountToken path %q: %v", p, err)
	}
	secs := src.GetExpirationSeconds()
	if src.ExpirationSeconds == nil {
		secs = DefaultTokenExpirationSeconds
	}
	tok, err := m.getter.ServiceAccountToken(ctx, pod, src.GetAudience(), secs)
	if err != nil {
		return nil, err
	}
	return map[string]file{filepath.Clean(p): {[]byte(tok), mode}}, nil
}
