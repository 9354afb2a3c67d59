package replace_test

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/encryptionconfig"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
)

func rbac(cfg *apiserver.Config) {
	cfg.AuthorizationModes = slices.Clone(apiserver.DefaultAuthorizationModes)
}

func TestReplace(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartClusterWith(t, rbac)
	ctx := k.Ctx()
	dir := t.TempDir()
	cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "settings", Namespace: "default", Labels: map[string]string{"a": "b"}}, Data: map[string]string{"color": "red"}}
	created, err := k.C.ConfigMaps("default").Create(ctx, cm, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// The manifest replaces the whole object: the label is gone.
	f := keelctltest.Write(t, dir, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: blue}\n")
	if out := k.Run("replace", "-f", f).OK(t); out != "configmap/settings replaced\n" {
		t.Fatalf("replace: %q", out)
	}
	got, err := k.C.ConfigMaps("default").Get(ctx, "settings")
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["color"] != "blue" || len(got.Metadata.Labels) != 0 || got.Metadata.Uid != created.Metadata.Uid {
		t.Fatalf("after replace: %v", got)
	}

	// A manifest's resourceVersion is a precondition.
	stale := keelctltest.Write(t, dir, "stale.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, resourceVersion: \""+created.Metadata.ResourceVersion+"\"}\ndata: {color: green}\n")
	k.Run("replace", "-f", stale).Fails(t, `Error from server (Conflict): error when replacing "`+stale+`"`)
	missing := keelctltest.Write(t, dir, "missing.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nope}\n")
	k.Run("replace", "-f", missing).Fails(t, `Error from server (NotFound): error when replacing "`+missing+`": configmaps "nope" not found`)
	k.Run("replace", "-f", f, "-n", "kube-system", "--dry-run=client").OK(t)
	k.Run("replace").Fails(t, "must specify -f")
	if got, _ := k.C.ConfigMaps("default").Get(ctx, "settings"); got.Data["color"] != "blue" {
		t.Fatalf("a failed or dry-run replace changed the object: %v", got.Data)
	}
}

// TestReplaceReencryptsAfterKeyRotation follows docs/encryption.md's key
// rotation with keelctl: add the new key second, restart, move it first,
// restart, rewrite every Secret, drop the old key, restart.
func TestReplaceReencryptsAfterKeyRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keys := map[string]string{
		"key1": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32)),
		"key2": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32)),
	}
	var enc *encryptionconfig.Config
	configure := func(names ...string) {
		doc := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aesgcm:\n      keys:\n"
		for _, n := range names {
			doc += "      - name: " + n + "\n        secret: " + keys[n] + "\n"
		}
		file := filepath.Join(dir, "encryption.yaml")
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		var err error
		if enc, err = encryptionconfig.Load(file, apiserver.StoredResources()); err != nil {
			t.Fatal(err)
		}
	}
	configure("key1")
	k := keelctltest.StartClusterWith(t, func(cfg *apiserver.Config) {
		rbac(cfg)
		cfg.Encryption = enc
	})
	ctx := k.Ctx()
	want := map[string]string{"default/db": "p1", "kube-system/token": "p2"}
	for key, v := range want {
		ns, name, _ := strings.Cut(key, "/")
		s := &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: name}, Data: map[string][]byte{"password": []byte(v)}}
		if _, err := k.C.Secrets(ns).Create(ctx, s, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	stored := func() map[string]string {
		resp, err := k.Etcd().Get(ctx, "/keel/secrets/", clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, kv := range resp.Kvs {
			out[strings.TrimPrefix(string(kv.Key), "/keel/secrets/")] = string(kv.Value[:len("k8s:enc:aesgcm:v1:keyN:")])
		}
		return out
	}
	for key, p := range stored() {
		if p != "k8s:enc:aesgcm:v1:key1:" {
			t.Fatalf("%s stored as %q", key, p)
		}
	}

	configure("key1", "key2")
	k.Restart()
	configure("key2", "key1")
	k.Restart()
	list := k.Run("get", "secrets", "--all-namespaces", "-o", "json").OK(t)
	out := k.RunWith(keelctltest.RunOpts{Stdin: list}, "replace", "-f", "-").OK(t)
	keelctltest.MustHaveLines(t, out, "secret/db replaced", "secret/token replaced")
	for key, p := range stored() {
		if p != "k8s:enc:aesgcm:v1:key2:" {
			t.Errorf("after the rewrite %s is stored as %q", key, p)
		}
	}

	configure("key2")
	k.Restart()
	for key, v := range want {
		ns, name, _ := strings.Cut(key, "/")
		s, err := k.C.Secrets(ns).Get(ctx, name)
		if err != nil || string(s.Data["password"]) != v {
			t.Errorf("%s after dropping key1: %v %v", key, s, err)
		}
	}
	k.Run("get", "secrets", "-A").OK(t)
}
