package volume

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// fsGroupChangePolicy values (PodSecurityContext.fsGroupChangePolicy).
const (
	FSGroupChangeAlways         = "Always"
	FSGroupChangeOnRootMismatch = "OnRootMismatch"
)

// Permission bits the pod's fsGroup gets, as Kubernetes gives them: read
// (and write, unless the volume is read-only) on every file, and search on
// directories, which are also made setgid so that new files inherit the
// group.
const (
	groupRW   fs.FileMode = 0o660
	groupRO   fs.FileMode = 0o440
	groupExec fs.FileMode = 0o110
)

// ownership is what a pod's fsGroup asks of its volumes: nil when the pod
// sets none.
type ownership struct {
	gid    int
	policy string // FSGroupChangeAlways or FSGroupChangeOnRootMismatch
}

// podOwnership returns the pod's fsGroup and fsGroupChangePolicy (Always
// when unset), or nil.
func podOwnership(pod *corev1.Pod) *ownership {
	sc := pod.GetSpec().GetSecurityContext()
	if sc == nil || sc.FsGroup == nil {
		return nil
	}
	o := &ownership{gid: int(sc.GetFsGroup()), policy: FSGroupChangeAlways}
	if sc.GetFsGroupChangePolicy() == FSGroupChangeOnRootMismatch {
		o.policy = FSGroupChangeOnRootMismatch
	}
	return o
}

// fileMode is the mode of a file the kubelet writes (configMap, secret,
// downwardAPI, projected) under o: readable by the group too.
func (o *ownership) fileMode(m fs.FileMode) fs.FileMode {
	if o == nil {
		return m
	}
	return m | groupRO
}

// chown gives path (not following a symlink) the group, or does nothing
// when o is nil.
func (o *ownership) chown(path string) error {
	if o == nil {
		return nil
	}
	return os.Lchown(path, -1, o.gid)
}

// apply gives the tree at dir to the group, as Kubernetes' volume ownership
// does for emptyDir and local volumes: every entry (symlinks are not
// followed) gets the group, files get group read (and write unless
// readOnly), directories also group search and setgid. With
// OnRootMismatch nothing is done when dir already has the group and
// those permissions.
func (o *ownership) apply(dir string, readOnly bool) error {
	if o == nil {
		return nil
	}
	mask := groupRW
	if readOnly {
		mask = groupRO
	}
	if o.policy == FSGroupChangeOnRootMismatch {
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		want := mask | groupExec | fs.ModeSetgid
		if ok && int(st.Gid) == o.gid && fi.Mode()&want == want {
			return nil
		}
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, -1, o.gid); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		m := fi.Mode() | mask
		if d.IsDir() {
			m |= groupExec | fs.ModeSetgid
		}
		if m == fi.Mode() {
			return nil
		}
		return os.Chmod(p, m&(fs.ModePerm|fs.ModeSetgid|fs.ModeSetuid|fs.ModeSticky))
	})
}
