package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// KindSubPaths is the directory under a pod's directory holding the bind
// mounts of its containers' subPaths:
// <pod dir>/volume-subpaths/<volume>/<container>/<mount index>.
const KindSubPaths = "volume-subpaths"

// pinSubPath bind-mounts the subPath real (a path inside the volume whose
// real root is realRoot, as subPath resolved it) at the kubelet's own
// path for mount index of container of pod uid, and returns that path, so
// that the container mounts what was checked, as Kubernetes does: the
// path is opened one element at a time without following any symlink (a
// symlink swapped in since the check fails the open), and the open file is
// what gets bind-mounted. A bind left by an earlier instance of the
// container is replaced.
func (m *Manager) pinSubPath(uid, volName, container string, index int, realRoot, real string) (string, error) {
	fd, err := openNoFollow(realRoot, real)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", err
	}
	target := filepath.Join(m.PodDir(uid), KindSubPaths, volName, container, strconv.Itoa(index))
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
		return "", err
	}
	if err := unmountAll(target); err != nil {
		return "", err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := os.RemoveAll(target); err != nil {
			return "", err
		}
		if err := os.Mkdir(target, 0o750); err != nil {
			return "", err
		}
	} else {
		if err := os.RemoveAll(target); err != nil {
			return "", err
		}
		f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o640)
		if err != nil {
			return "", err
		}
		f.Close()
	}
	src := "/proc/self/fd/" + strconv.Itoa(fd)
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("bind-mounting the subPath at %s: %v", target, err)
	}
	return target, nil
}

// openNoFollow opens p (below root, both real paths) with O_PATH, one
// element at a time from root, refusing symlinks.
func openNoFollow(root, p string) (int, error) {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return -1, errors.New("leaves the volume")
	}
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("opening %s: %v", root, err)
	}
	if rel == "." {
		return fd, nil
	}
	for _, el := range strings.Split(rel, "/") {
		next, err := unix.Openat(fd, el, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, fmt.Errorf("opening %s of the subPath: %v", el, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(next, &st); err != nil {
			unix.Close(next)
			return -1, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			unix.Close(next)
			return -1, fmt.Errorf("%s of the subPath changed into a symlink", el)
		}
		fd = next
	}
	return fd, nil
}

// unmountAll removes every mount at (or below) path, a subPath pin (a bind
// of the same filesystem is invisible to isMountPoint, so mountinfo is
// read).
func unmountAll(path string) error {
	for {
		mps, err := mountsUnder(path)
		if err != nil {
			return err
		}
		if len(mps) == 0 {
			return nil
		}
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmounting the earlier subPath bind %s: %v", path, err)
		}
	}
}
