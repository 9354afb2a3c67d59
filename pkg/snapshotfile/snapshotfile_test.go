package snapshotfile

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fake is a database of pages pages of junk followed by its sha256.
func fake(pages int) []byte {
	db := bytes.Repeat([]byte{7}, pages*512)
	sum := sha256.Sum256(db)
	return append(db, sum[:]...)
}

func TestVerify(t *testing.T) {
	good := fake(4)
	flipped := bytes.Clone(good)
	flipped[100] ^= 1
	for _, tt := range []struct {
		name string
		data []byte
		want string // "" for a whole snapshot
	}{
		{"whole", good, ""},
		{"truncated", good[:len(good)-100], "truncated?"},
		{"truncated to whole pages", good[:1024+HashSize], "the database's sha256 is"},
		{"no digest", good[:len(good)-HashSize], "truncated?"},
		{"a flipped bit", flipped, "the database's sha256 is"},
		{"empty", nil, "0 bytes"},
	} {
		path := filepath.Join(t.TempDir(), "s.db")
		if err := os.WriteFile(path, tt.data, 0o600); err != nil {
			t.Fatal(err)
		}
		size, err := Verify(path)
		if tt.want == "" {
			if err != nil || size != int64(len(good)) {
				t.Errorf("%s: %d, %v", tt.name, size, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want ErrCorrupt naming %s with %q", tt.name, err, path, tt.want)
		}
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A cut stream, and a check that refuses: path keeps its old
	// content, no .part is left.
	for _, tt := range []struct {
		data  []byte
		check func(string) error
	}{
		{fake(2)[:600], nil},
		{fake(2), func(string) error { return errors.New("no") }},
	} {
		if _, err := Write(bytes.NewReader(tt.data), path, tt.check); err == nil {
			t.Fatal("Write accepted a bad snapshot")
		}
		if b, _ := os.ReadFile(path); string(b) != "old" {
			t.Fatalf("a failed Write changed %s", path)
		}
		if _, err := os.Stat(path + ".part"); !os.IsNotExist(err) {
			t.Fatalf(".part left behind: %v", err)
		}
	}
	good := fake(3)
	size, err := Write(bytes.NewReader(good), path, nil)
	if err != nil || size != int64(len(good)) {
		t.Fatalf("Write: %d, %v", size, err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, good) {
		t.Fatal("the written snapshot differs")
	}
}
