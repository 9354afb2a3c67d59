package api

import "testing"

func TestLocalPathDirUnder(t *testing.T) {
	root := "/var/lib/keel/storage"
	for _, tc := range []struct {
		root, dir string
		want      bool
	}{
		{root, LocalPathDir(root, "u1", "default", "data"), true},
		{root, root, false},
		{root, root + "/pvc-", false},
		{root, root + "/other", false},
		{root, root + "/pvc-u1/../../etc", false},
		{root, "/etc/pvc-u1", false},
		{root, root + "/a/pvc-u1", false},
		{"/", "/pvc-u1", false},
		{"relative", "relative/pvc-u1", false},
		{root + "/", root + "/pvc-u1", false},
	} {
		if got := LocalPathDirUnder(tc.root, tc.dir); got != tc.want {
			t.Errorf("LocalPathDirUnder(%q, %q) = %v, want %v", tc.root, tc.dir, got, tc.want)
		}
	}
	if got := LocalPathDir(root, "u1", "ns", "n"); got != root+"/pvc-u1_ns_n" {
		t.Errorf("LocalPathDir = %q", got)
	}
}
