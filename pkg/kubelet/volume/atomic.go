package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Names the atomic writer uses inside a volume directory. Every name it
// owns starts with "..", which no file of the payload may (checkPath).
const (
	dataDirName    = "..data"
	dataDirTmpName = "..data_tmp"
)

// writeAtomic makes dir hold exactly files, so that a reader never sees a
// mix of old and new files, as Kubernetes' atomic writer does:
//
//	dir/..2025_01_02_15_04_05.123456789.<random>/   the files of one version
//	dir/..data -> ..2025_…                          the current version
//	dir/<name> -> ..data/<name>                     each top-level entry
//
// A new version is written to a fresh timestamped directory, then ..data is
// switched to it with one rename (atomic), then the top-level links are
// added or removed and the old version deleted. Containers mount dir and
// follow the links, so they see the switch at once. Nothing is written
// when the current version already holds files (same paths, contents and
// modes).
//
// With o (the pod's fsGroup), every file and directory gets its group,
// files are group-readable too and directories setgid, as Kubernetes'
// volume ownership leaves them.
func writeAtomic(dir string, files map[string]file, o *ownership) error {
	if o != nil {
		owned := make(map[string]file, len(files))
		for p, f := range files {
			owned[p] = file{f.data, o.fileMode(f.mode)}
		}
		files = owned
	}
	current, err := os.Readlink(filepath.Join(dir, dataDirName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if current != "" && sameFiles(filepath.Join(dir, current), files) {
		return topLevelLinks(dir, files) // repair links, normally a no-op
	}
	if err := ownDir(dir, o); err != nil {
		return err
	}

	ts := time.Now().UTC().Format("2006_01_02_15_04_05.000000000")
	version, err := os.MkdirTemp(dir, ".."+ts+".")
	if err != nil {
		return err
	}
	if err := ownDir(version, o); err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.RemoveAll(version)
		}
	}()
	for p, f := range files {
		full := filepath.Join(version, p)
		if err := mkdirOwned(version, filepath.Dir(p), o); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.data, f.mode); err != nil {
			return err
		}
		if err := o.chown(full); err != nil {
			return err
		}
		// WriteFile's mode is subject to the umask.
		if err := os.Chmod(full, f.mode); err != nil {
			return err
		}
	}

	tmp := filepath.Join(dir, dataDirTmpName)
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(version), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataDirName)); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	ok = true
	if err := topLevelLinks(dir, files); err != nil {
		return err
	}
	// The old version, and any left by an interrupted earlier write.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "..") && n != dataDirName && n != filepath.Base(version) {
			if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ownDir gives a directory of an atomically written volume its mode
// (0755), and with o its group and setgid.
func ownDir(dir string, o *ownership) error {
	if o == nil {
		return os.Chmod(dir, 0o755)
	}
	if err := o.chown(dir); err != nil {
		return err
	}
	return os.Chmod(dir, 0o755|fs.ModeSetgid)
}

// mkdirOwned makes the directories of rel (a relative path, "." for none)
// below base, each new one with ownDir.
func mkdirOwned(base, rel string, o *ownership) error {
	if rel == "." {
		return nil
	}
	cur := base
	for _, el := range strings.Split(filepath.ToSlash(rel), "/") {
		cur = filepath.Join(cur, el)
		if err := os.Mkdir(cur, 0o755); errors.Is(err, fs.ErrExist) {
			continue
		} else if err != nil {
			return err
		}
		if err := ownDir(cur, o); err != nil {
			return err
		}
	}
	return nil
}

// topLevelLinks makes dir/<first path element> a link into ..data for each
// file, and removes the user-visible entries no file needs any more.
func topLevelLinks(dir string, files map[string]file) error {
	want := map[string]bool{}
	for p := range files {
		first, _, _ := strings.Cut(filepath.ToSlash(p), "/")
		want[first] = true
	}
	for name := range want {
		link := filepath.Join(dir, name)
		target := filepath.Join(dataDirName, name)
		if have, err := os.Readlink(link); err == nil && have == target {
			continue
		}
		_ = os.RemoveAll(link)
		if err := os.Symlink(target, link); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") || want[e.Name()] {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// sameFiles tells whether version holds exactly files.
func sameFiles(version string, files map[string]file) bool {
	n := 0
	err := filepath.WalkDir(version, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(version, p)
		if err != nil {
			return err
		}
		f, ok := files[rel]
		if !ok {
			return fmt.Errorf("extra file %s", rel)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm() != f.mode.Perm() || !info.Mode().IsRegular() || info.Size() != int64(len(f.data)) {
			return fmt.Errorf("changed %s", rel)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(b, f.data) {
			return fmt.Errorf("changed %s", rel)
		}
		n++
		return nil
	})
	return err == nil && n == len(files)
}
