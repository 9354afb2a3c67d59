package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// A malformed --encryption-provider-config stops the apiserver at start
// with an error naming the file and the field, before it binds a port or
// creates etcd's data directory.
func TestMalformedEncryptionConfigStopsStart(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "encryption.yaml")
	doc := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aesgcm: {keys: [{name: key1, secret: c2hvcnQ=}]}\n"
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "etcd")
	o := &options{encryptionConfig: file, dataDir: dataDir, insecureAddress: "127.0.0.1:0"}
	err := run(context.Background(), o, zap.NewNop())
	if err == nil {
		t.Fatal("the apiserver started")
	}
	for _, want := range []string{"--encryption-provider-config", file, "resources[0].providers[0].aesgcm.keys[0].secret"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("the data directory was touched: %v", err)
	}
}
