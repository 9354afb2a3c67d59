package volume

import (
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// Stats is the usage of one volume of a pod, as Kubernetes' kubelet
// reports it (the filesystem's capacity, available space and inodes, and
// what the volume's tree uses).
type Stats struct {
	Namespace, Pod, Volume string
	// Claim is the persistentVolumeClaim of the volume, "" for others.
	Claim string

	CapacityBytes, AvailableBytes, UsedBytes int64
	Inodes, InodesFree, InodesUsed           int64
}

// Stats measures the volumes of pod that are set up and have a tree of
// their own: emptyDir, configMap, secret, downwardAPI, projected and
// persistentVolumeClaim volumes (hostPath volumes are not measured, as in
// Kubernetes); a CSI volume whose driver has GET_VOLUME_STATS is measured
// by the driver (NodeGetVolumeStats). Used bytes and inodes come from a walk of the tree (blocks
// allocated, entries), the rest from its filesystem. A volume that cannot
// be measured is left out; it walks every file, so callers should not call
// it more often than about once a minute per pod.
func (m *Manager) Stats(pod *corev1.Pod) []Stats {
	uid := pod.GetMetadata().GetUid()
	var out []Stats
	for _, v := range pod.GetSpec().GetVolumes() {
		name := v.GetName()
		if validName(name) != nil {
			continue
		}
		s := Stats{Namespace: pod.GetMetadata().GetNamespace(), Pod: pod.GetMetadata().GetName(), Volume: name}
		var dir string
		switch {
		case v.GetEmptyDir() != nil:
			dir = m.VolumeDir(uid, KindEmptyDir, name)
		case v.GetConfigMap() != nil:
			dir = m.VolumeDir(uid, KindConfigMap, name)
		case v.GetSecret() != nil:
			dir = m.VolumeDir(uid, KindSecret, name)
		case v.GetDownwardApi() != nil:
			dir = m.VolumeDir(uid, KindDownward, name)
		case v.GetProjected() != nil:
			dir = m.VolumeDir(uid, KindProjected, name)
		case v.GetPersistentVolumeClaim() != nil:
			m.mu.Lock()
			cv := m.claims[uid][name]
			m.mu.Unlock()
			if cv == nil {
				continue
			}
			dir, s.Claim = cv.path, v.GetPersistentVolumeClaim().GetClaimName()
			if cv.csi != nil && cv.csi.Stats {
				// The driver knows its volume's usage (NodeGetVolumeStats).
				if err := m.csiStats(cv.csi, &s); err != nil {
					m.log.Debug("NodeGetVolumeStats: " + err.Error())
					continue
				}
				out = append(out, s)
				continue
			}
		default:
			continue
		}
		if err := measure(dir, &s); err != nil {
			m.log.Debug("measuring a volume: " + err.Error())
			continue
		}
		out = append(out, s)
	}
	return out
}

// measure fills s from the filesystem of dir and a walk of its tree (not
// following symlinks, nor crossing into other filesystems).
func measure(dir string, s *Stats) error {
	var fsst syscall.Statfs_t
	if err := syscall.Statfs(dir, &fsst); err != nil {
		return err
	}
	bsize := int64(fsst.Bsize)
	s.CapacityBytes = int64(fsst.Blocks) * bsize
	s.AvailableBytes = int64(fsst.Bavail) * bsize
	s.Inodes, s.InodesFree = int64(fsst.Files), int64(fsst.Ffree)
	var root syscall.Stat_t
	if err := syscall.Stat(dir, &root); err != nil {
		return err
	}
	seen := map[uint64]bool{} // hard links count once
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // removed meanwhile
				return nil
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if st.Dev != root.Dev { // a mount inside the volume
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if seen[st.Ino] {
			return nil
		}
		seen[st.Ino] = true
		s.InodesUsed++
		s.UsedBytes += st.Blocks * 512
		return nil
	})
}
