// Package snapshotfile is the file format of an etcd snapshot, as etcd's
// Maintenance.Snapshot streams it and `etcdutl snapshot restore` reads it:
// the member's bbolt database followed by the sha256 of the database's
// bytes. It needs nothing of etcd, so that keelctl, which never imports
// etcd, checks the snapshots it saves with the same code as the
// apiserver. It also names how a snapshot travels from the apiserver to
// keelctl (HTTPPath, RevisionHeader).
package snapshotfile

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// HTTPPath is the non-resource URL on the apiserver's secure port that
// answers GET with a snapshot of its etcd (keelctl etcd snapshot save),
// with Content-Length and RevisionHeader.
const HTTPPath = "/etcd/snapshot"

// RevisionHeader carries the etcd revision the snapshot holds.
const RevisionHeader = "Keel-Etcd-Revision"

// HashSize is the length of the digest that ends a snapshot.
const HashSize = sha256.Size

// pageAlign is what the database's length is a multiple of: bbolt writes
// whole pages, and etcd tells a snapshot that carries a digest by its
// length modulo 512 being HashSize.
const pageAlign = 512

// ErrCorrupt is wrapped by the errors of Verify for a file that is not a
// whole snapshot (truncated, or changed since it was taken).
var ErrCorrupt = errors.New("not a whole etcd snapshot")

// Verify checks that the file at path is a whole etcd snapshot: a database
// whose length is a multiple of 512 bytes, then the sha256 of that
// database. It returns the file's size; its error names path.
func Verify(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size < pageAlign+HashSize || size%pageAlign != HashSize {
		return size, fmt.Errorf("%s: %w: %d bytes is no database of whole pages followed by its %d-byte sha256 (truncated?)", path, ErrCorrupt, size, HashSize)
	}
	h := sha256.New()
	if _, err := io.CopyN(h, f, size-HashSize); err != nil {
		return size, fmt.Errorf("%s: %w", path, err)
	}
	want := make([]byte, HashSize)
	if _, err := io.ReadFull(f, want); err != nil {
		return size, fmt.Errorf("%s: %w", path, err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return size, fmt.Errorf("%s: %w: the database's sha256 is %x, the snapshot says %x", path, ErrCorrupt, got, want)
	}
	return size, nil
}

// Write copies a snapshot from r to path atomically: it writes
// path+".part", fsyncs it, checks it with Verify and then with check (if
// not nil, given the .part file's path), renames it to path and fsyncs the
// directory. On any failure the .part file is removed and path is left as
// it was. It returns the snapshot's size.
func Write(r io.Reader, path string, check func(part string) error) (size int64, err error) {
	part := path + ".part"
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(part)
		}
	}()
	if _, err = io.Copy(f, r); err != nil {
		return 0, fmt.Errorf("receiving the snapshot: %w", err)
	}
	if err = f.Sync(); err != nil {
		return 0, err
	}
	if err = f.Close(); err != nil {
		return 0, err
	}
	if size, err = Verify(part); err != nil {
		return 0, err
	}
	if check != nil {
		if err = check(part); err != nil {
			return 0, err
		}
	}
	if err = os.Rename(part, path); err != nil {
		return 0, err
	}
	return size, syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
