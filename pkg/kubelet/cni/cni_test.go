package cni

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestConflistGolden(t *testing.T) {
	tests := []struct {
		golden string
		config Config
	}{
		{"ipv4-default.conflist", Config{PodCIDR: "10.244.7.0/24"}},
		{"ipv4-options.conflist", Config{
			PodCIDR:     "10.244.128.0/17",
			BridgeName:  "keel-e2e0",
			NetworkName: "keel-e2e",
			MTU:         1450,
			IPAMDataDir: "/tmp/keel/ipam",
		}},
		{"ipv6.conflist", Config{PodCIDR: "fd00:10:244:7::/64"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := Conflist(tt.config)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("Conflist(%+v) differs from %s:\n%s", tt.config, path, got)
			}
			var v map[string]any
			if err := json.Unmarshal(got, &v); err != nil {
				t.Errorf("not JSON: %v", err)
			}
		})
	}
}

func TestConflistErrors(t *testing.T) {
	tests := []struct {
		name   string
		config Config
		want   string
	}{
		{"empty", Config{}, "podCIDR"},
		{"garbage", Config{PodCIDR: "ten"}, "podCIDR"},
		{"host bits", Config{PodCIDR: "10.244.7.1/24"}, "did you mean 10.244.7.0/24"},
		{"too small", Config{PodCIDR: "10.244.7.0/31"}, "too small"},
		{"long bridge", Config{PodCIDR: "10.244.7.0/24", BridgeName: "a-very-long-bridge"}, "15 bytes"},
		{"negative mtu", Config{PodCIDR: "10.244.7.0/24", MTU: -1}, "MTU"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Conflist(tt.config)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Conflist(%+v) error = %v, want one containing %q", tt.config, err, tt.want)
			}
		})
	}
}

func TestWriteConflist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net.d")
	c := Config{PodCIDR: "10.244.7.0/24"}
	path, err := WriteConflist(dir, c)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, ConflistFileName) {
		t.Errorf("path = %s", path)
	}
	// Rewriting replaces the file and leaves nothing else behind.
	c.MTU = 1400
	if _, err := WriteConflist(dir, c); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Conflist(c)
	if string(got) != string(want) {
		t.Errorf("file content:\n%s\nwant:\n%s", got, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("conf dir holds %d entries, want 1", len(entries))
	}
	if _, err := WriteConflist(dir, Config{}); err == nil {
		t.Error("WriteConflist accepted an empty podCIDR")
	}
}
